"""The bundled catalogs against the accelerator table, SkyPilot's current prices, and the optimizer."""

from __future__ import annotations

import ast

import pytest

from stix.catalog.load import bundled_dir, read_offers
from stix.catalog.offers import Catalog
from stix.gpus import GPU_MEMORY_GIB
from stix.models.resources import Resources
from stix.models.values import ACCELERATORS, canonical_accelerator
from stix.optimizer import HostLimits, optimize
from tests.catalog_rows import bundled_row, bundled_rows, price

CLOUDS = ("aws", "gcp", "azure")
HOST = HostLimits(vcpus=2, memory_gib=24)


def bundled() -> Catalog:
    catalog = Catalog()
    for cloud in CLOUDS:
        path = bundled_dir() / f"{cloud}.csv"
        catalog.extend(read_offers(path, cloud), cloud, str(path))
    return catalog


BUNDLED = bundled()


# Accelerator names tasks accept that no bundled cloud sells. Each was looked for in SkyPilot's catalogs:
# catalogs/v8/aws/vms.csv at 00148f2a (the g/p/dl/inf/trn families and what sorts beside them), catalogs/v8/gcp/vms.csv
# at 006059e0 (the a2/a3/a4 hosts; no a4x) and the Azure fork's catalogs/v8/azure/vms.csv at 20291d7e (every N-series
# size: NC, NCC, ND, NG, NP, NV).
NOT_SOLD = {
    "A16", "A30", "A40", "L40", "H20", "P40",  # no AWS/GCP/Azure instance type in those files carries them
    "B100", "GB200",  # AWS lists p6-b200 and p6-b300, not p6e-gb200; GCP lists a4-highgpu (B200), no a4x (GB200)
    "MI300X", "MI250X", "MI210",  # the Azure fork has no ND96isr_MI300X_v5; AWS and GCP sell no Instinct GPUs
    "RTX3090", "RTX4090", "RTX6000", "RTXPRO6000",  # sold by clouds stix has no catalog for (RunPod, Lambda, ...)
    # The Azure fork still lists Standard_NC6/12/24 (K80) in southcentralus and westus2, but Azure retired the
    # NC (v1) series in 2023-09: a row for it would place tasks on machines no one can start.
    "K80",
}


def test_every_accelerator_a_task_accepts_has_an_offer():
    priced = {o.accelerator for o in BUNDLED.offers if o.accelerator and (o.price or o.spot_price)}
    aliased = {name for name in ACCELERATORS if canonical_accelerator(name) != name}
    missing = set(ACCELERATORS) - priced - aliased - NOT_SOLD
    assert sorted(missing) == []
    assert sorted(NOT_SOLD & priced) == []  # an exclusion that now has an offer must leave the list
    assert sorted(set(GPU_MEMORY_GIB) - priced) == []


@pytest.mark.parametrize("alias, canonical, memory_mib", [("A100-40GB", "A100", 40960), ("H100-80GB", "H100", 81920)])
def test_aliases_find_the_offers_of_their_canonical_name(alias, canonical, memory_mib):
    chosen = optimize(Resources.model_validate({"accelerators": f"{alias}:1"}), 1, BUNDLED, CLOUDS, host=HOST).chosen
    assert chosen.accelerator == canonical
    row = bundled_rows(chosen.cloud, InstanceType=chosen.instance_type)[0]
    assert ast.literal_eval(row["GpuInfo"])["Gpus"][0]["MemoryInfo"]["SizeInMiB"] == memory_mib


# Each accelerator the 2026-12-06 rows brought, through the optimizer as `stix optimize` runs it: one device gets
# the family's smallest (cheapest) size. trn2 has only a spot price in SkyPilot's catalog, so it is asked for as spot.
@pytest.mark.parametrize("accelerators, spot, cloud, instance_type", [
    ("T4g:1", False, "aws", "g5g.xlarge"),
    ("T4g:2", False, "aws", "g5g.16xlarge"),
    ("Radeon Pro V520:1", False, "aws", "g4ad.xlarge"),
    ("Radeon Pro V520:4", False, "aws", "g4ad.16xlarge"),
    ("Gaudi HL-205:8", False, "aws", "dl1.24xlarge"),
    ("Inferentia:1", False, "aws", "inf1.xlarge"),
    ("Inferentia:16", False, "aws", "inf1.24xlarge"),
    ("Inferentia2:1", False, "aws", "inf2.xlarge"),
    ("Inferentia2:12", False, "aws", "inf2.48xlarge"),
    ("Trainium:1", False, "aws", "trn1.2xlarge"),
    ("Trainium:16", False, "aws", "trn1.32xlarge"),
    ("Trainium2:16", True, "aws", "trn2.48xlarge"),
    ("A10:1", False, "azure", "Standard_NV36ads_A10_v5"),
])
def test_optimizer_places_the_new_accelerators(accelerators, spot, cloud, instance_type):
    resources = Resources.model_validate({"accelerators": accelerators, "use_spot": spot, "cloud": cloud})
    chosen = optimize(resources, 1, BUNDLED, CLOUDS, host=HOST).chosen
    assert (chosen.cloud, chosen.instance_type) == (cloud, instance_type)


