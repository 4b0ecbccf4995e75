"""The optimizer: a task's resources -> ranked, feasible placements across enabled clouds.

Pure functions over a Catalog. A request is one concrete alternative (one
accelerator choice, one any_of/ordered entry merged over the base resources);
groups of requests keep `ordered` preferences apart, while everything inside a
group competes on the target (COST: $/hr; TIME: accelerator throughput first).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Iterable, Optional

from stix.catalog.offers import Catalog, Offer
from stix.errors import StixError
from stix.models import values
from stix.models.resources import ResourceFields, Resources

COST = "COST"
TIME = "TIME"
DEFAULT_CPUS = values.Amount(4, True)
"""A cloud VM for a task that asks for nothing in particular: at least 4 vCPUs."""
GCP_HOST_DEFAULT_CPUS = values.Amount(4, True)

# Relative training throughput per accelerator, for the TIME target (H100 = 1.0).
THROUGHPUT = {
    "H200": 1.15, "H100-MEGA": 1.0, "H100": 1.0, "A100-80GB": 0.55, "A100": 0.5, "L40S": 0.4, "V100-32GB": 0.25,
    "V100": 0.24, "A10G": 0.18, "A10": 0.18, "L4": 0.15, "P100": 0.12, "T4": 0.08, "P4": 0.05, "M60": 0.04,
}


class NoFeasiblePlacement(StixError):
    exit_code = 3


@dataclass(frozen=True)
class Request:
    cloud: Optional[str] = None
    region: Optional[str] = None
    zone: Optional[str] = None
    instance_type: Optional[str] = None
    accelerator: Optional[values.Accelerator] = None
    cpus: Optional[values.Amount] = None
    memory: Optional[values.Memory] = None
    use_spot: bool = False
    max_hourly_cost: Optional[float] = None

    def describe(self) -> str:
        parts = []
        if self.accelerator:
            parts.append(f"{self.accelerator.name}:{_n(self.accelerator.count)}")
        if self.instance_type:
            parts.append(self.instance_type)
        if self.cpus:
            parts.append(f"cpus={_n(self.cpus.value)}{'+' if self.cpus.at_least else ''}")
        if self.memory:
            parts.append(f"memory={_memory_text(self.memory)}")
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
    vcpus: Optional[float]
    memory_gib: Optional[float]
    spot: bool
    price_per_node: float
    num_nodes: int

    @property
    def hourly_cost(self) -> float:
        return self.price_per_node * self.num_nodes

    @property
    def accelerators(self) -> str:
        return f"{self.accelerator}:{_n(self.accelerator_count)}" if self.accelerator else "-"

    @property
    def location(self) -> str:
        return "/".join(p for p in (self.region, self.zone) if p) or "-"


@dataclass(frozen=True)
class Placement:
    chosen: Candidate
    candidates: list[Candidate]
    """Every feasible placement, best first: the failover order."""


LOCAL_GPUS_ENV = "STIX_LOCAL_GPUS"


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
        try:
            with open("/proc/meminfo") as handle:
                kib = next(int(line.split()[1]) for line in handle if line.startswith("MemTotal:"))
        except (OSError, StopIteration, ValueError):
            kib = 0
        declared = os.environ.get(LOCAL_GPUS_ENV, "").strip()
        accelerator = None
        if declared:
            try:
                accelerator = values.parse_accelerator(declared)
            except ValueError as exc:
                raise StixError(f"{LOCAL_GPUS_ENV}={declared!r}: {exc}") from None
        return cls(float(os.cpu_count() or 1), kib / 1024 / 1024, accelerator)


# --- requests -------------------------------------------------------------------------------


def request_groups(resources: Resources) -> list[list[Request]]:
    """Resources -> groups of concrete requests; groups are tried in order, a group's members compete."""
    alternatives = resources.ordered or resources.any_of
    merged = [_merged(resources, alt) for alt in alternatives] if alternatives else [resources]
    groups: list[list[Request]] = []
    if resources.ordered or not alternatives:
        for fields in merged:
            groups.extend(_requests_for(fields))
    else:
        pooled = [request for fields in merged for group in _requests_for(fields) for request in group]
        groups.append(pooled)
    return groups


