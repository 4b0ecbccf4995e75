"""A service's status derived from its replicas (SkyPilot's ServiceStatus), pure."""

from __future__ import annotations

from typing import Optional, Protocol, Sequence

from stix.serve import store as st

FAILED_IN_A_ROW = 3
"""Replicas that failed before any replica of the service was ever ready: the service is FAILED (launching
more would only spend money on a task that cannot serve)."""


class Replica(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def ready_at(self) -> Optional[float]: ...

    @property
    def ended(self) -> Optional[float]: ...


def failed_for_good(replicas: Sequence[Replica]) -> bool:
    """FAILED_IN_A_ROW replicas failed and none was ever READY (replicas: every row, ended ones included)."""
    if any(r.ready_at is not None for r in replicas):
        return False
    return sum(1 for r in replicas if r.status == st.FAILED) >= FAILED_IN_A_ROW


def derive(replicas: Sequence[Replica], target: int, down_requested: bool) -> str:
    """The service's status from all its replica rows (ended ones included) and the replica count it runs toward."""
    if down_requested:
        return st.SHUTTING_DOWN
    if failed_for_good(replicas):
        return st.FAILED
    live = [r for r in replicas if r.ended is None]
    if any(r.status == st.READY for r in live):
        return st.READY
    if not live:
        if target == 0:
            return st.NO_REPLICA
        if not replicas:
            return st.CONTROLLER_INIT
    return st.REPLICA_INIT
