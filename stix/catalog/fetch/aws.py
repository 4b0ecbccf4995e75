"""AWS: the EC2 Price List bulk offer files (public, no credentials).

The region index names one offer file per region; each holds products (with
attributes) and OnDemand terms. Spot prices are not in the Price List (they
need the EC2 API and credentials), so an update keeps the catalog's spot prices.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable, Optional

from stix.catalog.fetch.http import FetchJson
from stix.catalog.fetch.pricebook import PriceBook
from stix.catalog.offers import Offer

BASE = "https://pricing.us-east-1.amazonaws.com"
REGION_INDEX = f"{BASE}/offers/v1.0/aws/AmazonEC2/current/region_index.json"
LINUX_SHARED = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}


def fetch_prices(fetch: FetchJson, regions: Iterable[str]) -> PriceBook:
    index = fetch(REGION_INDEX)["regions"]
    book = PriceBook(source="AWS Price List bulk API (EC2 OnDemand, Linux, shared tenancy)")
    for region in regions:
        entry = index.get(region)
        if entry is None:
            continue
        offer = fetch(BASE + entry["currentVersionUrl"])
        book.on_demand.update(parse_offer(offer, region))
    return book


def parse_offer(offer: dict, region: str) -> dict[tuple[str, str], float]:
    instance_of: dict[str, str] = {}
    for sku, product in offer.get("products", {}).items():
        attributes = product.get("attributes", {})
        if product.get("productFamily") not in ("Compute Instance", "Compute Instance (bare metal)"):
            continue
        if any(attributes.get(key) != value for key, value in LINUX_SHARED.items()):
            continue
        if attributes.get("licenseModel", "No License required") != "No License required":
            continue
        instance_of[sku] = attributes["instanceType"]
    prices: dict[tuple[str, str], float] = {}
    for sku, terms in offer.get("terms", {}).get("OnDemand", {}).items():
        instance_type = instance_of.get(sku)
        if instance_type is None:
            continue
        for term in terms.values():
            for dimension in term.get("priceDimensions", {}).values():
                if dimension.get("unit") != "Hrs":
                    continue
                usd = float(dimension["pricePerUnit"]["USD"])
                if usd > 0:
                    prices[(instance_type, region)] = usd
    return prices


SOURCE = "AWS Price List bulk API (EC2 OnDemand, Linux, shared tenancy; spot prices kept)"


def repricer(current: list[Offer], fetch: FetchJson, api_key: Optional[str] = None) -> Callable[[Offer], tuple[Offer, bool]]:
    book = fetch_prices(fetch, sorted({o.region for o in current}))

    def reprice(offer: Offer) -> tuple[Offer, bool]:
        price = book.price(offer.instance_type, offer.region)
        return (replace(offer, price=price), True) if price is not None else (offer, False)
    return reprice
