"""Azure: the Retail Prices API (public, no credentials), followed page by page."""

from __future__ import annotations

import urllib.parse
from dataclasses import replace
from typing import Callable, Optional

from stix.catalog.fetch.http import FetchJson
from stix.catalog.fetch.pricebook import PriceBook
from stix.catalog.offers import Offer

API = "https://prices.azure.com/api/retail/prices"
FILTER = "serviceName eq 'Virtual Machines' and priceType eq 'Consumption'"
MAX_PAGES = 2000


def first_url() -> str:
    return f"{API}?api-version=2023-01-01-preview&$filter={urllib.parse.quote(FILTER)}"


def fetch_prices(fetch: FetchJson) -> PriceBook:
    book = PriceBook(source="Azure Retail Prices API (Linux consumption; Spot meters for spot)")
    url = first_url()
    for _ in range(MAX_PAGES):
        page = fetch(url)
        add_items(book, page.get("Items", []))
        url = page.get("NextPageLink")
        if not url:
            break
    return book


def add_items(book: PriceBook, items: list[dict]) -> None:
    for item in items:
        if item.get("currencyCode", "USD") != "USD" or item.get("type") != "Consumption":
            continue
        if item.get("unitOfMeasure") != "1 Hour" or "Windows" in item.get("productName", ""):
            continue
        meter = item.get("meterName", "")
        if "Low Priority" in meter:
            continue
        key = (item["armSkuName"], item["armRegionName"])
        price = float(item["retailPrice"])
        if price <= 0:
            continue
        target = book.spot if "Spot" in meter else book.on_demand
        target[key] = min(price, target.get(key, price))


SOURCE = "Azure Retail Prices API (Linux consumption; Spot meters)"


def repricer(current: list[Offer], fetch: FetchJson, api_key: Optional[str] = None) -> Callable[[Offer], tuple[Offer, bool]]:
    book = fetch_prices(fetch)

    def reprice(offer: Offer) -> tuple[Offer, bool]:
        price = book.price(offer.instance_type, offer.region)
        if price is None:
            return offer, False
        return replace(offer, price=price, spot_price=book.spot_price(offer.instance_type, offer.region)), True
    return reprice
