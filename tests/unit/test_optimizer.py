"""The optimizer against a brute-force oracle over the bundled catalogs, and its explanations."""

from __future__ import annotations

import random

import pytest

from stix.catalog.load import load_catalog
from stix.models.resources import Resources
from stix.optimizer import HostLimits, NoFeasiblePlacement, candidates_for, optimize, request_groups
from tests.catalog_rows import bundled_row, price

CATALOG = load_catalog()
HOST = HostLimits(vcpus=2, memory_gib=24)
ALL = ("aws", "gcp", "azure", "local")


def oracle(spec: dict, num_nodes: int, enabled: set[str]) -> list[tuple[float, str, str]]:
    """Every feasible (cluster $/hr, cloud, instance) by brute force over every offer, written plainly."""
    accel = spec.get("accelerators")
    name, count = (accel.split(":")[0], float(accel.split(":")[1])) if accel else (None, None)
    cpus = spec.get("cpus")
    memory = spec.get("memory")
    spot = spec.get("use_spot", False)
    cloud = spec.get("cloud")
    region = spec.get("region")
    cap = spec.get("max_hourly_cost")
    nothing = not accel and cpus is None and memory is None

    def fits(value, want, exact_ok=True):
        if want is None:
            return True
        text = str(want)
        if text.endswith("+"):
            return value >= float(text[:-1])
        return value == float(text)

    found = []
    for offer in CATALOG.offers:
        if offer.cloud not in enabled or (cloud and offer.cloud != cloud) or (region and offer.region != region):
            continue
        if offer.cloud == "local":
            if accel or spot:
                continue
            if cpus is not None and HOST.vcpus < float(str(cpus).rstrip("+")):
                continue
            if memory is not None and HOST.memory_gib < float(str(memory).rstrip("+")):
                continue
            found.append((0.0, "local", "local"))
            continue
        if (offer.accelerator or None) != name or (name and offer.accelerator_count != count):
            continue
        price = offer.spot_price if spot else offer.price
        if price is None:
            continue
        hosts = [offer]
        if offer.instance_type == "":
            hosts = [h for h in CATALOG.offers if h.cloud == "gcp" and h.zone == offer.zone
                     and h.instance_type.startswith("n1-") and not h.accelerator]
        for host in hosts:
            total = price if host is offer else price + (host.spot_price if spot else host.price)
            want_cpus = cpus if cpus is not None else ("4+" if nothing or (host is not offer and memory is None) else None)
            if not fits(host.vcpus, want_cpus) or not fits(host.memory_gib, memory):
                continue
            if cap is not None and total > cap:
                continue
            found.append((round(total * num_nodes, 9), offer.cloud, host.instance_type))
    return found


def random_spec(rng: random.Random) -> dict:
    spec: dict = {}
    if rng.random() < 0.75:
        name = rng.choice(CATALOG.accelerator_names())
        counts = sorted({o.accelerator_count for o in CATALOG.with_accelerator(name)})
        count = rng.choice(counts + [3, 32])
        spec["accelerators"] = f"{name}:{count:g}"  # g6f offers fractions of an L4
    if rng.random() < 0.4:
        spec["cpus"] = rng.choice(["1+", "2", "4+", "8", "16+", "48+", "96", "200+"])
    if rng.random() < 0.3:
        spec["memory"] = rng.choice(["8+", "16", "32+", "64+", "1000+"])
    if rng.random() < 0.3:
        spec["use_spot"] = True
    if rng.random() < 0.25:
        spec["cloud"] = rng.choice(["aws", "gcp", "azure"])
        if rng.random() < 0.5:
            regions = sorted({o.region for o in CATALOG.offers if o.cloud == spec["cloud"]})
            spec["region"] = rng.choice(regions)
    if rng.random() < 0.15:
        spec["max_hourly_cost"] = rng.choice([0.5, 2.0, 10.0, 40.0])
    return spec