# The smallest size of each family, where SkyPilot's catalogs/v8/aws/vms.csv at 00148f2a lists it in us-east-1 and
# us-west-2: its on-demand price there and its zones (use1-azN written as us-east-1 + the Nth letter). dl1 and trn1n
# have one size. trn2's smallest, trn2.3xlarge, is listed only in ap-southeast-4 (not a bundled region) and trn2.48xlarge
# only in us-east-2, so trn2 has no row in either region.
@pytest.mark.parametrize("instance_type, on_demand, zones", [
    ("dl1.24xlarge", 13.10904, {"us-east-1": {"b"}, "us-west-2": {"a"}}),
    ("g4ad.xlarge", 0.37853, {"us-east-1": {"a", "b", "d", "f"}, "us-west-2": {"a", "b", "c"}}),
    ("g5g.xlarge", 0.42, {"us-east-1": {"a", "b", "d", "f"}, "us-west-2": {"a", "b", "c"}}),
    ("inf1.xlarge", 0.228, {"us-east-1": {"a", "b", "d", "e", "f"}, "us-west-2": {"a", "b", "c", "d"}}),
    ("inf2.xlarge", 0.7582, {"us-east-1": {"b", "d", "e", "f"}, "us-west-2": {"a", "b", "c", "d"}}),
    ("trn1.2xlarge", 1.34375, {"us-east-1": {"e", "f"}, "us-west-2": {"a", "d"}}),
    ("trn1n.32xlarge", 24.78, {"us-east-1": {"f"}, "us-west-2": {"d"}}),
])
def test_smallest_accelerator_sizes_are_offered_in_us_east_1_and_us_west_2(instance_type, on_demand, zones):
    for region, letters in zones.items():
        rows = bundled_rows("aws", InstanceType=instance_type, Region=region)
        assert {row["AvailabilityZone"] for row in rows} == {region + letter for letter in letters}, region
        assert {price(row) for row in rows} == {on_demand}, region
        assert all(price(row, spot=True) for row in rows), region
    offered = {(o.instance_type, o.region) for o in BUNDLED.offers if o.cloud == "aws"}
    assert {(instance_type, region) for region in zones} <= offered


def test_trn2_is_offered_only_where_skypilot_prices_it():
    assert not bundled_rows("aws", InstanceType="trn2.3xlarge")
    rows = bundled_rows("aws", InstanceType="trn2.48xlarge")
    assert [(r["AvailabilityZone"], r["Price"], price(r, spot=True)) for r in rows] == [("us-east-2c", "", 23.0631)]


def test_azure_new_sizes_are_offered_where_the_fork_lists_them():
    assert {r["Region"] for r in bundled_rows("azure", InstanceType="Standard_NV36adms_A10_v5")} == {
        "eastus", "eastus2", "southcentralus", "westus2"}
    assert price(bundled_row("azure", InstanceType="Standard_NV36adms_A10_v5", Region="eastus")) == 4.52
    assert price(bundled_row("azure", InstanceType="Standard_NCC40ads_H100_v5", Region="eastus2")) == 6.98
    resources = Resources.model_validate({"accelerators": "A10:1", "memory": "800+", "cloud": "azure"})
    assert optimize(resources, 1, BUNDLED, CLOUDS, host=HOST).chosen.instance_type == "Standard_NV36adms_A10_v5"


def test_gcp_h100_hosts_price_their_gpus_alike():
    """a3-highgpu-8g is the 1g host eight times over: its price per GPU is the 1g row's, within a few percent."""
    for region in ("us-central1", "europe-west4"):
        one = price(bundled_rows("gcp", InstanceType="a3-highgpu-1g", Region=region)[0])
        eight = price(bundled_rows("gcp", InstanceType="a3-highgpu-8g", Region=region)[0])
        assert eight / 8 == pytest.approx(one, rel=0.03), region


def test_every_offered_gpu_is_in_the_accelerator_table_under_its_canonical_name():
    offered = {o.accelerator for o in BUNDLED.offers if o.accelerator}
    assert sorted(offered - set(GPU_MEMORY_GIB)) == []
    assert set(GPU_MEMORY_GIB) <= set(ACCELERATORS)


def test_table_memory_agrees_with_every_rows_gpu_info():
    for cloud in CLOUDS:
        for row in bundled_rows(cloud):
            if not row["GpuInfo"] or "GpuPartitionSize" in row["GpuInfo"]:
                continue
            mib = ast.literal_eval(row["GpuInfo"])["Gpus"][0]["MemoryInfo"]["SizeInMiB"]
            # within 8%: SkyPilot gives some GPUs' usable memory (gr6's L4: 22888 MiB), a wrong table entry is off by 2x
            table = GPU_MEMORY_GIB[row["AcceleratorName"]]
            assert abs(mib / 1024 - table) <= 0.08 * table, (cloud, row["InstanceType"], mib)


