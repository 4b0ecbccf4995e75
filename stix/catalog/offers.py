"""Offers, requests and candidates: the data a cloud's offers are matched on, and the matching itself.

Pure and cheap: the optimizer ranks what the clouds' classes (components/<cloud>) return from these.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field, replace
from typing import Iterable, Optional

from stix.errors import StixError
from stix.models import values
from stix.models.values import number

DEFAULT_CPUS = values.Amount(4, True)
"""A cloud VM for a task that asks for nothing in particular: at least 4 vCPUs."""
LOCAL_GPUS_ENV = "STIX_LOCAL_GPUS"


@dataclass(frozen=True, slots=True)
class Offer:
    cloud: str
    instance_type: str
    """Empty for a GPU that attaches to a host instance (GCP's N1 GPUs)."""
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
        self._hosts: dict[tuple[str, str], list[Offer]] = {}
        self._of_cloud: dict[tuple[str, str], list[Offer]] = {}
        self._index(self.offers)

    def _index(self, offers: Iterable[Offer]) -> None:
        for offer in offers:
            self._of_cloud.setdefault((offer.cloud, offer.accelerator.lower()), []).append(offer)
            if offer.accelerator:
                self._by_accelerator.setdefault(offer.accelerator.lower(), []).append(offer)
            else:
                self._hosts.setdefault((offer.cloud, offer.zone), []).append(offer)

    def extend(self, offers: list[Offer], cloud: str, source: str) -> None:
        self.offers.extend(offers)
        self.sources[cloud] = source
        self._index(offers)

    def with_accelerator(self, name: str) -> list[Offer]:
        return self._by_accelerator.get(name.lower(), [])

    def of_cloud(self, cloud: str, accelerator: Optional[str] = None) -> list[Offer]:
        """A cloud's offers with this accelerator (None: its CPU-only offers)."""
        return self._of_cloud.get((cloud, (accelerator or "").lower()), [])

    def hosts(self, cloud: str, zone: str) -> list[Offer]:
        """CPU-only instances of a cloud in a zone: what an attachable GPU can be added to."""
        return self._hosts.get((cloud, zone), [])

    def accelerator_names(self) -> list[str]:
        return sorted({offers[0].accelerator for offers in self._by_accelerator.values()})

    def clouds(self) -> list[str]:
        return sorted({offer.cloud for offer in self.offers})


@dataclass(frozen=True)
class Request:
    """One concrete alternative of a task's resources (one accelerator choice, one any_of entry)."""

    cloud: Optional[str] = None
    region: Optional[str] = None
    zone: Optional[str] = None
    instance_type: Optional[str] = None
    accelerator: Optional[values.Accelerator] = None
    cpus: Optional[values.Amount] = None
    memory: Optional[values.Memory] = None
    use_spot: bool = False
    max_hourly_cost: Optional[float] = None

    @property
    def asks_nothing(self) -> bool:
        return self.accelerator is None and self.instance_type is None and self.cpus is None and self.memory is None

    def describe(self) -> str:
        parts = []
        if self.accelerator:
            parts.append(str(self.accelerator))
        if self.instance_type:
            parts.append(self.instance_type)
        if self.cpus:
            parts.append(f"cpus={number(self.cpus.value)}{'+' if self.cpus.at_least else ''}")
        if self.memory:
            parts.append(f"memory={self.memory}")
        if self.use_spot:
            parts.append("spot")
        where = "/".join(p for p in (self.cloud, self.region, self.zone) if p)
        return " ".join(parts or ["cpu"]) + (f" on {where}" if where else "")


@dataclass(frozen=True)
class Candidate:
    cloud: str
    region: str
    zone: str
    instance_type: str
    accelerator: str
    accelerator_count: float
    """GPUs per node."""
    vcpus: Optional[float]
    memory_gib: Optional[float]
    spot: bool
    price_per_node: float
    num_nodes: int
    group: int = field(default=0, compare=False)
    """Which `ordered` preference (or accelerator choice) it came from: failover exhausts a group before the next."""

    @property
    def hourly_cost(self) -> float:
        return self.price_per_node * self.num_nodes

    @property
    def accelerators(self) -> str:
        return f"{self.accelerator}:{number(self.accelerator_count)}" if self.accelerator else "-"

    @property
    def location(self) -> str:
        return "/".join(p for p in (self.region, self.zone) if p) or "-"


@dataclass(frozen=True)
class HostLimits:
    """The local cloud's node is this machine."""

    vcpus: float
    memory_gib: float
    accelerator: Optional[values.Accelerator] = None
    """What each local node declares it has (STIX_LOCAL_GPUS=A100:2): the job queue's GPU bookkeeping,
    SKYPILOT_NUM_GPUS_PER_NODE and CUDA_VISIBLE_DEVICES follow it; nothing probes real devices."""

    @classmethod
    def detect(cls) -> "HostLimits":
        """This machine's limits: read once per process (and STIX_LOCAL_GPUS value), however often asked."""
        return _detect_host(os.environ.get(LOCAL_GPUS_ENV, "").strip())


@functools.lru_cache(maxsize=None)
def _detect_host(declared: str) -> HostLimits:
    try:
        with open("/proc/meminfo") as handle:
            kib = next(int(line.split()[1]) for line in handle if line.startswith("MemTotal:"))
    except (OSError, StopIteration, ValueError):
        kib = 0
    accelerator = None
    if declared:
        try:
            accelerator = values.parse_accelerator(declared)
        except ValueError as exc:
            raise StixError(f"{LOCAL_GPUS_ENV}={declared!r}: {exc}") from None
    return HostLimits(float(os.cpu_count() or 1), kib / 1024 / 1024, accelerator)


# --- matching -------------------------------------------------------------------------------


def amount_ok(have: Optional[float], want: Optional[values.Amount]) -> bool:
    if want is None:
        return True
    if have is None:
        return False
    return have >= want.value if want.at_least else abs(have - want.value) < 1e-9


def memory_ok(have: Optional[float], vcpus: Optional[float], want: Optional[values.Memory]) -> bool:
    if want is None:
        return True
    if have is None:
        return False
    if want.per_cpu is not None:
        return vcpus is not None and have >= want.per_cpu * vcpus - 1e-9
    return have >= (want.gib or 0.0) - 1e-9 if want.at_least else abs(have - (want.gib or 0.0)) < 1e-6


def place_ok(offer: Offer, request: Request) -> bool:
    return ((request.region is None or offer.region == request.region)
            and (request.zone is None or offer.zone == request.zone))


def price_of(offer: Offer, spot: bool) -> Optional[float]:
    return offer.spot_price if spot else offer.price


def candidate(offer: Offer, instance_type: str, vcpus: Optional[float], memory: Optional[float], price: float,
              request: Request, num_nodes: int) -> Candidate:
    return Candidate(offer.cloud, offer.region, offer.zone, instance_type, offer.accelerator,
                     offer.accelerator_count, vcpus, memory, request.use_spot, price, num_nodes)


def catalog_candidates(cloud: str, request: Request, catalog: Catalog, num_nodes: int) -> list[Candidate]:
    """A cloud's catalog offers that satisfy the request: instances with exactly the accelerators asked
    (GPUs that attach to a host are left to the cloud that has them), sizes, spot, price cap."""
    want = replace(request, cpus=DEFAULT_CPUS) if request.asks_nothing else request
    pool = catalog.of_cloud(cloud, request.accelerator.name if request.accelerator else None)
    out: list[Candidate] = []
    for offer in pool:
        if offer.attachable or not place_ok(offer, request):
            continue
        if request.accelerator is not None and abs(offer.accelerator_count - request.accelerator.count) > 1e-9:
            continue
        if request.instance_type and offer.instance_type != request.instance_type:
            continue
        if not (amount_ok(offer.vcpus, want.cpus) and memory_ok(offer.memory_gib, offer.vcpus, want.memory)):
            continue
        price = price_of(offer, request.use_spot)
        if price is None or (request.max_hourly_cost is not None and price > request.max_hourly_cost):
            continue
        out.append(candidate(offer, offer.instance_type, offer.vcpus, offer.memory_gib, price, request, num_nodes))
    return out