@pytest.mark.parametrize("seed", range(300))
def test_matches_brute_force_oracle(seed):
    rng = random.Random(seed)
    spec = random_spec(rng)
    num_nodes = rng.randint(1, 4)
    enabled = set(rng.sample(ALL, rng.randint(1, 4)))
    expected = oracle(spec, num_nodes, enabled)
    resources = Resources.model_validate(spec)
    if not expected:
        with pytest.raises(NoFeasiblePlacement):
            optimize(resources, num_nodes, CATALOG, enabled, host=HOST)
        return
    placement = optimize(resources, num_nodes, CATALOG, enabled, host=HOST)
    best = min(cost for cost, _, _ in expected)
    assert placement.chosen.hourly_cost == pytest.approx(best), (spec, enabled)
    assert (placement.chosen.cloud, placement.chosen.instance_type) in {(c, i) for cost, c, i in expected
                                                                         if cost == pytest.approx(best)}
    costs = [c.hourly_cost for c in placement.candidates]
    assert costs == sorted(costs)
    assert {(c.cloud, c.instance_type) for c in placement.candidates} <= {(c, i) for _, c, i in expected}


def test_ordered_preference_beats_price():
    resources = Resources.model_validate({"ordered": [{"accelerators": "H100:8"}, {"accelerators": "T4:1"}]})
    placement = optimize(resources, 1, CATALOG, ALL, host=HOST)
    assert placement.chosen.accelerator == "H100"
    assert placement.candidates[-1].accelerator == "T4", "the second preference is the failover"


def test_accelerator_list_is_ordered_and_set_is_cheapest():
    listed = optimize(Resources.model_validate({"accelerators": ["A100:8", "T4:1"]}), 1, CATALOG, ALL, host=HOST)
    assert listed.chosen.accelerator == "A100"
    pooled = optimize(Resources.model_validate({"accelerators": {"A100:8": None, "T4:1": None}}), 1, CATALOG, ALL, host=HOST)
    assert pooled.chosen.accelerator == "T4"


def test_any_of_merges_over_base():
    resources = Resources.model_validate({"accelerators": "A100:8", "any_of": [{"cloud": "aws"}, {"cloud": "gcp"}]})
    groups = request_groups(resources)
    assert len(groups) == 1 and {r.cloud for r in groups[0]} == {"aws", "gcp"}
    chosen = optimize(resources, 1, CATALOG, ALL, host=HOST).chosen
    assert chosen.cloud == "aws" and chosen.instance_type == "p4d.24xlarge"  # $21.96/hr since the 2025 AWS price cut


def test_time_target_prefers_faster_accelerators():
    resources = Resources.model_validate({"accelerators": {"T4:1": None, "H100:8": None}})
    assert optimize(resources, 1, CATALOG, ALL, "TIME", host=HOST).chosen.accelerator == "H100"
    assert optimize(resources, 1, CATALOG, ALL, "COST", host=HOST).chosen.accelerator == "T4"


def test_spot_uses_spot_prices():
    on_demand = optimize(Resources.model_validate({"accelerators": "A100:8"}), 1, CATALOG, ALL, host=HOST).chosen
    spot = optimize(Resources.model_validate({"accelerators": "A100:8", "use_spot": True}), 1, CATALOG, ALL, host=HOST).chosen
    assert spot.spot and spot.price_per_node < on_demand.price_per_node


def test_local_is_free_and_default_for_cpu_tasks():
    chosen = optimize(Resources(), 2, CATALOG, ALL, host=HOST).chosen
    assert chosen.cloud == "local" and chosen.hourly_cost == 0


