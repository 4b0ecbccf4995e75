"""`stix catalog update <cloud> --source skypilot` from small files in SkyPilot's vms.csv layout."""

from __future__ import annotations

import csv
import datetime
import json

import pytest

from stix.catalog.skypilot import update_from_skypilot
from stix.errors import FetchError, UsageError

H100_8 = ("\"{'Gpus': [{'Name': 'H100', 'Manufacturer': 'NVIDIA', 'Count': 8, 'MemoryInfo': {'SizeInMiB': 81920}}], "
          "'TotalGpuMemoryInMiB': 655360}\"")
AWS_VMS = f"""InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone,Arch
m6i.large,,,2.0,8.0,,0.096,0.041200,us-east-1,use1-az4,x86_64
m8i.large,,,2.0,8.0,,0.10584,0.048400,us-east-1,use1-az2,x86_64
p5.48xlarge,H100,8.0,192.0,2048.0,{H100_8},50.5,,ap-south-1,aps1-az1,x86_64
p5.48xlarge,H100,8.0,192.0,2048.0,{H100_8},50.5,19.253100,us-east-1,use1-az2,x86_64
p5.48xlarge,H100,8.0,192.0,2048.0,{H100_8},50.5,10.239700,us-east-1,use1-atl2-az1,x86_64
p5e.48xlarge,H200,8.0,192.0,2048.0,,,,us-east-2,use2-az2,x86_64
"""
# SkyPilot's GCP file orders columns its own way and prices a GPU host and its GPUs on separate rows.
GCP_VMS = """InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice
a3-ultragpu-8g,224.0,2952.0,,,,us-central1,us-central1-b,12.266,3.74713
a3-ultragpu-8g,224.0,2952.0,,,,us-south1,us-south1-b,14.47387,3.15354
n1-standard-8,8.0,30.0,,,,us-central1,us-central1-a,0.379998,0.08
,,,H200,8,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 144384}}]},us-central1,us-central1-b,74.49392,37.2472
,,,T4,1,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 16384}}]},us-central1,us-central1-a,0.35,0.14
,,,T4,3,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 16384}}]},us-central1,us-central1-a,1.05,0.42
"""


def written(path):
    with open(path, newline="") as handle:
        header = handle.readline()
        return header, list(csv.DictReader(handle))


def test_aws_keeps_bundled_types_and_regions_and_names_zones(stix, stix_home, tmp_path):
    source = tmp_path / "vms.csv"
    source.write_text(AWS_VMS)
    result = stix("catalog", "update", "aws", "--source", "skypilot", "--url", str(source), "--replace")
    assert result.returncode == 0, result.stderr
    assert "aws: 2 rows (2 instance types) from SkyPilot's catalog" in result.stdout
    header, rows = written(stix_home / "catalogs" / "aws.csv")
    assert header.startswith(f"# source: SkyPilot catalog {source} ") and f"date: {datetime.date.today()}" in header
    # m8i is not bundled, ap-south-1 is not a bundled region, the Local Zone and the unpriced p5e are left out
    assert [(r["InstanceType"], r["Region"], r["AvailabilityZone"], r["Price"], r["SpotPrice"]) for r in rows] == [
        ("m6i.large", "us-east-1", "us-east-1d", "0.096", "0.0412"),
        ("p5.48xlarge", "us-east-1", "us-east-1b", "50.5", "19.2531"),
    ]
    assert rows[1]["AcceleratorName"] == "H100" and rows[1]["AcceleratorCount"] == "8" and "81920" in rows[1]["GpuInfo"]
    shown = stix("catalog", "show").stdout
    assert str(stix_home / "catalogs" / "aws.csv") in shown and "SkyPilot catalog" in shown
    offers = json.loads(stix("gpus", "H100:8", "--cloud", "aws", "--format", "json").stdout)
    assert [(o["instance_type"], o["price"], o["region"]) for o in offers] == [("p5.48xlarge", 50.5, "us-east-1")]


