"""Golden prices come from the bundled catalogs' CSV rows, read plainly (not through stix's loader)."""

from __future__ import annotations

import csv
from tests.conftest import REPO

CATALOGS = REPO / "catalogs"


def bundled_rows(cloud: str, **match: str) -> list[dict[str, str]]:
    """Rows of a catalog whose columns equal `match` (column names as in the CSV header)."""
    with open(CATALOGS / f"{cloud}.csv", newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return [row for row in rows if all(row[column] == value for column, value in match.items())]


def bundled_row(cloud: str, **match: str) -> dict[str, str]:
    rows = bundled_rows(cloud, **match)
    assert len(rows) == 1, f"{cloud}.csv: {len(rows)} rows match {match}"
    return rows[0]


def price(row: dict[str, str], spot: bool = False) -> float:
    return float(row["SpotPrice" if spot else "Price"])
