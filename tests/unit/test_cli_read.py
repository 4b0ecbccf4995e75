"""The commands that read, through the real command line: SkyPilot's status columns and JSON records,
--ip, --format json everywhere, and planning over clouds without credentials (--clouds)."""

import json

import pytest

from stix import index as idx
from stix.cluster_jobs import save_info
from stix.home import StixHome
from stix.spec import ClusterInfo, NodeInfo
from tests.unit.test_cli import one_line_error

A100 = "resources:\n  accelerators: A100:8\nrun: python train.py\n"


@pytest.fixture
def a100(tmp_path):
    path = tmp_path / "a100.yaml"
    path.write_text(A100)
    return path


def nothing_changed(stix, stix_home):
    assert stix("status").stdout.strip() == "No clusters."
    assert not (stix_home / "clusters").exists() and not (stix_home / "state").exists()


def record(name: str, status: str = idx.UP, autostop=None):
    index = idx.ClusterIndex(StixHome.from_env().index_db)
    index.upsert(name, "aws", 2, status, None, None, "2x aws(g5.xlarge, A10G:1)", 2.012)
    if autostop:
        index.set_autostop(name, autostop)


# --- bad input: one line, non-zero, nothing changed ----------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ("status", "--format", "yaml"), ("queue", "--format", "yaml"), ("gpus", "--format", "yaml"),
    ("check", "--format", "yaml"), ("gpus", "A100", "--clouds", "nosuchcloud"), ("check", "nosuchcloud"),
    ("status", "--ip"), ("status", "--ip", "a", "b"), ("logs", "c", "--sync-down", "--tail", "3"),
])
def test_bad_flags(stix, stix_home, argv):
    line = one_line_error(stix(*argv))
    assert stix(*argv).returncode == 2
    assert any(word in line for word in ("--format 'yaml'", "nosuchcloud", "--ip", "--sync-down")), line
    nothing_changed(stix, stix_home)


@pytest.mark.parametrize("command", ["optimize", "preview"])
def test_bad_format_and_clouds_on_a_task(stix, stix_home, a100, command):
    assert "--format 'yaml'" in one_line_error(stix(command, str(a100), "--format", "yaml"))
    line = one_line_error(stix(command, str(a100), "--clouds", "nosuchcloud"))
    assert line == ("stix: error: --clouds 'nosuchcloud': not a cloud; expected all, or a comma list of "
                    "local, aws, gcp, azure, kubernetes, ssh")
    nothing_changed(stix, stix_home)


def test_status_ip_of_a_missing_cluster(stix, stix_home):
    result = stix("status", "--ip", "missing")
    assert result.returncode == 1
    assert one_line_error(result) == "stix: error: cluster 'missing' not found (stix status lists clusters)"
    nothing_changed(stix, stix_home)


def test_status_ip_of_a_stopped_cluster(stix, stix_home):
    record("c", idx.STOPPED)
    result = stix("status", "--ip", "c")
    assert result.returncode == 1 and "is STOPPED, not UP" in one_line_error(result)


def test_status_of_an_unknown_name(stix, stix_home):
    record("c")
    assert one_line_error(stix("status", "c", "nope")) == ("stix: error: cluster(s) not found: nope "
                                                            "(stix status lists clusters)")


# --- status ------------------------------------------------------------------------------------------------


