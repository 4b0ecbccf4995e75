"""`stix catalog update <cloud> --source skypilot`: SkyPilot's published catalog as a source.

SkyPilot publishes a `vms.csv` per cloud (skypilot-org/skypilot-catalog, catalogs/v8/<cloud>/). It
lists every instance type in every region; stix keeps, in the regions its bundled catalog covers, the
instance types it bundles (and GPUs that attach to a host) and every other instance type whose
accelerator stix knows (stix.models.values.ACCELERATORS), so a family SkyPilot adds arrives with the next
update. Two shapes of SkyPilot's files need care, and both are read from the data rather than from the
cloud's name:

- a host row without an accelerator whose bundled row has one (GCP's a2/a3/a4/g2 hosts) is priced as
  SkyPilot prices it: the host plus the row of that accelerator and count in the same zone;
- a zone given as an availability-zone ID (AWS: `use1-az4`) is written as a zone name, `us-east-1d`
  (the ID's number as a letter). AWS maps IDs to names per account, so the letter is nominal; spot
  prices stay per zone. A name the bundled catalog does not list for the region is left out (apne1-az2
  would be ap-northeast-1b, which most accounts lack, and a subnet is made in the zone named), as are
  Local Zones (`use1-atl2-az1`), as the bundled catalog has none.

A source that would drop more than half of the current catalog's instance types (a trimmed or partial copy)
is refused unless the caller asks to replace the catalog: the update writes the source's rows only, so a
2-row file would otherwise leave a 2-row catalog and every other placement would vanish without a word.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import string
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

from stix.atomic import write_atomic
from stix.catalog.fetch import http
from stix.catalog.load import REQUIRED, bundled_dir
from stix.errors import FetchError, UsageError

DEFAULT_URL = "https://raw.githubusercontent.com/skypilot-org/skypilot-catalog/master/catalogs/v8/{cloud}/vms.csv"
COLUMNS = ["InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB", "GpuInfo", "Price",
           "SpotPrice", "Region", "AvailabilityZone"]
OPTIONAL = ("AvailabilityZone",)
FetchText = Callable[[str], str]
Row = dict[str, str]

_AZ_ID = re.compile(r"[a-z]+\d+-az(\d+)")


def default_url(cloud: str) -> str:
    return DEFAULT_URL.format(cloud=cloud)


def fetch_text(url: str) -> str:
    """A local path or a file:// URL read here, an http(s) URL through stix.catalog.fetch.http; any failure
    is one FetchError line."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("http", "https"):
        return http.fetch_text(url)
    try:
        if parsed.scheme not in ("", "file"):
            raise ValueError(f"unsupported URL scheme {parsed.scheme!r}")
        return Path(urllib.parse.unquote(parsed.path) if parsed.scheme else url).expanduser().read_text()
    except Exception as exc:
        raise FetchError(f"reading {http.redacted(url)} failed: {type(exc).__name__}: {exc}") from None


@dataclass(frozen=True)
class Selection:
    """What a stix catalog keeps of SkyPilot's: instance types (empty: GPUs attached to a host), regions,
    and the bundled row of each kept instance type (or attachable GPU and count), for specs SkyPilot's row lacks."""

    instance_types: frozenset[str]
    regions: frozenset[str]
    template: dict[tuple[str, str, str], Row]
    zones: frozenset[str] = frozenset()  # the zone names the bundled catalog lists

    @classmethod
    def of_rows(cls, rows: Iterable[Row]) -> "Selection":
        rows = list(rows)
        template: dict[tuple[str, str, str], Row] = {}
        for row in rows:
            template.setdefault(_kind(row), row)
        return cls(frozenset(r["InstanceType"] for r in rows), frozenset(r["Region"] for r in rows), template,
                   frozenset(r["AvailabilityZone"] for r in rows if r["AvailabilityZone"]))


def read_rows(text: str, source: str) -> list[Row]:
    """A vms.csv's rows by column name ('#' lines skipped); a file without SkyPilot's columns is refused.
    AvailabilityZone may be absent (Azure's file prices per region): its rows read it as empty, as SkyPilot's
    reader adds the column when missing."""
    reader = csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#"))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in header and name not in OPTIONAL]
    if missing:
        raise UsageError(f"{source}: not a SkyPilot vms.csv (lacks columns {', '.join(missing)})")
    rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    for row in rows:
        for name in OPTIONAL:
            row.setdefault(name, "")
    return rows


def bundled_selection(cloud: str) -> Selection:
    path = bundled_dir() / f"{cloud}.csv"
    if not path.is_file():
        raise UsageError(f"stix bundles no {cloud} catalog to select SkyPilot's rows by")
    return Selection.of_rows(read_rows(path.read_text(), str(path)))