@pytest.mark.parametrize("spec, enabled, message", [
    ({"accelerators": "A100-80GB:16"}, ALL, "close matches: A100-80GB:8 on aws, azure, gcp"),
    ({"accelerators": "A100:8"}, ("local",), "offered on aws, azure, gcp, but enabled clouds are local"),
    ({"accelerators": "H200:8", "cloud": "aws", "region": "eu-west-1"}, ALL, "not offered there; offered in aws/ap-northeast-1, aws/us-east-1, aws/us-east-2, aws/us-west-2"),
    ({"accelerators": "A100:8", "max_hourly_cost": 5}, ALL, "above max_hourly_cost"),
    ({"accelerators": "A100:8", "cpus": "500+"}, ALL, "no instance matches the cpus/memory/instance_type asked"),
])
def test_nothing_fits_says_why(spec, enabled, message):
    with pytest.raises(NoFeasiblePlacement) as info:
        optimize(Resources.model_validate(spec), 1, CATALOG, enabled, host=HOST)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_skypilot_catalog_directory_with_gcp_column_order(tmp_path, monkeypatch):
    (tmp_path / "gcp").mkdir()
    (tmp_path / "gcp" / "vms.csv").write_text(
        "InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GPUInfo,Region,AvailabilityZone,Price,SpotPrice\n"
        "a2-highgpu-8g,96.0,680.0,A100,8.0,A100,us-central1,us-central1-a,1.5,0.5\n"
        "n1-standard-8,8.0,30.0,,,,us-central1,us-central1-a,0.38,0.08\n"
        ",,,T4,1.0,T4,us-central1,us-central1-a,0.35,0.11\n"
    )
    monkeypatch.setenv("STIX_CATALOG_DIR", str(tmp_path))
    catalog = load_catalog(["gcp"])
    assert catalog.sources["gcp"] == str(tmp_path / "gcp" / "vms.csv")
    assert len(catalog.offers) == 3
    chosen = optimize(Resources.model_validate({"accelerators": "A100:8"}), 1, catalog, ["gcp"], host=HOST).chosen
    assert (chosen.instance_type, chosen.price_per_node) == ("a2-highgpu-8g", 1.5)
    t4 = optimize(Resources.model_validate({"accelerators": "T4:1"}), 1, catalog, ["gcp"], host=HOST).chosen
    assert (t4.instance_type, t4.price_per_node) == ("n1-standard-8", pytest.approx(0.73))


def test_bundled_catalogs_state_source_and_date():
    from stix.catalog.load import bundled_dir, source_line

    for cloud in ("aws", "gcp", "azure", "local"):
        line = source_line(bundled_dir() / f"{cloud}.csv")
        assert "source:" in line and "date: 20" in line, cloud


def test_bundled_families_are_covered():
    types = {o.instance_type for o in CATALOG.offers}
    for family in ("p3.", "p4d.", "p4de.", "p5.", "p5e.", "g4dn.", "g5.", "g6.", "g6e.", "a2-highgpu", "a3-", "g2-",
                   "n1-", "Standard_NC", "Standard_ND", "Standard_NV", "m6i.", "Standard_D"):
        assert any(t.startswith(family) for t in types), family
    attachable = {o.accelerator for o in CATALOG.offers if o.cloud == "gcp" and not o.instance_type}
    assert {"T4", "V100", "P100"} <= attachable


@pytest.mark.parametrize("spot", [False, True])
def test_gcp_attached_gpu_price_cap_counts_host_and_gpus(spot):
    zone = {"Region": "us-central1", "AvailabilityZone": "us-central1-a"}
    gpus = bundled_row("gcp", InstanceType="", AcceleratorName="T4", AcceleratorCount="2", **zone)
    host = bundled_row("gcp", InstanceType="n1-standard-8", **zone)
    total = price(host, spot) + price(gpus, spot)
    spec = {"accelerators": "T4:2", "infra": "gcp/us-central1/us-central1-a", "instance_type": "n1-standard-8",
            "use_spot": spot}

    def placed(cap: float) -> list:
        resources = Resources.model_validate({**spec, "max_hourly_cost": cap})
        return [c for group in request_groups(resources) for r in group for c in candidates_for(r, CATALOG, ALL, 1)]

    at_cap = placed(total)
    assert [(c.instance_type, c.accelerator, c.accelerator_count, c.spot) for c in at_cap] == \
        [("n1-standard-8", "T4", 2, spot)]
    assert at_cap[0].price_per_node == pytest.approx(total)
    below = total - 0.01
    assert below > max(price(host, spot), price(gpus, spot)), "the cap must sit above either part alone"
    assert placed(below) == []
    with pytest.raises(NoFeasiblePlacement):
        optimize(Resources.model_validate({**spec, "max_hourly_cost": below}), 1, CATALOG, ALL, host=HOST)