def test_status_json_has_skypilots_keys(stix, stix_home):
    record("train", autostop="10m (down)")
    record("dev")
    result = stix("status", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    train = rows["train"]
    assert train["resources_str"] == "2x aws(g5.xlarge, A10G:1)" and train["hourly_cost"] == 2.012
    assert (train["status"], train["autostop"], train["to_down"]) == ("UP", 10, True)
    assert (rows["dev"]["autostop"], rows["dev"]["to_down"]) == (-1, False)
    assert isinstance(train["launched_at"], int)


def test_status_table_has_skypilots_columns(stix, stix_home):
    record("train", autostop="10m (down)")
    out = stix("status").stdout
    header = next(line for line in out.splitlines() if "NAME" in line)
    columns = [c.strip() for c in header.strip("┃│ ").split("┃")]
    assert columns == ["NAME", "LAUNCHED", "RESOURCES", "STATUS", "AUTOSTOP", "$/HR"]
    row = next(line for line in out.splitlines() if "train" in line)
    for cell in ("a few secs ago", "2x aws(g5.xlarge, A10G:1)", "UP", "10m (down)", "$2.01"):
        assert cell in row


def test_status_through_a_pipe_keeps_wide_rows_whole(stix, stix_home):
    index = idx.ClusterIndex(StixHome.from_env().index_db)
    resources = "16x aws(p5en.48xlarge, H200:8, disk=2048 GB, spot, us-east-1/us-east-1a)"
    index.upsert("a-training-cluster-with-a-long-name", "aws", 16, idx.UP, None, None, resources, 84.76)
    index.set_autostop("a-training-cluster-with-a-long-name", "30m (down)")
    out = stix("status").stdout  # a pipe: rich alone would lay this out in 80 columns
    row = next(line for line in out.splitlines() if "a-training-cluster-with-a-long-name" in line)
    assert "…" not in out and resources in row and "30m (down)" in row and len(row) > 80


def test_status_names_and_globs_limit_the_rows(stix, stix_home):
    for name in ("dev-1", "dev-2", "train"):
        record(name)
    names = lambda *argv: [r["name"] for r in json.loads(stix("status", *argv, "--format", "json").stdout)]  # noqa: E731
    assert names("train") == ["train"]
    assert names("dev-*") == ["dev-1", "dev-2"]
    assert names() == ["dev-1", "dev-2", "train"]


def test_status_ip_prints_the_heads_address(stix, stix_home):
    record("c")
    nodes = tuple(NodeInfo(f"c-{n}", rank, f"127.0.0.{rank + 7}", 22, "u", "ssh-ed25519 AAAA", "/h")
                  for rank, n in enumerate(("head", "worker1")))
    save_info(StixHome.from_env(), ClusterInfo("c", "aws", nodes, "/key"))
    result = stix("status", "--ip", "c")
    assert (result.returncode, result.stdout) == (0, "127.0.0.7\n")


# --- planning without credentials ---------------------------------------------------------------------------


def test_up_on_a_cloud_without_credentials_is_refused(stix, stix_home, a100):
    result = stix("up", "-y", str(a100))
    assert result.returncode == 3
    line = one_line_error(result)
    assert "enabled clouds are local" in line
    nothing_changed(stix, stix_home)


def test_optimize_without_credentials_names_clouds_all(stix, a100):
    line = one_line_error(stix("optimize", str(a100)))
    assert "but enabled clouds are local" in line and "--clouds all" in line


def test_optimize_over_every_cloud_marks_credentials(stix, a100):
    result = stix("optimize", str(a100), "--clouds", "all")
    assert result.returncode == 0, result.stderr
    assert "CREDENTIALS" in result.stdout and "No credentials for" in result.stdout
    data = json.loads(stix("optimize", str(a100), "--clouds", "all", "--format", "json").stdout)
    assert {c["cloud"] for c in data["candidates"]} == {"aws", "gcp", "azure"}
    assert all(c["credentials"] is False and c["accelerators"] == {"A100": 8} for c in data["candidates"])
    assert data["chosen"] == data["candidates"][0] and data["chosen"]["hourly_cost"] > 0


def test_optimize_over_named_clouds_only(stix, a100):
    data = json.loads(stix("optimize", str(a100), "--clouds", "gcp", "--format", "json").stdout)
    assert {c["cloud"] for c in data["candidates"]} == {"gcp"}


def test_optimize_json_on_the_local_cloud(stix, tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("run: echo hi\n")
    data = json.loads(stix("optimize", str(path), "--format", "json").stdout)
    assert data["chosen"]["cloud"] == "local" and data["chosen"]["credentials"] is True


@pytest.mark.parametrize("cloud, instance_type", [("aws", "aws:ec2/instance:Instance"),
                                                  ("gcp", "gcp:compute/instance:Instance"),
                                                  ("azure", "azure-native:compute:VirtualMachine")])
def test_preview_on_a_cloud_without_credentials_is_planned(stix, stix_home, tmp_path, cloud, instance_type):
    path = tmp_path / "two.yaml"
    path.write_text("num_nodes: 2\nresources:\n  accelerators: A100:8\nrun: python train.py\n")
    result = stix("preview", str(path), "--clouds", cloud, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["planned"] == f"planned (no engine preview: no credentials for {cloud})"
    vms = [r for r in report["resources"] if r["type"] == instance_type]
    assert len(vms) == 2 and all(r["op"] == "create" for r in vms)
    assert report["cost_per_hour"]["after"] > 0 and report["has_changes"]
    nothing_changed(stix, stix_home)


def test_preview_over_every_cloud_text_and_markdown(stix, stix_home, a100):
    text = stix("preview", str(a100), "--clouds", "all")
    assert text.returncode == 0, text.stderr
    # A100:8 is cheapest on aws since its 2025 price cut (p4d.24xlarge $21.96/hr against azure's $27.20)
    assert "Planned (no engine preview: no credentials for aws)" in text.stdout
    assert "Plan: " in text.stdout and "to create" in text.stdout
    markdown = stix("preview", str(a100), "--clouds", "all", "--format", "markdown").stdout
    assert "_planned (no engine preview: no credentials for aws)_" in markdown
    assert "`aws:ec2/instance:Instance`" in markdown
    nothing_changed(stix, stix_home)


# --- gpus and check ---------------------------------------------------------------------------------------


def test_gpus_json_and_clouds(stix):
    offers = json.loads(stix("gpus", "A100:8", "--format", "json").stdout)
    assert offers and all(o["accelerator"] == "A100" and o["count"] == 8 for o in offers)
    assert {o["credentials"] for o in offers} == {False}
    only = json.loads(stix("gpus", "A100:8", "--clouds", "aws", "--format", "json").stdout)
    assert {o["cloud"] for o in only} == {"aws"}
    table = stix("gpus", "A100:8", "--clouds", "all").stdout
    assert "CREDENTIALS" in table
    summary = json.loads(stix("gpus", "--format", "json").stdout)
    a100 = next(row for row in summary if row["accelerator"] == "A100")
    assert 8 in a100["counts"] and "aws" in a100["clouds"]


def test_gpus_summary_for_some_clouds_lists_only_their_quantities(stix, monkeypatch):
    import stix.catalog.load as load

    summary = json.loads(stix("gpus", "--clouds", "aws", "--format", "json").stdout)
    a100 = next(row for row in summary if row["accelerator"] == "A100")
    assert a100 == {"accelerator": "A100", "counts": [8.0], "clouds": ["aws"]}  # gcp's 1, 2, 4 and 16 are not aws's
    table = stix("gpus", "--clouds", "aws").stdout
    assert next(line for line in table.splitlines() if line.startswith("│ A100 ")).split("│")[2].strip() == "8"
    loaded = []
    real = load.catalog_file
    monkeypatch.setattr(load, "catalog_file", lambda cloud, root=None, dirs=None: loaded.append(cloud) or
                        real(cloud, root, dirs))
    from typer.testing import CliRunner

    from stix import cli

    result = CliRunner().invoke(cli.app, ["gpus", "--clouds", "aws,gcp", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert sorted(loaded) == ["aws", "gcp"]  # only the catalogs it lists


def test_check_json(stix):
    rows = json.loads(stix("check", "--format", "json").stdout)
    assert {r["cloud"]: r["enabled"] for r in rows}["local"] is True
    assert {r["cloud"]: r["enabled"] for r in rows}["aws"] is False


@pytest.mark.parametrize("argv", [["status", "--format", "json"], ["status", "a*"], ["check", "--format", "json"]])
def test_status_and_check_stay_light(stix, stix_home, argv):
    from tests.import_probe import heavy_modules_loaded

    record("abc")
    heavy = ("pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_kubernetes", "paramiko")
    assert heavy_modules_loaded(stix, argv, heavy) == []


def test_optimize_over_named_clouds_that_do_not_offer_it_says_where_it_is(stix, a100):
    result = stix("optimize", str(a100), "--clouds", "k8s")
    assert result.returncode == 3
    assert one_line_error(result) == ("stix: error: no placement for A100:8 on kubernetes: offered on aws, azure, gcp "
                                      "(--clouds)")