def test_gcp_hosts_take_their_gpu_rows_price_from_a_file_url(stix, stix_home, tmp_path):
    source = tmp_path / "gcp-vms.csv"
    source.write_text(GCP_VMS)
    result = stix("catalog", "update", "gcp", "--source", "skypilot", "--url", source.as_uri(), "--replace")
    assert result.returncode == 0, result.stderr
    _, rows = written(stix_home / "catalogs" / "gcp.csv")
    by_type = {(r["InstanceType"], r["AcceleratorName"], r["AcceleratorCount"]): r for r in rows}
    # us-south1 is no bundled region; T4:3 is no count the bundled catalog lists
    assert sorted(by_type) == [("", "T4", "1"), ("a3-ultragpu-8g", "H200", "8"), ("n1-standard-8", "", "")]
    host = by_type[("a3-ultragpu-8g", "H200", "8")]
    assert (host["Price"], host["SpotPrice"], host["vCPUs"], host["MemoryGiB"]) == ("86.75992", "40.99433", "224", "2952")
    assert "144384" in host["GpuInfo"]


@pytest.mark.parametrize("args, message", [
    (("nosuch", "--source", "skypilot", "--url", "{fixture}"), "stix: error: nosuch: cannot update the 'nosuch' catalog"),
    (("aws", "--source", "skypilot", "--url", "{missing}"), "stix: error: aws: reading {missing} failed: FileNotFoundError"),
    (("aws", "--source", "skypilot", "--url", "http://127.0.0.1:9/vms.csv"),
     "stix: error: aws: reading http://127.0.0.1:9/vms.csv failed: URLError"),
    (("aws", "--source", "skypilot", "--url", "{not_vms}"), "stix: error: aws: {not_vms}: not a SkyPilot vms.csv"),
    (("aws", "--source", "skypilot", "--url", "{empty_selection}"), "stix: error: aws: {empty_selection}: no rows for"),
    (("aws", "--source", "nosuch"), "stix: error: --source must be cloud or skypilot, got 'nosuch'"),
    (("aws", "--url", "{fixture}"), "stix: error: --url needs --source skypilot and exactly one cloud"),
    (("aws", "gcp", "--source", "skypilot", "--url", "{fixture}"), "stix: error: --url needs --source skypilot"),
])
def test_bad_input_is_one_line_and_writes_nothing(stix, stix_home, tmp_path, args, message):
    paths = {"fixture": tmp_path / "vms.csv", "missing": tmp_path / "absent.csv", "not_vms": tmp_path / "prices.csv",
             "empty_selection": tmp_path / "other.csv"}
    paths["fixture"].write_text(AWS_VMS)
    paths["not_vms"].write_text("name,price\nfoo,1\n")
    paths["empty_selection"].write_text(AWS_VMS.splitlines()[0] + "\nz1d.large,,,2.0,16.0,,0.186,0.05,us-east-1,use1-az1,x86_64\n")
    values = {key: str(path) for key, path in paths.items()}
    result = stix("catalog", "update", *(arg.format(**values) for arg in args))
    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(message.format(**values))
    assert "Traceback" not in result.stderr
    assert not (stix_home / "catalogs").exists()


def test_an_unreadable_source_leaves_an_earlier_update_as_it_was(stix_home, tmp_path):
    out = tmp_path / "catalogs"
    source = tmp_path / "vms.csv"
    source.write_text(AWS_VMS)
    first = update_from_skypilot("aws", out, url=str(source), today=datetime.date(2026, 12, 5), replace=True)
    before = first.path.read_text()

    def offline(url: str) -> str:
        raise FetchError(f"reading {url} failed: URLError: offline")

    with pytest.raises(FetchError):
        update_from_skypilot("aws", out, fetch=offline, today=datetime.date(2026, 12, 6), replace=True)
    assert first.path.read_text() == before and "date: 2026-12-05" in before