def _merged(base: Resources, alternative: ResourceFields) -> ResourceFields:
    """An any_of / ordered entry over the enclosing resources: the values are already parsed, so no re-validation."""
    fields = {name: getattr(base, name) for name in ResourceFields.model_fields}
    fields.update({name: getattr(alternative, name) for name in alternative.model_fields_set
                   if getattr(alternative, name) is not None})
    if alternative.infra is not None or alternative.cloud is not None:  # a new place replaces the old one whole
        for name in ("infra", "cloud", "region", "zone"):
            if name not in alternative.model_fields_set:
                fields[name] = None
    return ResourceFields.model_construct(**fields)


def _requests_for(fields: ResourceFields) -> list[list[Request]]:
    placement = fields.placement
    base = Request(
        cloud=placement.cloud, region=placement.region, zone=placement.zone,
        instance_type=fields.instance_type, cpus=fields.cpus, memory=fields.memory,
        use_spot=bool(fields.use_spot), max_hourly_cost=fields.max_hourly_cost,
    )
    if fields.accelerators is None:
        return [[base]]
    requests = [replace(base, accelerator=choice) for choice in fields.accelerators.choices]
    return [[request] for request in requests] if fields.accelerators.ordered else [requests]


# --- matching -------------------------------------------------------------------------------


def _amount_ok(have: Optional[float], want: Optional[values.Amount]) -> bool:
    if want is None:
        return True
    if have is None:
        return False
    return have >= want.value if want.at_least else abs(have - want.value) < 1e-9


def _memory_ok(have: Optional[float], vcpus: Optional[float], want: Optional[values.Memory]) -> bool:
    if want is None:
        return True
    if have is None:
        return False
    if want.per_cpu is not None:
        return vcpus is not None and have >= want.per_cpu * vcpus - 1e-9
    return have >= want.gib - 1e-9 if want.at_least else abs(have - want.gib) < 1e-6


def _place_ok(offer: Offer, request: Request, enabled: frozenset[str]) -> bool:
    return (offer.cloud in enabled
            and (request.cloud is None or offer.cloud == request.cloud)
            and (request.region is None or offer.region == request.region)
            and (request.zone is None or offer.zone == request.zone))


def _price(offer: Offer, spot: bool) -> Optional[float]:
    return offer.spot_price if spot else offer.price


def candidates_for(request: Request, catalog: Catalog, enabled: Iterable[str], num_nodes: int,
                   host: Optional[HostLimits] = None, pools: Optional[dict[str, int]] = None) -> list[Candidate]:
    enabled = frozenset(enabled)
    out: list[Candidate] = []
    if request.cloud == "ssh":
        size = (pools or {}).get(request.region or "", 0)
        if request.accelerator or request.use_spot or request.instance_type or size < num_nodes:
            return []
        return [Candidate("ssh", request.region or "", "", f"pool:{request.region}", "", 0.0, None, None, False,
                          0.0, num_nodes)]
    if request.cloud == "kubernetes" and "kubernetes" in enabled:
        pod = _kubernetes(request, num_nodes)
        return [pod] if pod else []
    nothing_asked = request.accelerator is None and request.instance_type is None and \
        request.cpus is None and request.memory is None
    cloud_request = replace(request, cpus=DEFAULT_CPUS) if nothing_asked else request
    if request.accelerator is None:
        pool: Iterable[Offer] = catalog.cpu_only()
    else:  # the local node is in no accelerator's list: what it has is declared at run time
        pool = [*catalog.with_accelerator(request.accelerator.name),
                *(offer for offer in catalog.cpu_only() if offer.cloud == "local")]
    for offer in pool:
        if not _place_ok(offer, request, enabled):
            continue
        if offer.cloud == "local":
            candidate = _local(offer, request, num_nodes, host or HostLimits.detect())
            if candidate:
                out.append(candidate)
            continue
        if request.accelerator is not None and abs(offer.accelerator_count - request.accelerator.count) > 1e-9:
            continue
        if offer.attachable:
            out.extend(_attached(offer, request, catalog, num_nodes))
            continue
        if request.instance_type and offer.instance_type != request.instance_type:
            continue
        want = cloud_request
        if not (_amount_ok(offer.vcpus, want.cpus) and _memory_ok(offer.memory_gib, offer.vcpus, want.memory)):
            continue
        price = _price(offer, request.use_spot)
        if price is None or (request.max_hourly_cost is not None and price > request.max_hourly_cost):
            continue
        out.append(_candidate(offer, offer.instance_type, offer.vcpus, offer.memory_gib, price, request, num_nodes))
    return out


KUBERNETES_DEFAULT_CPUS = 4.0


