"""What each cluster cost, alive and torn down (`stix cost-report`, stix.cost_report()), from the index's history.

A life of a cluster (one shape, from `up` to `destroy` or a relaunch in another shape) is a run of usage
intervals, UP or STOPPED, split at every stop and start (an autostop at the time the node agent did it). Its cost
is the sum over UP intervals of hours x the $/hr it ran at (the catalog price the optimizer used, times the
nodes); stopped time is reported and costs nothing here (disks of stopped clusters are not counted).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Iterable, Optional, Union

from stix import index as idx
from stix.errors import UsageError

TERMINATED = "TERMINATED"
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class CostRow:
    name: str
    launched_at: float
    ended_at: Optional[float]
    """When it was torn down; None while it lives."""
    up_s: float
    stopped_s: float
    num_nodes: int
    resources: str
    status: str
    """UP, STOPPED, INIT or DEGRADED while the cluster lives; TERMINATED once destroyed."""
    hourly_cost: float
    total_cost: float
    managed_job: Optional[int] = None
    """The managed job whose attempt ran on this cluster, if any."""
    lives: int = 1
    """How many lives a condensed row (one per name) sums: output only, a key of `stix cost-report --format json`."""

    @property
    def duration_s(self) -> float:
        """The billed time, as SkyPilot's DURATION."""
        return self.up_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "duration_s": self.duration_s}


@dataclass(frozen=True)
class JobCost:
    job_id: int
    name: str
    status: str
    attempts: int
    recoveries: int
    clusters: tuple[str, ...]
    up_s: float
    total_cost: float

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clusters": list(self.clusters)}


@dataclass(frozen=True)
class CostReport:
    clusters: list[CostRow]
    managed_jobs: list[JobCost]

    @property
    def total_cost(self) -> float:
        """Over the cluster rows only: a managed job's cost is already in its clusters'."""
        return sum(row.total_cost for row in self.clusters)

    def to_dict(self) -> dict[str, Any]:
        return {"clusters": [row.to_dict() for row in self.clusters],
                "managed_jobs": [job.to_dict() for job in self.managed_jobs],
                "total": {"total_cost": self.total_cost, "up_s": sum(row.up_s for row in self.clusters),
                          "stopped_s": sum(row.stopped_s for row in self.clusters)}}


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
    """Every live cluster, and those torn down within the last `days` days (default 30), oldest first: one row per
    life (SkyPilot's --all: everything in full); cost_report condenses them to one row per cluster name."""
    window = check_days(days)
    now = index.clock() if now is None else now
    live = {record.name: record for record in index.all()}
    spans: dict[tuple[str, float], list[idx.UsageInterval]] = {}
    for interval in index.intervals():
        spans.setdefault((interval.name, interval.launched_at), []).append(interval)
    rows = []
    for entry in index.history():
        if entry.ended_at is not None and entry.ended_at < now - window * 86400:
            continue
        record = live.get(entry.name) if entry.ended_at is None else None
        status = record.status if record is not None else TERMINATED
        end = entry.ended_at if entry.ended_at is not None else now
        up, stopped = _sums(spans.get((entry.name, entry.launched_at), ()), end)
        rows.append(CostRow(entry.name, entry.launched_at, entry.ended_at, up, stopped, entry.num_nodes,
                            entry.resources, status, entry.hourly_cost, up / 3600 * entry.hourly_cost))
    return rows


def _sums(intervals: Iterable[idx.UsageInterval], end: float) -> tuple[float, float]:
    """A life's seconds up and stopped; its cost is the up hours at the life's price."""
    up = stopped = 0.0
    for interval in intervals:
        seconds = max(0.0, (interval.ended_at if interval.ended_at is not None else end) - interval.started_at)
        if interval.state == idx.STOPPED:
            stopped += seconds
        else:
            up += seconds
    return up, stopped


def _condensed(rows: list[CostRow]) -> list[CostRow]:
    """One row per name: the latest life's shape and status, every life's hours and dollars."""
    by_name: dict[str, CostRow] = {}
    for row in rows:  # oldest first
        before = by_name.get(row.name)
        by_name[row.name] = row if before is None else replace(
            row, up_s=before.up_s + row.up_s, stopped_s=before.stopped_s + row.stopped_s,
            total_cost=before.total_cost + row.total_cost, lives=before.lives + 1)
    return sorted(by_name.values(), key=lambda row: row.launched_at)


def cost_report(index: idx.ClusterIndex, jobs: Iterable[Any] = (), days: Union[None, int, str] = None,
                now: Optional[float] = None, all_: bool = False) -> CostReport:
    """The clusters' rows and, for each managed job whose attempts ran on them, its share (those same rows).

    `jobs` are stix.managed.store ManagedJob records with their attempts: (job, attempts) pairs."""
    lives = cost_rows(index, days, now)
    job_rows, owner = [], {}
    for job, attempts in jobs:
        names = tuple(dict.fromkeys(attempt.cluster for attempt in attempts))
        mine = [row for row in lives if row.name in names and row.launched_at >= job.submitted]
        for row in mine:
            owner[(row.name, row.launched_at)] = job.id
        if mine:
            job_rows.append(JobCost(job.id, job.name, job.status, len(attempts), job.recoveries, names,
                                    sum(row.up_s for row in mine), sum(row.total_cost for row in mine)))
    lives = [replace(row, managed_job=owner.get((row.name, row.launched_at))) for row in lives]
    return CostReport(lives if all_ else _condensed(lives), job_rows)


def managed_jobs(home: Any) -> list[tuple[Any, list[Any]]]:
    """Every managed job in this home's store with its attempts; none when no job was ever submitted."""
    from stix.managed.store import JobStore

    store = JobStore(home)
    if not store.path.exists():
        return []
    attempts = store.attempts_by_job()
    return [(job, attempts.get(job.id, [])) for job in store.all()]


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


def daily_costs(index: idx.ClusterIndex, days: int = 14, now: Optional[float] = None) -> list[tuple[str, dict[str, float]]]:
    """Dollars per cluster per UTC day over the last `days` days, oldest day first: each life's UP intervals cut
    at midnight, at the life's price (as cost_rows counts them)."""
    import datetime as dt

    now = index.clock() if now is None else now
    today = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
    first = today - dt.timedelta(days=days - 1)
    starts = [dt.datetime.combine(first + dt.timedelta(days=i), dt.time(), dt.timezone.utc).timestamp()
              for i in range(days + 1)]
    price = {(entry.name, entry.launched_at): entry.hourly_cost for entry in index.history()}
    totals: list[dict[str, float]] = [{} for _ in range(days)]
    for interval in index.intervals():
        cost = price.get((interval.name, interval.launched_at), 0.0)
        if interval.state == idx.STOPPED or not cost:
            continue
        end = interval.ended_at if interval.ended_at is not None else now
        for day in range(days):
            seconds = min(end, starts[day + 1]) - max(interval.started_at, starts[day])
            if seconds > 0:
                totals[day][interval.name] = totals[day].get(interval.name, 0.0) + seconds / 3600 * cost
    return [((first + dt.timedelta(days=i)).isoformat(), totals[i]) for i in range(days)]
