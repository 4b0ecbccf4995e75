"""The dashboard's read model: typed rows built from the functions `stix status`, `stix queue`, `stix logs`,
`stix jobs queue`, `stix serve status`, `stix storage ls` and `stix cost-report` call; nothing is read twice
or kept here."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

from stix.home import StixHome
from stix.index import UP, ClusterIndex, ClusterRecord, DriftCheck

LOG_TAIL_LINES = 200
COST_DAYS = 14


@dataclass(frozen=True)
class ClusterRow:
    name: str
    status: str
    cloud: str
    num_nodes: int
    resources: str
    hourly: str
    autostop: str
    age: str
    drift: str
    """'not checked', 'no drift', or 'N drifted', with how long ago."""
    drifted: bool


@dataclass(frozen=True)
class NodeRow:
    name: str
    rank: int
    address: str
    cpus: str
    gpus: str


@dataclass(frozen=True)
class JobRow:
    id: int
    name: str
    status: str
    submitted: str
    duration: str
    exit_code: str


@dataclass
class ClusterDetail:
    row: ClusterRow
    nodes: list[NodeRow] = field(default_factory=list)
    jobs: list[JobRow] = field(default_factory=list)
    log_job: Optional[int] = None
    log_lines: list[str] = field(default_factory=list)
    error: Optional[str] = None
    """Why the nodes or jobs could not be read (the cluster is not UP, its head is unreachable)."""
    read_head: bool = False
    """The jobs were read from the head (the cluster is UP and answered)."""

    @property
    def live(self) -> bool:
        """Whether the page keeps refreshing itself. Not once the head answered with no job queued or running:
        each read is an SSH session on the head, and the node agent's autostop waits for sessions to end, so a
        page left open on an idle cluster would keep it up (and billing) for ever. A reload reads it again."""
        from stix.agent.node_agent import TERMINAL

        return not self.read_head or any(job.status not in TERMINAL for job in self.jobs)


@dataclass(frozen=True)
class AttemptRow:
    attempt: int
    task: int
    cluster: str
    location: str
    started: str
    outcome: str


@dataclass(frozen=True)
class ManagedRow:
    id: int
    name: str
    status: str
    submitted: str
    duration: str
    recoveries: int
    cluster: str
    failure: str
    attempts: tuple[AttemptRow, ...] = ()


@dataclass(frozen=True)
class ReplicaRow:
    id: int
    cluster: str
    status: str
    address: str


@dataclass(frozen=True)
class ServiceRow:
    name: str
    status: str
    version: int
    ready: str
    endpoint: str
    replicas: tuple[ReplicaRow, ...] = ()


@dataclass(frozen=True)
class BucketRow:
    name: str
    store: str
    source: str
    persistent: bool
    clusters: str


@dataclass(frozen=True)
class CostDay:
    day: str
    by_cluster: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.by_cluster.values())


def _ago(then: Optional[float], now: float) -> str:
    from stix.render import launched_ago

    return "-" if then is None else launched_ago(now - then)


def _drift(check: Optional[DriftCheck], now: float) -> tuple[str, bool]:
    if check is None:
        return "not checked", False
    what = f"{check.drifted} drifted" if check.drifted else "no drift"
    return f"{what} ({_ago(check.checked_at, now)})", bool(check.drifted)


def cluster_row(record: ClusterRecord, check: Optional[DriftCheck], now: float) -> ClusterRow:
    from stix.render import hourly

    drift, drifted = _drift(check, now)
    return ClusterRow(record.name, record.status, record.cloud, record.num_nodes, record.resources,
                      hourly(record.hourly_cost), record.autostop or "-", _ago(record.launched, now), drift, drifted)


def clusters(home: StixHome, now: Optional[float] = None) -> list[ClusterRow]:
    """`stix status`'s rows (the index), with each cluster's last drift check."""
    now = time.time() if now is None else now
    index = ClusterIndex(home.index_db)
    checks = index.drift_checks()
    return [cluster_row(record, checks.get(record.name), now) for record in index.all()]


def job_row(row: dict, now: float) -> JobRow:
    from stix.cluster_costs import duration_text

    started, ended = row.get("started"), row.get("ended")
    duration = duration_text((ended or now) - started) if started else "-"
    code = row.get("exit_code")
    return JobRow(int(row["id"]), row.get("name") or "-", str(row["status"]), _ago(row.get("submitted"), now),
                  duration, "-" if code is None else str(code))


def cluster_detail(home: StixHome, name: str, job: Optional[int] = None, now: Optional[float] = None,
                   tail: int = LOG_TAIL_LINES) -> Optional[ClusterDetail]:
    """One cluster: its row, and when it is UP its nodes (the saved node list), its jobs (`stix queue`) and the
    last lines of one job's log (`stix logs --no-follow --tail`, default the latest job); None for an unknown
    cluster. The head is reached through the same reused SSH connection as the CLI's."""
    from stix import cluster_jobs
    from stix.errors import StixError

    now = time.time() if now is None else now
    index = ClusterIndex(home.index_db)
    record = index.get(name)
    if record is None:
        return None
    detail = ClusterDetail(cluster_row(record, index.drift_checks().get(name), now))
    info = cluster_jobs.saved_info(home, name)
    if info is not None:
        detail.nodes = [NodeRow(n.name, n.rank, f"{n.ip}:{n.port}", _num(n.cpus),
                                f"{n.accelerator}:{_num(n.gpus)}" if n.accelerator else _num(n.gpus))
                        for n in info.nodes]
    if record.status != UP:
        detail.error = f"cluster {name} is {record.status}: its jobs are read from its head only while it is UP"
        return detail
    try:
        with cluster_jobs.head_connection(home, name) as head:
            rows = cluster_jobs.queue(head)
            detail.jobs = [job_row(row, now) for row in sorted(rows, key=lambda r: -int(r["id"]))]
            detail.log_job = job if job is not None else (detail.jobs[0].id if detail.jobs else None)
            if detail.log_job is not None:
                cluster_jobs.follow(head, detail.log_job, detail.log_lines.append, tail=tail, follow_=False)
            detail.read_head = True
    except StixError as exc:
        detail.error = exc.message
    detail.log_lines = [line.rstrip("\n") for line in detail.log_lines][-tail:]
    return detail