def _kubernetes(request: Request, num_nodes: int) -> Optional[Candidate]:
    """A pod sized to the request: Kubernetes has no catalog, and stix does not price a cluster you already run.

    Only an explicit `infra: k8s` places a task there (the optimizer never picks it by price).
    """
    if request.use_spot or request.instance_type:
        return None
    cpus = request.cpus.value if request.cpus else KUBERNETES_DEFAULT_CPUS
    if request.memory and request.memory.per_cpu is not None:
        memory = request.memory.per_cpu * cpus
    elif request.memory and request.memory.gib:
        memory = request.memory.gib
    else:
        memory = cpus * 4
    name = f"{_n(cpus)}CPU--{_n(memory)}GB"
    accelerator, count = "", 0.0
    if request.accelerator:
        accelerator, count = request.accelerator.name, request.accelerator.count
        name += f"--{_n(count)}{accelerator}"
    return Candidate("kubernetes", request.region or "", "", name, accelerator, count, cpus, memory, False, 0.0,
                     num_nodes)


def _local(offer: Offer, request: Request, num_nodes: int, host: HostLimits) -> Optional[Candidate]:
    if request.use_spot or request.instance_type not in (None, offer.instance_type):
        return None
    have = host.accelerator
    if request.accelerator and not (have and have.name.lower() == request.accelerator.name.lower()
                                    and request.accelerator.count <= have.count):
        return None
    if not (_amount_ok(host.vcpus, _at_most(request.cpus)) and _memory_ok(host.memory_gib, host.vcpus, _at_most_mem(request.memory))):
        return None
    return Candidate(offer.cloud, offer.region, offer.zone, offer.instance_type, have.name if have else "",
                     have.count if have else 0.0, host.vcpus, host.memory_gib, False, offer.price or 0.0, num_nodes)


def _at_most(want: Optional[values.Amount]) -> Optional[values.Amount]:
    """A local node is the host: it satisfies any request the host can hold."""
    return None if want is None else values.Amount(want.value, True)


def _at_most_mem(want: Optional[values.Memory]) -> Optional[values.Memory]:
    return None if want is None else replace(want, at_least=True)


def _attached(gpu: Offer, request: Request, catalog: Catalog, num_nodes: int) -> list[Candidate]:
    """A GCP GPU on an N1 host in the same zone: the host must meet the cpu/memory request."""
    gpu_price = _price(gpu, request.use_spot)
    if gpu_price is None:
        return []
    cpus = request.cpus or (None if request.memory else GCP_HOST_DEFAULT_CPUS)
    out = []
    for host in catalog.gcp_hosts(gpu.zone):
        if request.instance_type and host.instance_type != request.instance_type:
            continue
        if not (_amount_ok(host.vcpus, cpus) and _memory_ok(host.memory_gib, host.vcpus, request.memory)):
            continue
        host_price = _price(host, request.use_spot)
        if host_price is None:
            continue
        price = host_price + gpu_price
        if request.max_hourly_cost is not None and price > request.max_hourly_cost:
            continue
        out.append(_candidate(gpu, host.instance_type, host.vcpus, host.memory_gib, price, request, num_nodes))
    return out


def _candidate(offer: Offer, instance_type: str, vcpus, memory, price: float, request: Request, num_nodes: int) -> Candidate:
    return Candidate(offer.cloud, offer.region, offer.zone, instance_type, offer.accelerator,
                     offer.accelerator_count, vcpus, memory, request.use_spot, price, num_nodes)


def rank_key(target: str):
    def key(c: Candidate):
        tie = (c.cloud, c.region, c.zone, c.instance_type, c.accelerator)
        if target == TIME:
            return (-THROUGHPUT.get(c.accelerator, 0.0) * c.accelerator_count, c.hourly_cost, *tie)
        return (c.hourly_cost, *tie)
    return key


