"""Read catalogs: stix's bundled CSVs, or a SkyPilot catalog directory as it is.

Columns are found by name, so any column order works (SkyPilot's GCP files
order them differently). Lines starting with '#' are comments: stix's own files
state their source and date there.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Iterable, Optional

from stix.catalog.offers import Catalog, Offer
from stix.errors import CatalogError

REQUIRED = ("InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB", "Price", "SpotPrice",
            "Region", "AvailabilityZone")


def bundled_dir() -> Path:
    import stix.catalogs

    return Path(stix.catalogs.__file__).parent


def user_catalog_dir() -> Optional[Path]:
    """STIX_CATALOG_DIR, else the config files' catalog.dir: a directory of stix CSVs or a SkyPilot catalog
    directory, used as it is."""
    override = os.environ.get("STIX_CATALOG_DIR")
    if override:
        return Path(override).expanduser()
    from stix.project import config_for

    catalog = config_for(None).values.catalog
    return Path(catalog.dir) if catalog is not None and catalog.dir else None


def updated_dir() -> Path:
    """Where `stix catalog update` writes: under stix's home, read before the bundled catalogs."""
    from stix.home import StixHome

    return StixHome.from_env().root / "catalogs"


def catalog_dirs(root: Optional[Path] = None) -> list[Path]:
    """Where catalog files are looked up, first first: root, STIX_CATALOG_DIR (else the config's catalog.dir),
    the catalogs `stix catalog update` wrote, then the bundled ones."""
    return [base for base in (root, user_catalog_dir(), updated_dir(), bundled_dir()) if base is not None]


def catalog_file(cloud: str, root: Optional[Path] = None, dirs: Optional[list[Path]] = None) -> Optional[Path]:
    """`<cloud>.csv` (stix) or `<cloud>/vms.csv` (SkyPilot), looked up in dirs (default: catalog_dirs(root))."""
    for base in dirs if dirs is not None else catalog_dirs(root):
        for candidate in (base / f"{cloud}.csv", base / cloud / "vms.csv"):
            if candidate.is_file():
                return candidate
    return None


def catalog_clouds() -> list[str]:
    """The clouds whose offers come from a catalog file."""
    from stix.components.base import CLOUD_NAMES, cloud_for

    return [name for name in CLOUD_NAMES if cloud_for(name).catalog]


def load_catalog(clouds: Optional[Iterable[str]] = None, root: Optional[Path] = None) -> Catalog:
    catalog = Catalog()
    dirs = catalog_dirs(root)  # once: the user's directory comes from the config files
    for cloud in catalog_clouds() if clouds is None else clouds:
        path = catalog_file(cloud, dirs=dirs)
        if path is not None:
            catalog.extend(read_offers(path, cloud), cloud, str(path))
    return catalog


def source_line(path: Path) -> str:
    with open(path, newline="") as handle:
        first = handle.readline().strip()
    return first.lstrip("# ").strip() if first.startswith("#") else "(no source line)"


def read_offers(path: Path, cloud: str) -> list[Offer]:
    from stix.models.values import canonical_accelerator

    names: dict[str, str] = {}
    with open(path, newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        reader = csv.reader(lines)
        try:
            header = next(reader)
        except StopIteration:
            raise CatalogError(f"{path}: empty catalog") from None
        column = {name.strip(): i for i, name in enumerate(header)}
        missing = [name for name in REQUIRED if name not in column]
        if missing:
            raise CatalogError(f"{path}: catalog lacks columns {', '.join(missing)}")
        idx = [column[name] for name in REQUIRED]
        offers = []
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                itype, accel, count, vcpus, mem, price, spot, region, zone = (row[i].strip() for i in idx)
            except IndexError:
                raise CatalogError(f"{path}:{number}: row has {len(row)} columns, expected {len(header)}") from None
            if accel:
                canonical = names.get(accel)
                if canonical is None:
                    try:
                        canonical = canonical_accelerator(accel)
                    except ValueError:
                        canonical = accel  # an accelerator stix has no canonical name for: keep it as is
                    names[accel] = canonical
                accel = canonical
            try:
                offers.append(Offer(cloud, itype, accel, float(count) if count else 0.0, _num(vcpus), _num(mem),
                                    _num(price), _num(spot), region, zone))
            except ValueError as exc:
                raise CatalogError(f"{path}:{number}: {exc}") from None
    return offers


def _num(text: str) -> Optional[float]:
    return float(text) if text and text.lower() != "nan" else None