# SkyPilot's Azure file prices per region: no AvailabilityZone column, a Generation column instead.
AZURE_VMS = """InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,Generation
Standard_NC6s_v3,V100,1.0,6.0,112.0,,3.06,0.3,eastus,V1
Standard_NC6s_v3,V100,1.0,6.0,112.0,,3.06,0.31,southafricanorth,V1
Standard_NoSuch_v9,,,2.0,8.0,,0.1,0.01,eastus,V2
"""


def test_azure_layout_without_a_zone_column_is_read(stix_home, tmp_path):
    source = tmp_path / "azure-vms.csv"
    source.write_text(AZURE_VMS)
    report = update_from_skypilot("azure", tmp_path / "out", url=str(source), today=datetime.date(2026, 12, 5),
                                  replace=True)
    _, rows = written(report.path)
    assert [(r["InstanceType"], r["Region"], r["AvailabilityZone"], r["Price"], r["SpotPrice"]) for r in rows] == [
        ("Standard_NC6s_v3", "eastus", "", "3.06", "0.3")]
    assert "Generation" not in rows[0]


def test_zone_ids_become_only_zone_names_the_bundled_catalog_lists(stix_home, tmp_path):
    # apne1-az2 would be ap-northeast-1b, which the bundled catalog (and most accounts) lacks
    source = tmp_path / "vms.csv"
    source.write_text(AWS_VMS.splitlines()[0] + "\n"
                      "c6i.large,,,2.0,4.0,,0.107,0.03,ap-northeast-1,apne1-az1,x86_64\n"
                      "c6i.large,,,2.0,4.0,,0.107,0.031,ap-northeast-1,apne1-az2,x86_64\n"
                      "c6i.large,,,2.0,4.0,,0.107,0.032,ap-northeast-1,ap-northeast-1c,x86_64\n")
    report = update_from_skypilot("aws", tmp_path / "out", url=str(source), today=datetime.date(2026, 12, 5),
                                  replace=True)
    _, rows = written(report.path)
    assert [(r["AvailabilityZone"], r["SpotPrice"]) for r in rows] == [("ap-northeast-1a", "0.03"),
                                                                       ("ap-northeast-1c", "0.032")]


def test_bundled_aws_zones_are_names_the_catalog_listed_before_skypilot_rows():
    from stix.catalog.skypilot import bundled_selection

    zones = bundled_selection("aws").zones
    assert "ap-northeast-1b" not in zones and {z[:-1] for z in zones} <= {
        "ap-northeast-1", "eu-west-1", "us-east-1", "us-east-2", "us-west-2"}


def test_a_failed_http_read_leaves_the_query_out_of_the_error(stix, stix_home):
    url = "http://127.0.0.1:9/vms.csv?X-Amz-Signature=secret123&token=hidden"
    result = stix("catalog", "update", "aws", "--source", "skypilot", "--url", url)
    assert result.returncode != 0 and len(result.stderr.splitlines()) == 1
    assert "reading http://127.0.0.1:9/vms.csv failed: URLError" in result.stderr
    assert "secret123" not in result.stderr and "hidden" not in result.stderr and "?" not in result.stderr


def bundled_as_skypilot_file(cloud: str, extra: str) -> str:
    """The bundled catalog written back in SkyPilot's layout (zone names stay names), plus `extra` rows."""
    from stix.catalog.load import bundled_dir

    lines = [line for line in (bundled_dir() / f"{cloud}.csv").read_text().splitlines() if not line.startswith("#")]
    return "\n".join(lines) + "\n" + extra


TRN2_1 = ("\"{'Gpus': [{'Name': 'Trainium2', 'Manufacturer': 'AWS', 'Count': 1, 'MemoryInfo': {'SizeInMiB': 524288}}], "
          "'TotalGpuMemoryInMiB': 524288}\"")


