"""What each cluster cost, alive and torn down (`stix cost-report`, stix.cost_report()), from the index's history.

A row is one life of a cluster in one shape; its cost is the cluster's $/hr (the catalog price the optimizer
used, times the nodes) over the time it lived. A stopped cluster counts until it stopped; a stop and a later
start are not split into intervals.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Optional, Union

from stix import index as idx
from stix.errors import UsageError

TERMINATED = "TERMINATED"
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class CostRow:
    name: str
    launched_at: float
    duration_s: float
    num_nodes: int
    resources: str
    status: str
    """UP, STOPPED, INIT or DEGRADED while the cluster lives; TERMINATED once destroyed."""
    hourly_cost: float
    total_cost: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resources_str(spec: Any) -> str:
    """A ClusterSpec as SkyPilot's RESOURCES column writes it: '2x aws(g5.xlarge, A10G:1)'."""
    return idx.resources_string(spec.num_nodes, spec.cloud, spec.instance_type, spec.accelerator,
                                spec.accelerator_count, spec.use_spot, spec.vcpus, spec.memory_gib)


def record_launch(index: idx.ClusterIndex, spec: Any) -> None:
    """Called by `up` once the cluster is UP."""
    index.record_launch(spec.cluster, spec.cloud, spec.num_nodes, resources_str(spec), spec.hourly_cost)


def check_days(days: Union[None, int, str]) -> int:
    """The one check of the window (the SDK's int, the command line's text); None: the default."""
    if days is None:
        return DEFAULT_DAYS
    whole = int(days) if isinstance(days, str) and days.isdecimal() else days
    if isinstance(whole, bool) or not isinstance(whole, int) or whole < 1:
        raise UsageError(f"--days {days!r}: expected a whole number, 1 or more")
    return whole


def cost_rows(index: idx.ClusterIndex, days: Union[None, int, str] = None,
              now: Optional[float] = None) -> list[CostRow]:
    """Every live cluster, and those torn down within the last `days` days (default 30), oldest first."""
    window = check_days(days)
    now = time.time() if now is None else now
    live = {record.name: record for record in index.all()}
    rows = []
    for entry in index.history():
        record = live.get(entry.name) if entry.ended_at is None else None
        if entry.ended_at is not None and entry.ended_at < now - window * 86400:
            continue
        if record is None:
            end, status = (entry.ended_at if entry.ended_at is not None else now), TERMINATED
        else:
            end = record.updated_at if record.status == idx.STOPPED else now
            status = record.status
        duration = max(0.0, end - entry.launched_at)
        rows.append(CostRow(entry.name, entry.launched_at, duration, entry.num_nodes, entry.resources, status,
                            entry.hourly_cost, entry.hourly_cost * duration / 3600))
    return rows


def duration_text(seconds: float) -> str:
    """As SkyPilot's DURATION: '45s', '12m', '3h 5m', '2d 4h'."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{secs}s"
