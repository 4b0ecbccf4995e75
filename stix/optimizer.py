"""The optimizer: a task's resources -> ranked, feasible placements across enabled clouds.

Pure functions over a Catalog. A request is one concrete alternative (one
accelerator choice, one any_of/ordered entry merged over the base resources);
groups of requests keep `ordered` preferences apart, while everything inside a
group competes on the target (COST: $/hr; TIME: accelerator throughput first).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Optional

from stix.catalog.offers import Candidate, Catalog, HostLimits, Request
from stix.models.values import number
from stix.errors import NoFeasiblePlacement
from stix.models.resources import ResourceFields, Resources

__all__ = ["COST", "TIME", "Candidate", "HostLimits", "NoFeasiblePlacement", "Placement", "Request", "optimize",
           "request_groups", "candidates_for", "explain"]

COST = "COST"
TIME = "TIME"

# Relative training throughput per accelerator, for the TIME target (H100 = 1.0).
THROUGHPUT = {
    "B200": 2.0, "H200": 1.15, "H100-MEGA": 1.0, "H100": 1.0, "A100-80GB": 0.55, "A100": 0.5, "L40S": 0.4,
    "V100-32GB": 0.25, "V100": 0.24, "A10G": 0.18, "A10": 0.18, "L4": 0.15, "P100": 0.12, "T4": 0.08, "P4": 0.05, "M60": 0.04,
    # accelerators a GPU ranking fits badly (inference chips, Trainium): rough training-throughput guesses, so
    # --target TIME can rank them at all; a task that names one gets one whatever the number.
    "Trainium2": 0.9, "Trainium": 0.35, "Gaudi HL-205": 0.3, "Inferentia2": 0.15, "T4g": 0.07, "Inferentia": 0.03,
    "Radeon Pro V520": 0.03,
}


@dataclass(frozen=True)
class Placement:
    chosen: Candidate
    candidates: list[Candidate]
    """Every feasible placement, best first: the failover order."""


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


# --- matching: each cloud's class owns its offers ---------------------------------------------


def candidates_for(request: Request, catalog: Catalog, enabled: Iterable[str], num_nodes: int,
                   host: Optional[HostLimits] = None, pools: Optional[dict[str, int]] = None,
                   only: Optional[frozenset[str]] = None) -> list[Candidate]:
    """only: consider these clouds and no other (`--clouds aws,gcp`), ungated ones included."""
    from stix.components.base import CLOUD_NAMES, cloud_for

    enabled = frozenset(enabled)
    out: list[Candidate] = []
    for name in ([request.cloud] if request.cloud else CLOUD_NAMES):
        if only is not None and name not in only:
            continue
        cloud = cloud_for(name)
        if (cloud.gated and name not in enabled) or (cloud.explicit_only and request.cloud != name):
            continue
        out.extend(cloud.candidates(request, catalog, num_nodes, host, pools))
    return out


def rank_key(target: str):
    def key(c: Candidate):
        tie = (c.cloud, c.region, c.zone, c.instance_type, c.accelerator)
        if target == TIME:
            return (-THROUGHPUT.get(c.accelerator, 0.0) * c.accelerator_count, c.hourly_cost, *tie)
        return (c.hourly_cost, *tie)
    return key


def optimize(resources: Resources, num_nodes: int, catalog: Catalog, enabled: Iterable[str],
             target: str = COST, host: Optional[HostLimits] = None, pools: Optional[dict[str, int]] = None,
             only: Optional[frozenset[str]] = None) -> Placement:
    enabled = frozenset(enabled)
    ranked: list[Candidate] = []
    seen: set = set()
    groups = request_groups(resources)
    for index, group in enumerate(groups):
        found = [c for request in group for c in candidates_for(request, catalog, enabled, num_nodes, host, pools, only)]
        for candidate in sorted(found, key=rank_key(target)):
            identity = (candidate.cloud, candidate.zone or candidate.region, candidate.instance_type,
                        candidate.accelerator, candidate.spot)
            if identity not in seen:
                seen.add(identity)
                ranked.append(replace(candidate, group=index))
    if not ranked:
        from stix.components.base import cloud_for

        requests = [request for group in groups for request in group]
        for name in sorted({r.cloud for r in requests if r.cloud}):
            reason = cloud_for(name).why_not(requests, num_nodes, pools)
            if reason:
                raise NoFeasiblePlacement(reason)
        raise NoFeasiblePlacement(explain(groups, catalog, enabled, num_nodes, host, limited=only is not None))
    return Placement(ranked[0], ranked)


# --- explaining failure ---------------------------------------------------------------------


def explain(groups: list[list[Request]], catalog: Catalog, enabled: frozenset[str], num_nodes: int,
            host: Optional[HostLimits], limited: bool = False) -> str:
    """One line: why nothing fits, and what would."""
    requests = [request for group in groups for request in group]
    wanted = "; ".join(request.describe() for request in requests[:4])
    every = frozenset(catalog.clouds())

    def feasible(relaxed: list[Request], clouds=enabled) -> list[Candidate]:
        return [c for r in relaxed for c in candidates_for(r, catalog, clouds, num_nodes, host)]

    elsewhere = feasible(requests, every)
    if elsewhere:
        clouds = ", ".join(sorted({c.cloud for c in elsewhere}))
        if limited:
            return f"no placement for {wanted} on {', '.join(sorted(enabled))}: offered on {clouds} (--clouds)"
        return (f"no placement for {wanted}: offered on {clouds}, but enabled clouds are "
                f"{', '.join(sorted(enabled)) or 'none'} (set up credentials, see `stix check`; "
                f"`stix optimize TASK --clouds all` shows prices on every cloud)")
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
                f"the largest with it is {biggest.instance_type} ({number(biggest.vcpus or 0)} vCPUs, "
                f"{number(biggest.memory_gib or 0)} GiB) on {biggest.cloud}")
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
                offered.setdefault(f"{offer.accelerator}:{number(offer.accelerator_count)}", set()).add(offer.cloud)
    ranked = sorted(offered.items(), key=lambda item: (-len(item[1]), item[0]))[:4]
    return "; ".join(f"{name} on {', '.join(sorted(clouds))}" for name, clouds in ranked)
