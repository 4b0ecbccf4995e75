"""Offers and the in-memory catalog, indexed for the optimizer's queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional


@dataclass(frozen=True, slots=True)
class Offer:
    cloud: str
    instance_type: str
    """Empty for a GCP accelerator that attaches to an N1 host."""
    accelerator: str
    """Canonical accelerator name, or empty for a CPU-only instance."""
    accelerator_count: float
    vcpus: Optional[float]
    """None: sized at run time (the local cloud's node is the host)."""
    memory_gib: Optional[float]
    price: Optional[float]
    spot_price: Optional[float]
    region: str
    zone: str

    @property
    def attachable(self) -> bool:
        return not self.instance_type and bool(self.accelerator)


@dataclass
class Catalog:
    offers: list[Offer] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    """cloud -> the file it was read from."""

    def __post_init__(self) -> None:
        self._by_accelerator: dict[str, list[Offer]] = {}
        self._cpu_only: list[Offer] = []
        self._hosts: dict[tuple[str, str], list[Offer]] = {}
        self._index(self.offers)

    def _index(self, offers: Iterable[Offer]) -> None:
        for offer in offers:
            if offer.accelerator:
                self._by_accelerator.setdefault(offer.accelerator.lower(), []).append(offer)
            else:
                self._cpu_only.append(offer)
                if offer.cloud == "gcp" and offer.instance_type.startswith("n1-"):
                    self._hosts.setdefault((offer.cloud, offer.zone), []).append(offer)

    def extend(self, offers: list[Offer], cloud: str, source: str) -> None:
        self.offers.extend(offers)
        self.sources[cloud] = source
        self._index(offers)

    def with_accelerator(self, name: str) -> list[Offer]:
        return self._by_accelerator.get(name.lower(), [])

    def cpu_only(self) -> list[Offer]:
        return self._cpu_only

    def gcp_hosts(self, zone: str) -> list[Offer]:
        """N1 instances in a zone: the hosts an attachable GPU can be added to."""
        return self._hosts.get(("gcp", zone), [])

    def accelerator_names(self) -> list[str]:
        return sorted({offers[0].accelerator for offers in self._by_accelerator.values()})

    def clouds(self) -> list[str]:
        return sorted({offer.cloud for offer in self.offers})
