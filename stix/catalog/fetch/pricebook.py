from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class PriceBook:
    """$/hr by (instance type or accelerator key, region); spot where the endpoint publishes it."""

    on_demand: dict[tuple[str, str], float] = field(default_factory=dict)
    spot: dict[tuple[str, str], float] = field(default_factory=dict)
    source: str = ""

    def price(self, key: str, region: str) -> Optional[float]:
        return self.on_demand.get((key, region))

    def spot_price(self, key: str, region: str) -> Optional[float]:
        return self.spot.get((key, region))