def optimize(resources: Resources, num_nodes: int, catalog: Catalog, enabled: Iterable[str],
             target: str = COST, host: Optional[HostLimits] = None, pools: Optional[dict[str, int]] = None) -> Placement:
    enabled = frozenset(enabled)
    ranked: list[Candidate] = []
    seen: set = set()
    groups = request_groups(resources)
    for group in groups:
        found = [c for request in group for c in candidates_for(request, catalog, enabled, num_nodes, host, pools)]
        for candidate in sorted(found, key=rank_key(target)):
            identity = (candidate.cloud, candidate.zone or candidate.region, candidate.instance_type,
                        candidate.accelerator, candidate.spot)
            if identity not in seen:
                seen.add(identity)
                ranked.append(candidate)
    if not ranked:
        pinned_pools = {r.region for g in groups for r in g if r.cloud == "ssh"}
        for pool in sorted(p for p in pinned_pools if p):
            size = (pools or {}).get(pool)
            if size is None:
                raise NoFeasiblePlacement(f"no SSH node pool named {pool!r} (pools are listed in the pool file; "
                                          f"see `stix check ssh`)")
            if size < num_nodes:
                raise NoFeasiblePlacement(f"SSH node pool {pool!r} has {size} host(s); the task needs {num_nodes}")
        raise NoFeasiblePlacement(explain(groups, catalog, enabled, num_nodes, host))
    return Placement(ranked[0], ranked)


# --- explaining failure ---------------------------------------------------------------------


def explain(groups: list[list[Request]], catalog: Catalog, enabled: frozenset[str], num_nodes: int,
            host: Optional[HostLimits]) -> str:
    """One line: why nothing fits, and what would."""
    requests = [request for group in groups for request in group]
    wanted = "; ".join(request.describe() for request in requests[:4])
    every = frozenset(catalog.clouds())

    def feasible(relaxed: list[Request], clouds=enabled) -> list[Candidate]:
        return [c for r in relaxed for c in candidates_for(r, catalog, clouds, num_nodes, host)]

    elsewhere = feasible(requests, every)
    if elsewhere:
        clouds = ", ".join(sorted({c.cloud for c in elsewhere}))
        return (f"no placement for {wanted}: offered on {clouds}, but enabled clouds are "
                f"{', '.join(sorted(enabled)) or 'none'} (set up credentials; stix check)")
    unplaced = [replace(r, region=None, zone=None) for r in requests]
    found = feasible(unplaced, every)
    if found:
        regions = ", ".join(sorted({f"{c.cloud}/{c.region}" for c in found})[:6])
        return f"no placement for {wanted}: not offered there; offered in {regions}"
    for label, relaxed in (
        ("max_hourly_cost", [replace(r, max_hourly_cost=None) for r in unplaced]),
        ("use_spot", [replace(r, use_spot=False, max_hourly_cost=None) for r in unplaced]),
    ):
        found = feasible(relaxed, every)
        if found:
            cheapest = min(found, key=lambda c: c.price_per_node)
            if label == "max_hourly_cost":
                return (f"no placement for {wanted}: the cheapest is {cheapest.instance_type} on {cheapest.cloud} at "
                        f"${cheapest.price_per_node:.2f}/hr per node, above max_hourly_cost")
            return f"no placement for {wanted}: no spot offer; on-demand is available (e.g. {cheapest.instance_type} on {cheapest.cloud})"
    loose = [replace(r, cpus=None, memory=None, instance_type=None, use_spot=False, max_hourly_cost=None) for r in unplaced]
    found = feasible(loose, every)
    if found:
        biggest = max(found, key=lambda c: (c.vcpus or 0, c.memory_gib or 0))
        return (f"no placement for {wanted}: no instance matches the cpus/memory/instance_type asked; "
                f"the largest with it is {biggest.instance_type} ({_n(biggest.vcpus or 0)} vCPUs, "
                f"{_n(biggest.memory_gib or 0)} GiB) on {biggest.cloud}")
    close = _close_accelerators(requests, catalog)
    if close:
        return f"no placement for {wanted}; close matches: {close}"
    return f"no placement for {wanted} on any cloud in the catalogs"


def _close_accelerators(requests: list[Request], catalog: Catalog) -> str:
    names = {r.accelerator.name for r in requests if r.accelerator}
    if not names:
        return ""
    offered: dict[str, set[str]] = {}
    for name in names:
        family = name.split("-")[0].lower()
        for other in catalog.accelerator_names():
            if other.lower().split("-")[0] != family:
                continue
            for offer in catalog.with_accelerator(other):
                offered.setdefault(f"{offer.accelerator}:{_n(offer.accelerator_count)}", set()).add(offer.cloud)
    ranked = sorted(offered.items(), key=lambda item: (-len(item[1]), item[0]))[:4]
    return "; ".join(f"{name} on {', '.join(sorted(clouds))}" for name, clouds in ranked)


def _n(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _memory_text(memory: values.Memory) -> str:
    if memory.per_cpu is not None:
        return f"{_n(memory.per_cpu)}x"
    return f"{_n(memory.gib or 0)}{'+' if memory.at_least else ''}"