def test_a_family_stix_does_not_bundle_arrives_when_stix_knows_its_accelerator(stix, stix_home, tmp_path):
    source = tmp_path / "vms.csv"
    # trn2.3xlarge (one Trainium2) is a size stix does not bundle; the row is made up for a bundled region
    source.write_text(bundled_as_skypilot_file("aws", (
        f"trn2.3xlarge,Trainium2,1,12,128,{TRN2_1},2.2,0.5,us-east-2,us-east-2c\n"
        "f1.2xlarge,Virtex UltraScale (VU9P),1,8,122,,1.65,0.44,us-east-1,us-east-1a\n"  # an FPGA: not an accelerator stix knows
        f"trn2.3xlarge,Trainium2,1,12,128,{TRN2_1},3.5,2.7396,ap-southeast-4,ap-southeast-4c\n")))  # not a bundled region
    result = stix("catalog", "update", "aws", "--source", "skypilot", "--url", str(source))
    assert result.returncode == 0, result.stderr
    _, rows = written(stix_home / "catalogs" / "aws.csv")
    assert [(r["Region"], r["AvailabilityZone"], r["Price"]) for r in rows if r["InstanceType"] == "trn2.3xlarge"] == [
        ("us-east-2", "us-east-2c", "2.2")]
    assert not [r for r in rows if r["InstanceType"] == "f1.2xlarge"]
    offers = json.loads(stix("gpus", "Trainium2:1", "--cloud", "aws", "--format", "json").stdout)
    assert {o["instance_type"] for o in offers} == {"trn2.3xlarge"}


def test_azure_new_size_without_gpu_info_takes_the_tables_memory(stix_home, tmp_path):
    source = tmp_path / "azure-vms.csv"
    source.write_text(AZURE_VMS + "Standard_NV72adms_A10_v9,A10,2.0,72.0,1760.0,A10,9.04,2.26,eastus,V2\n")
    report = update_from_skypilot("azure", tmp_path / "out", url=str(source), replace=True)
    _, rows = written(report.path)
    new = [r for r in rows if r["InstanceType"] == "Standard_NV72adms_A10_v9"]
    assert [(r["AcceleratorName"], r["AcceleratorCount"], r["Price"]) for r in new] == [("A10", "2", "9.04")]
    assert "'SizeInMiB': 24576" in new[0]["GpuInfo"] and "'TotalGpuMemoryInMiB': 49152" in new[0]["GpuInfo"]


def test_a_partial_file_is_refused_and_the_catalog_keeps_its_placements(stix, stix_home, tmp_path):
    source = tmp_path / "vms.csv"
    source.write_text(AWS_VMS)  # two rows, where the bundled catalog has dozens of instance types
    result = stix("catalog", "update", "aws", "--source", "skypilot", "--url", str(source))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "would drop" in result.stderr and "--replace" in result.stderr
    assert not (stix_home / "catalogs").exists()
    offers = json.loads(stix("gpus", "A100:8", "--cloud", "aws", "--format", "json").stdout)
    assert "p4d.24xlarge" in {o["instance_type"] for o in offers}


def test_a_partial_file_is_refused_against_an_earlier_update_too(stix_home, tmp_path):
    out = tmp_path / "catalogs"
    full = tmp_path / "full.csv"
    full.write_text(bundled_as_skypilot_file("aws", ""))
    before = update_from_skypilot("aws", out, url=str(full)).path.read_text()
    partial = tmp_path / "vms.csv"
    partial.write_text(AWS_VMS)
    with pytest.raises(UsageError, match="would drop"):
        update_from_skypilot("aws", out, url=str(partial))
    assert (out / "aws.csv").read_text() == before


def test_replace_needs_the_skypilot_source(stix, stix_home):
    result = stix("catalog", "update", "aws", "--replace")
    assert result.returncode == 2 and result.stderr.strip() == "stix: error: --replace needs --source skypilot"
    assert not (stix_home / "catalogs").exists()