# Read from github.com/skypilot-org/skypilot-catalog catalogs/v8/aws/vms.csv at commit 00148f2a (2026-12-05):
# on-demand per region; spot per availability-zone ID (use1-azN is written as us-east-1 + the Nth letter).
@pytest.mark.parametrize("instance_type, region, on_demand", [
    ("p4d.24xlarge", "us-east-1", 21.957642),
    ("p4d.24xlarge", "ap-northeast-1", 30.09784),
    ("p4de.24xlarge", "us-east-1", 27.44705),
    ("p5.48xlarge", "us-east-1", 55.04),
    ("p5.48xlarge", "us-west-2", 55.04),
    ("p5.4xlarge", "us-east-1", 6.88),
    ("p5en.48xlarge", "us-east-1", 63.296),
    ("p6-b200.48xlarge", "us-west-2", 113.9328),
    ("gr6.4xlarge", "us-east-1", 1.5392),
    ("g6f.xlarge", "us-west-2", 0.2375),
])
def test_aws_gpu_prices_are_skypilots_after_the_2025_cut(instance_type, region, on_demand):
    rows = bundled_rows("aws", InstanceType=instance_type, Region=region)
    assert rows and {price(row) for row in rows} == {on_demand}


def test_aws_spot_prices_are_skypilots_per_zone():
    assert price(bundled_row("aws", InstanceType="p5.48xlarge", AvailabilityZone="us-east-1b"), spot=True) == 19.2531
    assert price(bundled_row("aws", InstanceType="p4d.24xlarge", AvailabilityZone="us-east-2a"), spot=True) == 6.0374
    assert {row["Price"] for row in bundled_rows("aws", InstanceType="p5e.48xlarge")} == {""}


def test_gcp_hosts_with_gpus_are_priced_host_plus_gpu():
    # a3-ultragpu-8g in us-central1-b: host 12.266 + H200:8 74.49392 (spot 3.74713 + 37.2472)
    row = bundled_row("gcp", InstanceType="a3-ultragpu-8g", AvailabilityZone="us-central1-b")
    assert (price(row), price(row, spot=True)) == (86.75992, 40.99433)


def test_headers_name_the_skypilot_commit_and_date():
    for cloud, repo, commit in (("aws", "skypilot-org/skypilot-catalog", "00148f2af3672e2229b4f7bf8157d5a3f36e3c35"),
                                ("gcp", "skypilot-org/skypilot-catalog", "006059e0f18acb1341e22a27751e9f80df6ba92f"),
                                ("azure", "coopslarhette/skypilot-catalog", "20291d7eda23e6f420cd9586558cf0bc4051851c")):
        header = (bundled_dir() / f"{cloud}.csv").read_text().splitlines()[0]
        assert repo in header and commit in header and "date: 2026-12-06" in header, cloud
    assert "community fork" in (bundled_dir() / "azure.csv").read_text().splitlines()[0]


@pytest.mark.parametrize("accelerators, cloud, instance_type", [
    ("H200:8", "aws", "p5en.48xlarge"),
    ("H200:8", "gcp", "a3-ultragpu-8g"),
    ("B200:8", "aws", "p6-b200.48xlarge"),
    ("B200:8", "gcp", "a4-highgpu-8g"),
    ("H100:1", "aws", "p5.4xlarge"),
    ("H100:2", "gcp", "a3-highgpu-2g"),
    ("H100:4", "gcp", "a3-highgpu-4g"),
    ("L4:0.5", "aws", "g6f.4xlarge"),
    ("L4:0.125", "aws", "g6f.xlarge"),
])
def test_optimizer_finds_the_new_families(accelerators, cloud, instance_type):
    resources = Resources.model_validate({"accelerators": accelerators, "cloud": cloud})
    chosen = optimize(resources, 1, BUNDLED, CLOUDS, host=HOST).chosen
    assert (chosen.cloud, chosen.instance_type) == (cloud, instance_type)


def test_gr6_is_the_l4_host_with_the_most_memory_per_vcpu():
    resources = Resources.model_validate({"accelerators": "L4:1", "cpus": "16", "memory": "128+", "cloud": "aws"})
    chosen = optimize(resources, 1, BUNDLED, CLOUDS, host=HOST).chosen
    assert chosen.instance_type == "gr6.4xlarge" and chosen.hourly_cost == 1.5392


def test_optimizer_picks_b200_by_price_across_clouds():
    chosen = optimize(Resources.model_validate({"accelerators": "B200:8"}), 1, BUNDLED, CLOUDS, host=HOST).chosen
    cheapest = min(price(row) for row in bundled_rows("gcp", InstanceType="a4-highgpu-8g"))
    assert chosen.instance_type == "a4-highgpu-8g" and chosen.hourly_cost == pytest.approx(cheapest)


def test_every_gpu_in_the_table_has_a_throughput_for_the_time_target():
    from stix.optimizer import THROUGHPUT

    assert sorted(set(GPU_MEMORY_GIB) - set(THROUGHPUT)) == []
    fast = optimize(Resources.model_validate({"accelerators": {"H100:8": None, "B200:8": None}}), 1, BUNDLED, CLOUDS,
                    host=HOST, target="TIME").chosen
    assert fast.accelerator == "B200"
