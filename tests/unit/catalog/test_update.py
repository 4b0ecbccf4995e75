"""`stix catalog update` against recorded responses of the three clouds' price endpoints."""

from __future__ import annotations

import datetime
import json
import socket
from pathlib import Path

import pytest

from stix.catalog.fetch import aws, azure, gcp
from stix.catalog.fetch.http import FetchError
from stix.catalog.load import catalog_file, load_catalog, read_offers, source_line
from stix.catalog.update import update_catalog
from stix.models.resources import Resources
from stix.optimizer import HostLimits, optimize
from tests.catalog_rows import bundled_row, bundled_rows, price

RECORDED = Path(__file__).resolve().parents[2] / "catalog_responses"
DAY = datetime.date(2026, 11, 24)


class Replay:
    """Serves recorded responses by URL; any other URL fails the test."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str):
        self.urls.append(url)
        if url == aws.REGION_INDEX:
            return self._load("aws/region_index.json")
        if url.startswith(aws.BASE + "/offers/v1.0/aws/AmazonEC2/20261101000000/"):
            return self._load(f"aws/{url.split('/')[-2]}.json")
        if url == azure.first_url():
            return self._load("azure/page1.json")
        if url.startswith("https://prices.azure.com:443/api/retail/prices") and "$skip=1000" in url:
            return self._load("azure/page2.json")
        if url.startswith(gcp.API):
            assert "key=test-key" in url
            return self._load("gcp/skus-page2.json" if "pageToken=page-2" in url else "gcp/skus-page1.json")
        raise AssertionError(f"unexpected URL {url}")

    @staticmethod
    def _load(name: str):
        return json.loads((RECORDED / name).read_text())


@pytest.fixture
def home(stix_home):
    return stix_home


def rows(path: Path, instance_type: str, region: str):
    return [o for o in read_offers(path, "x") if o.instance_type == instance_type and o.region == region]


def test_aws_reprices_linux_shared_on_demand_and_keeps_spot(home):
    before = {(o.instance_type, o.zone): o for o in read_offers(catalog_file("aws"), "aws")}
    replay = Replay()
    report = update_catalog("aws", home / "catalogs", replay, DAY)
    assert report.repriced == len(rows(report.path, "g4dn.xlarge", "us-east-1")) + \
        len(rows(report.path, "p4d.24xlarge", "us-east-1")) + len(rows(report.path, "m6i.large", "eu-west-1"))
    for offer in rows(report.path, "g4dn.xlarge", "us-east-1"):
        assert offer.price == 0.5, "Windows and dedicated-tenancy prices must be ignored"
        assert offer.spot_price == before[("g4dn.xlarge", offer.zone)].spot_price
    assert {o.price for o in rows(report.path, "p4d.24xlarge", "us-east-1")} == {30.0}
    assert {o.price for o in rows(report.path, "m6i.large", "us-east-1")} == {0.096}, "capacity reservations are skipped"
    assert {o.price for o in rows(report.path, "m6i.large", "eu-west-1")} == {0.107}
    assert {o.price for o in rows(report.path, "g4dn.xlarge", "us-west-2")} == \
        {price(r) for r in bundled_rows("aws", InstanceType="g4dn.xlarge", Region="us-west-2")}, \
        "unpriced regions keep their price"
    assert "AWS Price List bulk API" in source_line(report.path) and "date: 2026-11-24" in source_line(report.path)
    assert len(replay.urls) == 3


def test_updated_catalog_is_what_the_optimizer_reads(home):
    update_catalog("aws", home / "catalogs", Replay(), DAY)
    assert catalog_file("aws") == home / "catalogs" / "aws.csv"
    chosen = optimize(Resources.model_validate({"accelerators": "T4:1", "cloud": "aws"}), 1,
                      load_catalog(["aws"]), ["aws"], host=HostLimits(2, 8)).chosen
    assert (chosen.instance_type, chosen.region, chosen.price_per_node) == ("g4dn.xlarge", "us-east-1", 0.5)


def test_azure_follows_pages_and_reads_spot_meters(home):
    replay = Replay()
    report = update_catalog("azure", home / "catalogs", replay, DAY)
    t4 = rows(report.path, "Standard_NC4as_T4_v3", "eastus")
    assert [(o.price, o.spot_price) for o in t4] == [(0.5, 0.12)]
    assert [o.price for o in rows(report.path, "Standard_ND96asr_v4", "eastus")] == [27.0], "reservations are ignored"
    assert report.repriced == 2
    assert len(replay.urls) == 2


def test_gcp_assembles_machine_prices_from_core_ram_and_gpu_skus(home):
    report = update_catalog("gcp", home / "catalogs", Replay(), DAY, gcp_api_key="test-key")
    n1 = rows(report.path, "n1-standard-4", "us-central1")[0]
    assert n1.price == pytest.approx(4 * 0.031611 + 15 * 0.004237)
    assert n1.spot_price == pytest.approx(4 * 0.00698 + 15 * 0.00094)
    a2 = rows(report.path, "a2-highgpu-8g", "us-central1")[0]
    assert a2.price == pytest.approx(96 * 0.031611 + 680 * 0.004237 + 8 * 2.933908)
    t4 = [o for o in read_offers(report.path, "gcp") if not o.instance_type and o.accelerator == "T4"
          and o.accelerator_count == 2 and o.region == "us-east1"][0]
    assert (t4.price, t4.spot_price) == (pytest.approx(0.70), pytest.approx(0.22))
    untouched = rows(report.path, "g2-standard-4", "us-central1")[0]
    assert untouched.price == price(bundled_row("gcp", InstanceType="g2-standard-4", AvailabilityZone=untouched.zone)), \
        "families without SKUs in the response keep their price"


def test_gcp_without_api_key_says_what_to_set(home):
    with pytest.raises(FetchError, match="STIX_GCP_API_KEY"):
        update_catalog("gcp", home / "catalogs", Replay(), DAY)


def test_cli_reports_a_failed_fetch_in_one_line(stix):
    """The fetch goes through a proxy that refuses connections: it fails the same with or without a network."""
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))  # bound, never listening: connections to it are refused
        proxy = f"http://127.0.0.1:{refusing.getsockname()[1]}"
        result = stix("catalog", "update", "azure", timeout=120, HTTPS_PROXY=proxy, https_proxy=proxy,
                      NO_PROXY="", no_proxy="")
    assert result.returncode == 1
    assert result.stderr.startswith("stix: error: azure: fetching https://prices.azure.com/api/retail/prices failed")
    assert "refused" in result.stderr.lower() and "Traceback" not in result.stderr
    assert not (stix.home / "catalogs").exists(), "a failed update writes no catalog"
