"""`stix catalog update`: reprice the catalog from a cloud's public price endpoint.

The endpoints give prices, not machine specs, so the update walks the current
catalog's rows (specs kept) and replaces each price it finds; rows the endpoint
does not price keep their old price, and the report says how many.
"""

from __future__ import annotations

import csv
import datetime
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional

from stix.catalog.fetch import aws, azure, gcp
from stix.catalog.fetch.http import FetchJson
from stix.catalog.load import catalog_file, read_offers, source_line
from stix.catalog.offers import Offer
from stix.errors import UsageError

UPDATABLE = ("aws", "gcp", "azure")
COLUMNS = ["InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB", "GpuInfo", "Price",
           "SpotPrice", "Region", "AvailabilityZone"]


@dataclass(frozen=True)
class UpdateReport:
    cloud: str
    path: Path
    rows: int
    repriced: int
    source: str

    def describe(self) -> str:
        return (f"{self.cloud}: repriced {self.repriced} of {self.rows} rows from {self.source}; "
                f"wrote {self.path}")


def update_catalog(cloud: str, out_dir: Path, fetch: FetchJson, today: Optional[datetime.date] = None,
                   gcp_api_key: Optional[str] = None) -> UpdateReport:
    if cloud not in UPDATABLE:
        raise UsageError(f"cannot update the {cloud!r} catalog; updatable: {', '.join(UPDATABLE)}")
    current_path = catalog_file(cloud)
    if current_path is None:
        raise UsageError(f"no current {cloud} catalog to update")
    current = read_offers(current_path, cloud)
    reprice = _repricer(cloud, current, fetch, gcp_api_key)
    updated, repriced, source = [], 0, ""
    for offer in current:
        new, changed = reprice(offer)
        updated.append(new)
        repriced += changed
    source = _SOURCES[cloud]
    day = (today or datetime.date.today()).isoformat()
    header = (f"# source: {source}, fetched {day}; {repriced} of {len(current)} rows repriced, the rest kept from: "
              f"{source_line(current_path)[:200]}. date: {day}\n")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{cloud}.csv"
    _write(path, header, updated)
    return UpdateReport(cloud, path, len(current), repriced, source)


_SOURCES = {
    "aws": "AWS Price List bulk API (EC2 OnDemand, Linux, shared tenancy; spot prices kept)",
    "azure": "Azure Retail Prices API (Linux consumption; Spot meters)",
    "gcp": "GCP Cloud Billing Catalog API (Compute Engine SKUs)",
}


def _repricer(cloud: str, current: list[Offer], fetch: FetchJson,
              gcp_api_key: Optional[str]) -> Callable[[Offer], tuple[Offer, bool]]:
    if cloud == "aws":
        book = aws.fetch_prices(fetch, sorted({o.region for o in current}))

        def reprice(offer: Offer) -> tuple[Offer, bool]:
            price = book.price(offer.instance_type, offer.region)
            return (replace(offer, price=price), True) if price is not None else (offer, False)
        return reprice
    if cloud == "azure":
        book = azure.fetch_prices(fetch)

        def reprice(offer: Offer) -> tuple[Offer, bool]:
            price = book.price(offer.instance_type, offer.region)
            if price is None:
                return offer, False
            return replace(offer, price=price, spot_price=book.spot_price(offer.instance_type, offer.region)), True
        return reprice
    units = gcp.unit_prices(gcp.fetch_skus(fetch, gcp_api_key))

    def reprice(offer: Offer) -> tuple[Offer, bool]:
        def at(spot: bool) -> Optional[float]:
            return gcp.machine_price(units, offer.instance_type, offer.vcpus or 0, offer.memory_gib or 0,
                                     offer.accelerator, offer.accelerator_count, offer.region, spot)
        price = at(False)
        if price is None:
            return offer, False
        return replace(offer, price=round(price, 6), spot_price=_round(at(True))), True
    return reprice


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 6)


def _write(path: Path, header: str, offers: list[Offer]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as handle:
        handle.write(header)
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for o in offers:
            writer.writerow([o.instance_type, o.accelerator, _num(o.accelerator_count) if o.accelerator else "",
                             _num(o.vcpus), _num(o.memory_gib), "", _num(o.price), _num(o.spot_price),
                             o.region, o.zone])
    os.replace(tmp, path)


def _num(value: Optional[float]) -> str:
    if value is None:
        return ""
    return str(int(value)) if value == int(value) else f"{value:.6g}"
