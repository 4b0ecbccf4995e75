"""GCP: the Cloud Billing Catalog API (Compute Engine SKUs; needs an API key).

VM prices are per vCPU and per GiB of memory for each machine family, and GPUs
are priced per GPU, so a machine type's price is assembled from its specs.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import replace
from typing import Callable, Optional

from stix.catalog.fetch.http import FetchError, FetchJson
from stix.catalog.offers import Offer

SERVICE = "6F81-5844-456A"  # Compute Engine
API = f"https://cloudbilling.googleapis.com/v1/services/{SERVICE}/skus"
MAX_PAGES = 500
GPU_SKUS = {
    "T4": "Nvidia Tesla T4 GPU", "V100": "Nvidia Tesla V100 GPU", "P100": "Nvidia Tesla P100 GPU",
    "P4": "Nvidia Tesla P4 GPU", "A100": "Nvidia Tesla A100 GPU", "A100-80GB": "Nvidia A100 80GB GPU",
    "L4": "Nvidia L4 GPU", "H100": "Nvidia H100 80GB GPU", "H100-MEGA": "Nvidia H100 80GB Mega GPU",
}
FAMILY_SKUS = {"n1": "N1 Predefined Instance", "n2": "N2 Instance", "e2": "E2 Instance", "a2": "A2 Instance",
               "a3": "A3 Instance", "g2": "G2 Instance"}


def fetch_skus(fetch: FetchJson, api_key: Optional[str]) -> list[dict]:
    if not api_key:
        raise FetchError("GCP's Cloud Billing Catalog needs an API key: set STIX_GCP_API_KEY")
    skus: list[dict] = []
    token = ""
    for _ in range(MAX_PAGES):
        query = {"key": api_key, "pageSize": "5000", **({"pageToken": token} if token else {})}
        page = fetch(f"{API}?{urllib.parse.urlencode(query)}")
        skus.extend(page.get("skus", []))
        token = page.get("nextPageToken", "")
        if not token:
            break
    return skus


def unit_prices(skus: list[dict]) -> dict[tuple[str, str, bool], float]:
    """(description stem, region, spot) -> $ per unit-hour."""
    out: dict[tuple[str, str, bool], float] = {}
    for sku in skus:
        category = sku.get("category", {})
        if category.get("resourceFamily") != "Compute" or category.get("usageType") not in ("OnDemand", "Preemptible"):
            continue
        spot = category["usageType"] == "Preemptible"
        description = sku.get("description", "").removeprefix("Spot Preemptible ").removeprefix("Preemptible ")
        stem = description.split(" running in ")[0]
        for suffix in (" attached to Spot Preemptible VMs", " attached to Preemptible VMs"):
            stem = stem.removesuffix(suffix)
        price = _hourly(sku)
        if price is None:
            continue
        for region in sku.get("serviceRegions", []):
            out[(stem, region, spot)] = price
    return out


def _hourly(sku: dict) -> Optional[float]:
    for info in sku.get("pricingInfo", []):
        expression = info.get("pricingExpression", {})
        rates = expression.get("tieredRates", [])
        if not rates:
            continue
        money = rates[-1]["unitPrice"]
        value = int(money.get("units", "0")) + money.get("nanos", 0) / 1e9
        unit = expression.get("usageUnit", "h")
        return value if unit in ("h", "GiBy.h") else None
    return None


def machine_price(units: dict, instance_type: str, vcpus: float, memory_gib: float, accelerator: str,
                  count: float, region: str, spot: bool) -> Optional[float]:
    total = 0.0
    if instance_type:
        family = FAMILY_SKUS.get(instance_type.split("-")[0])
        core = units.get((f"{family} Core", region, spot)) if family else None
        ram = units.get((f"{family} Ram", region, spot)) if family else None
        if core is None or ram is None:
            return None
        total += core * vcpus + ram * memory_gib
    if accelerator:
        gpu = units.get((GPU_SKUS.get(accelerator, ""), region, spot))
        if gpu is None:
            return None
        total += gpu * count
    return total


SOURCE = "GCP Cloud Billing Catalog API (Compute Engine SKUs)"


def repricer(current: list[Offer], fetch: FetchJson, api_key: Optional[str] = None) -> Callable[[Offer], tuple[Offer, bool]]:
    units = unit_prices(fetch_skus(fetch, api_key))

    def reprice(offer: Offer) -> tuple[Offer, bool]:
        def at(spot: bool) -> Optional[float]:
            return machine_price(units, offer.instance_type, offer.vcpus or 0, offer.memory_gib or 0,
                                 offer.accelerator, offer.accelerator_count, offer.region, spot)
        price = at(False)
        if price is None:
            return offer, False
        spot_price = at(True)
        return replace(offer, price=round(price, 6), spot_price=None if spot_price is None else round(spot_price, 6)), True
    return reprice
