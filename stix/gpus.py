"""`stix gpus`: accelerators in the catalogs, with prices, cheapest region first."""

from __future__ import annotations

from typing import Collection, Optional

from stix.catalog.offers import Catalog, Offer
from stix.errors import UsageError
from stix.models.values import number


GPU_MEMORY_GIB: dict[str, float] = {
    "A10": 24, "A10G": 24, "A100": 40, "A100-80GB": 80, "B200": 180, "H100": 80, "H100-MEGA": 80, "H200": 141,
    "L4": 24, "L40S": 48, "M60": 8, "P100": 16, "P4": 8, "T4": 16, "V100": 16, "V100-32GB": 32,
    "T4g": 16, "Radeon Pro V520": 8, "Gaudi HL-205": 32, "Inferentia": 8, "Inferentia2": 32, "Trainium": 32,
    # SkyPilot's row gives trn2's 16 devices 8 TiB together (AWS's own figure is 96 GiB HBM each); the table follows the rows.
    "Trainium2": 512,
}
"""The accelerator table: each GPU the bundled catalogs offer, with its memory per GPU (GiB, as the catalogs'
GpuInfo gives it). tests/unit/test_catalog_gpus.py holds it and the catalogs to each other both ways."""


def gpu_memory(name: str) -> str:
    memory = GPU_MEMORY_GIB.get(name)
    return f"{number(memory)}GB" if memory else "-"


def parse_filter(text: Optional[str]) -> tuple[Optional[str], Optional[float]]:
    if not text:
        return None, None
    from stix.models.values import canonical_accelerator

    name, colon, count = text.partition(":")
    try:
        canonical = canonical_accelerator(name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not colon:
        return canonical, None
    try:
        return canonical, float(count)
    except ValueError:
        raise UsageError(f"accelerator count {count!r} is not a number") from None


def listed_clouds(cloud: Optional[str], only: Optional[Collection[str]]) -> Optional[frozenset[str]]:
    """--cloud and --clouds together: the clouds to list (and whose catalogs to load), None for every one."""
    if cloud is None:
        return None if only is None else frozenset(only)
    return frozenset({cloud}) if only is None else frozenset({cloud}) & frozenset(only)


def summary_rows(catalog: Catalog, only: Optional[Collection[str]]) -> list[tuple[str, list[float], list[str]]]:
    """(accelerator, the counts offered, the clouds offering them), over the clouds in only (None: every one)."""
    rows = []
    for name in catalog.accelerator_names():
        offers = [o for o in catalog.with_accelerator(name) if only is None or o.cloud in only]
        if offers:
            rows.append((name, sorted({float(o.accelerator_count) for o in offers}), sorted({o.cloud for o in offers})))
    return rows


def offer_records(catalog: Catalog, name: str, count: Optional[float], only: Optional[Collection[str]],
                  region: Optional[str], all_regions: bool) -> list[Offer]:
    """The cheapest offer per cloud, instance type and count (per region too with all_regions), by count then price,
    over the clouds in only (None: every one)."""
    offers = [o for o in catalog.with_accelerator(name)
              if (count is None or o.accelerator_count == count) and (only is None or o.cloud in only)
              and region in (None, o.region) and o.price is not None]
    best: dict[tuple, Offer] = {}
    for offer in sorted(offers, key=lambda o: (o.price, o.region, o.zone)):
        key = (offer.cloud, offer.instance_type, offer.accelerator_count) + ((offer.region,) if all_regions else ())
        best.setdefault(key, offer)
    return sorted(best.values(), key=lambda o: (o.accelerator_count, o.price, o.cloud))


def offer_rows(offers: list[Offer]) -> list[list[str]]:
    return [[o.accelerator, number(o.accelerator_count), o.cloud, o.instance_type or "(attach to n1 host)",
             number(o.vcpus) if o.vcpus else "-", f"{number(o.memory_gib)}GB" if o.memory_gib else "-",
             f"{o.price:.3f}", f"{o.spot_price:.3f}" if o.spot_price is not None else "-", o.region]
            for o in offers]
