import pytest

from stix.models import values as v


@pytest.mark.parametrize("text, expected", [
    ("aws", v.Infra("aws")), ("gcp/us-central1", v.Infra("gcp", "us-central1")),
    ("aws/us-east-1/us-east-1a", v.Infra("aws", "us-east-1", "us-east-1a")),
    ("k8s", v.Infra("kubernetes")), ("k8s/my-ctx", v.Infra("kubernetes", "my-ctx")),
    ("kubernetes/a/b", v.Infra("kubernetes", "a/b")), ("ssh/pool1", v.Infra("ssh", "pool1")),
    ("*/us-east-1", v.Infra(None, "us-east-1")), ("aws/*/us-east-1a", v.Infra("aws", None, "us-east-1a")),
    ("AWS", v.Infra("aws")), ("local", v.Infra("local")),
])
def test_infra(text, expected):
    assert v.parse_infra(text) == expected


@pytest.mark.parametrize("value, expected, ordered", [
    ("H100:8", [("H100", 8)], False), ("h100", [("H100", 1)], False), ("A100-80GB:4", [("A100-80GB", 4)], False),
    ({"A100": 8}, [("A100", 8)], False), (["V100", "T4:2"], [("V100", 1), ("T4", 2)], True),
    ({"L4:8": None, "A10g:8": None}, [("L4", 8), ("A10G", 8)], False), ({"T4", "L4"}, None, False),
    ("T4:0.5", [("T4", 0.5)], False), ("tpu-v5e-16", [("tpu-v5e-16", 1)], False),
])
def test_accelerators(value, expected, ordered):
    parsed = v.parse_accelerators(value)
    choices, got_ordered = parsed.choices, parsed.ordered
    if expected is not None:
        assert [(a.name, a.count) for a in choices] == expected
    assert got_ordered == ordered


@pytest.mark.parametrize("value, amount, at_least", [(4, 4, False), ("4+", 4, True), ("0.5", 0.5, False), (2.5, 2.5, False)])
def test_cpus(value, amount, at_least):
    assert v.parse_cpus(value) == v.Amount(amount, at_least)


@pytest.mark.parametrize("value, gib, at_least, per_cpu", [
    (16, 16, False, None), ("16+", 16, True, None), ("32GB", 32, False, None), ("1TB", 1024, False, None),
    ("512MB", 0.5, False, None), ("4x", None, True, 4.0), ("64GiB+", 64, True, None),
])
def test_memory(value, gib, at_least, per_cpu):
    assert v.parse_memory(value) == v.Memory(gib, at_least, per_cpu)


@pytest.mark.parametrize("value, gib", [(256, 256), ("256", 256), ("256GB", 256), ("1TB", 1024), ("2 TB", 2048)])
def test_disk_size(value, gib):
    assert v.parse_disk_size(value).gib == gib


@pytest.mark.parametrize("value, ranges", [
    (8080, [(8080, 8080)]), ("10020-10040", [(10020, 10040)]), ([22, "8000-8002"], [(22, 22), (8000, 8002)]),
])
def test_ports(value, ranges):
    assert list(v.parse_ports(value).ranges) == ranges


@pytest.mark.parametrize("value, expected", [
    (True, v.Autostop(True)), (False, v.Autostop(False)), (10, v.Autostop(True, 10)),
    ("10h", v.Autostop(True, 600)), ("30m", v.Autostop(True, 30)), ("1d", v.Autostop(True, 1440)),
    ("90s", v.Autostop(True, 2)),
])
def test_autostop(value, expected):
    assert v.parse_autostop(value) == expected


def test_autostop_dict_setting():
    from stix.models.resources import Resources

    r = Resources.model_validate({"autostop": {"idle_minutes": "2h", "down": True, "wait_for": "jobs"}})
    assert r.autostop == v.Autostop(True, 120, True, "jobs")


@pytest.mark.parametrize("bad", ["H100:", "H100:-1", "Z900:1", ""])
def test_bad_accelerators(bad):
    with pytest.raises(ValueError):
        v.parse_accelerators(bad)