def _num(value: float) -> str:
    from stix.models.values import number

    return number(value) if value else "-"


def managed_jobs(home: StixHome, now: Optional[float] = None) -> list[ManagedRow]:
    """`stix jobs queue --all`'s jobs (the local job store), newest first, each with its attempts."""
    from stix.cluster_costs import duration_text, managed_jobs as jobs_with_attempts

    now = time.time() if now is None else now
    rows = []
    for job, attempts in sorted(jobs_with_attempts(home), key=lambda pair: -pair[0].id):
        current = job.current
        rows.append(ManagedRow(
            job.id, job.name, job.status, _ago(job.submitted, now),
            duration_text((job.ended or now) - job.started) if job.started else "-",
            sum(task.recoveries for task in job.tasks), (current.cluster if current else None) or "-",
            job.failure or "",
            tuple(AttemptRow(a.attempt, a.index, a.cluster, a.location or "-", _ago(a.started, now),
                             a.outcome or ("running" if a.ended is None else "-")) for a in attempts)))
    return rows


def services(home: StixHome) -> list[ServiceRow]:
    """`stix serve status`'s services and replicas (the service store)."""
    from stix.serve import client

    rows = []
    for service in client.status(home):
        data = service.to_json()
        replicas = tuple(ReplicaRow(int(r["replica_id"]), r.get("cluster") or "-", str(r["status"]),
                                    f"{r['ip']}:{r['port']}" if r.get("ip") else "-") for r in data["replicas"])
        rows.append(ServiceRow(data["name"], str(data["status"]), int(data["version"]),
                               f"{data['ready_replicas']}/{len(replicas)}", data.get("endpoint") or "-", replicas))
    return rows


def buckets(home: StixHome) -> list[BucketRow]:
    """`stix storage ls`'s buckets (the bucket registry); sizes are not measured here (that is a call per bucket
    to its store)."""
    from stix.storage.registry import bucket_row, registry_of

    registry = registry_of(home)
    users = registry.users_by_bucket()
    rows = [bucket_row(record, None, users.get(record.name, [])) for record in registry.all()]
    return [BucketRow(r["name"], r["store"], r["source"] or "-", bool(r["persistent"]), ", ".join(r["clusters"]) or "-")
            for r in rows]


def cost_days(home: StixHome, days: int = COST_DAYS, now: Optional[float] = None) -> list[CostDay]:
    """`stix cost-report`'s dollars, per cluster per day."""
    from stix.cluster_costs import daily_costs

    return [CostDay(day, totals) for day, totals in daily_costs(ClusterIndex(home.index_db), days, now)]