def select(rows: list[Row], selection: Selection) -> list[Row]:
    """SkyPilot's rows reduced to the selection, in stix's columns, hosts priced with their GPUs."""
    gpus = {(r["AcceleratorName"], _plain(r["AcceleratorCount"]), r["Region"], r["AvailabilityZone"]): r
            for r in rows if not r["InstanceType"] and r["AcceleratorName"]}
    out = []
    for row in rows:
        if row["Region"] not in selection.regions:
            continue
        template = selection.template.get(_kind(row))
        if row["InstanceType"] not in selection.instance_types or template is None:
            if not (row["InstanceType"] and _known_accelerator(row["AcceleratorName"])):
                continue  # an attachable GPU count, or a host without a GPU stix knows, that stix does not bundle
            template = _accelerator_template(row)
        zone = _zone_name(row["Region"], row["AvailabilityZone"])
        if zone is None or (zone != row["AvailabilityZone"] and zone not in selection.zones):
            continue  # a Local Zone, or a zone ID whose nominal name the bundled catalog does not list
        new = {column: row.get(column, "") for column in COLUMNS}
        new["AvailabilityZone"] = zone
        new["AcceleratorCount"] = _plain(row["AcceleratorCount"])
        if row["InstanceType"] and not row["AcceleratorName"] and template["AcceleratorName"]:
            gpu = gpus.get((template["AcceleratorName"], _plain(template["AcceleratorCount"]), row["Region"],
                            row["AvailabilityZone"]))
            if gpu is None:
                continue  # SkyPilot cannot price this host's GPUs in this zone
            new["Price"] = _sum(row["Price"], gpu["Price"])
            new["SpotPrice"] = _sum(row["SpotPrice"], gpu["SpotPrice"])
            for column in ("AcceleratorName", "AcceleratorCount", "GpuInfo"):
                new[column] = template[column]
        if "Gpus" not in new["GpuInfo"]:
            new["GpuInfo"] = template["GpuInfo"]
        for column in ("vCPUs", "MemoryGiB", "Price", "SpotPrice"):
            new[column] = _plain(new[column])
        if new["Price"] or new["SpotPrice"]:
            out.append(new)
    return out


@dataclass(frozen=True)
class SkyPilotReport:
    cloud: str
    path: Path
    rows: int
    instance_types: int
    url: str

    def describe(self) -> str:
        return (f"{self.cloud}: {self.rows} rows ({self.instance_types} instance types) from SkyPilot's catalog "
                f"{self.url}; wrote {self.path}")


def update_from_skypilot(cloud: str, out_dir: Path, fetch: FetchText = fetch_text, url: Optional[str] = None,
                         today: Optional[datetime.date] = None, replace: bool = False) -> SkyPilotReport:
    """Nothing is written unless the source is read, is a SkyPilot vms.csv, leaves rows after selection, and
    (without replace) keeps at least half of the current catalog's instance types."""
    from stix.catalog.update import updatable

    clouds = updatable()
    if cloud not in clouds:
        raise UsageError(f"cannot update the {cloud!r} catalog; updatable: {', '.join(clouds)}")
    url = url or default_url(cloud)
    selection = bundled_selection(cloud)
    rows = select(read_rows(fetch(url), url), selection)
    if not rows:
        raise UsageError(f"{url}: no rows for the instance types and regions of stix's {cloud} catalog")
    if not replace:
        _refuse_shrinking(cloud, out_dir, url, {r["InstanceType"] for r in rows})
    day = (today or datetime.date.today()).isoformat()
    header = (f"# source: SkyPilot catalog {url} (the instance types and regions of stix's bundled {cloud} "
              f"catalog), fetched {day}. date: {day}. Refresh: stix catalog update {cloud} --source skypilot\n")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{cloud}.csv"
    write_atomic(path, render(header, rows), new_mode=0o644)
    return SkyPilotReport(cloud, path, len(rows), len({r["InstanceType"] for r in rows}), url)


def _refuse_shrinking(cloud: str, out_dir: Path, url: str, kept: set[str]) -> None:
    """The current catalog is the one this update replaces: an earlier update in out_dir, else the bundled file."""
    current = out_dir / f"{cloud}.csv"
    if not current.is_file():
        current = bundled_dir() / f"{cloud}.csv"
    types = {r["InstanceType"] for r in read_rows(current.read_text(), str(current)) if r["InstanceType"]}
    dropped = types - kept
    if types and len(dropped) * 2 > len(types):
        raise UsageError(f"{url}: would drop {len(dropped)} of the {len(types)} instance types in {current} "
                         f"(a partial file?); pass --replace to write it anyway")


def _known_accelerator(name: str) -> bool:
    from stix.models.values import canonical_accelerator

    if not name:
        return False
    try:
        canonical_accelerator(name)
    except ValueError:
        return False
    return True


def _accelerator_template(row: Row) -> Row:
    """For an instance type stix does not bundle: its own GpuInfo when SkyPilot gives one, else one from the
    accelerator table (Azure's file names the GPU only)."""
    from stix.gpus import GPU_MEMORY_GIB
    from stix.models.values import canonical_accelerator

    info = row["GpuInfo"]
    if "Gpus" not in info:
        name = canonical_accelerator(row["AcceleratorName"])
        count = float(row["AcceleratorCount"] or 0)
        mib = int(GPU_MEMORY_GIB.get(name, 0) * 1024)
        whole = int(count) if count >= 1 else 1
        gpus = [{"Name": name, "Count": whole, "MemoryInfo": {"SizeInMiB": mib}}]
        info = str({"Gpus": gpus, "TotalGpuMemoryInMiB": whole * mib}) if mib else ""  # the catalogs' own style
    return {"AcceleratorName": row["AcceleratorName"], "AcceleratorCount": row["AcceleratorCount"], "GpuInfo": info}


def render(header: str, rows: list[Row]) -> str:
    text = io.StringIO()
    text.write(header)
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def _kind(row: Row) -> tuple[str, str, str]:
    if row["InstanceType"]:
        return (row["InstanceType"], "", "")
    return ("", row["AcceleratorName"], _plain(row["AcceleratorCount"]))


def _zone_name(region: str, zone: str) -> Optional[str]:
    if zone.startswith(region) or not zone:
        return zone
    match = _AZ_ID.fullmatch(zone)
    if match is None or not 1 <= int(match.group(1)) <= 26:
        return None
    return region + string.ascii_lowercase[int(match.group(1)) - 1]


def _plain(text: str) -> str:
    """'8.0' -> '8', '0.204000' -> '0.204', '' stays ''."""
    if not text or text.lower() == "nan":
        return ""
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value == int(value) else f"{value:.10g}"


def _sum(a: str, b: str) -> str:
    if not a or not b:
        return ""
    return _plain(str(round(float(a) + float(b), 6)))
