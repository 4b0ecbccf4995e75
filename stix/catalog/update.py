"""`stix catalog update`: reprice the catalog from a cloud's public price endpoint.

The endpoints give prices, not machine specs, so the update walks the current
catalog's rows (specs kept) and replaces each price it finds; rows the endpoint
does not price keep their old price, and the report says how many.
"""

from __future__ import annotations

import csv
import datetime
import importlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from stix.catalog.fetch.http import FetchJson
from stix.catalog.load import catalog_file, read_offers, source_line
from stix.catalog.offers import Offer
from stix.atomic import write_atomic
from stix.errors import UsageError

COLUMNS = ["InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB", "GpuInfo", "Price",
           "SpotPrice", "Region", "AvailabilityZone"]


def updatable() -> list[str]:
    """The clouds whose class names a module that reprices its catalog."""
    from stix.components.base import CLOUD_NAMES, cloud_for

    return [name for name in CLOUD_NAMES if cloud_for(name).prices]


def _prices(cloud: str) -> Any:
    from stix.components.base import cloud_for

    return importlib.import_module(str(cloud_for(cloud).prices))


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
    clouds = updatable()
    if cloud not in clouds:
        raise UsageError(f"cannot update the {cloud!r} catalog; updatable: {', '.join(clouds)}")
    prices = _prices(cloud)
    current_path = catalog_file(cloud)
    if current_path is None:
        raise UsageError(f"no current {cloud} catalog to update")
    current = read_offers(current_path, cloud)
    reprice = prices.repricer(current, fetch, gcp_api_key)
    updated, repriced = [], 0
    for offer in current:
        new, changed = reprice(offer)
        updated.append(new)
        repriced += changed
    source = prices.SOURCE
    day = (today or datetime.date.today()).isoformat()
    header = (f"# source: {source}, fetched {day}; {repriced} of {len(current)} rows repriced, the rest kept from: "
              f"{source_line(current_path)[:200]}. date: {day}\n")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{cloud}.csv"
    _write(path, header, updated)
    return UpdateReport(cloud, path, len(current), repriced, source)


def _write(path: Path, header: str, offers: list[Offer]) -> None:
    text = io.StringIO()
    text.write(header)
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for o in offers:
        writer.writerow([o.instance_type, o.accelerator, _num(o.accelerator_count) if o.accelerator else "",
                         _num(o.vcpus), _num(o.memory_gib), "", _num(o.price), _num(o.spot_price), o.region, o.zone])
    write_atomic(path, text.getvalue(), new_mode=0o644)


def _num(value: Optional[float]) -> str:
    if value is None:
        return ""
    return str(int(value)) if value == int(value) else f"{value:.6g}"
