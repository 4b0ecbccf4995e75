"""What a service's replicas should become, planned from what they are: launches, retirements, and which
READY replicas the balancer sends traffic to. Pure: the service runner carries a plan out every tick, so a
plan only ever says the next step from the present state (a controller restarted mid-update plans on).

- Steady (every live replica runs the newest version): launch up to the target, retire beyond it (the
  newest replicas that are not READY first, then the newest READY ones, drained before teardown).
- Rolling update: surge one new replica at a time; an old one is retired only once enough new ones are
  READY that the READY count stays at least what it was (old and new both serve meanwhile).
- Blue-green update: launch the whole new set; the balancer keeps the old set until every new replica is
  READY, then switches to the new set at once, and the old set is torn down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from stix.serve.store import BLUE_GREEN, READY


class Replica(Protocol):
    @property
    def replica_id(self) -> int: ...

    @property
    def version(self) -> int: ...

    @property
    def status(self) -> str: ...


@dataclass(frozen=True)
class Plan:
    launch: int
    """New replicas of the newest version to launch now."""
    retire: tuple[int, ...]
    """Replica ids to take out of the balancer (if serving) and tear down."""
    serving: tuple[int, ...]
    """READY replica ids the balancer should send requests to."""


def plan(replicas: Sequence[Replica], version: int, mode: str, target: int) -> Plan:
    """The next step for live replicas (those that ended are not passed) toward `target` of `version`."""
    new = [r for r in replicas if r.version == version]
    old = [r for r in replicas if r.version != version]
    if not old:
        return _steady(new, target)
    if mode == BLUE_GREEN:
        return _blue_green(new, old, target)
    return _rolling(new, old, target)


def _ready(replicas: Sequence[Replica]) -> list[Replica]:
    return [r for r in replicas if r.status == READY]


def _ids(replicas: Sequence[Replica]) -> tuple[int, ...]:
    return tuple(sorted(r.replica_id for r in replicas))


def _steady(new: Sequence[Replica], target: int) -> Plan:
    extra = max(0, len(new) - target)
    # Newest not-ready ones first, then the newest ready ones.
    order = sorted(new, key=lambda r: (r.status == READY, -r.replica_id))
    retire = order[:extra]
    retired = {r.replica_id for r in retire}
    return Plan(launch=max(0, target - len(new)), retire=_ids(retire),
                serving=_ids([r for r in _ready(new) if r.replica_id not in retired]))


def _rolling(new: Sequence[Replica], old: Sequence[Replica], target: int) -> Plan:
    ready_new = _ready(new)
    ready_old = sorted(_ready(old), key=lambda r: r.replica_id)
    surging = [r for r in new if r.status != READY]
    if not ready_old:  # nothing serves the old version: no READY count to protect
        launch = max(0, target - len(new))
    else:
        launch = 1 if len(new) < target and not surging else 0
    keep_old = max(0, target - len(ready_new))
    retire = [r for r in old if r.status != READY] + ready_old[:max(0, len(ready_old) - keep_old)]
    retired = {r.replica_id for r in retire}
    serving = [r for r in ready_new + ready_old if r.replica_id not in retired]
    return Plan(launch=launch, retire=_ids(retire), serving=_ids(serving))


def _blue_green(new: Sequence[Replica], old: Sequence[Replica], target: int) -> Plan:
    ready_new = _ready(new)
    ready_old = _ready(old)
    launch = max(0, target - len(new))
    if len(ready_new) >= target or not ready_old:  # the green set is whole (or nothing blue serves): switch
        return Plan(launch=launch, retire=_ids(old), serving=_ids(ready_new))
    return Plan(launch=launch, retire=_ids([r for r in old if r.status != READY]), serving=_ids(ready_old))
