"""What the SDK's calls hand back, in SkyPilot 0.14's shapes: request ids that sky.get() unwraps, cluster and job
records with SkyPilot's keys, the status enums and a cluster handle."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any, Optional

from stix import index as idx
from stix.home import StixHome


class RequestId(str):
    """What a call returns. SkyPilot 0.14 queues each call on its API server and returns a request id for
    sky.get() / sky.stream_and_get(); stix runs the call before returning, and the id carries the result."""

    value: Any

    def __new__(cls, value: Any) -> "RequestId":
        made = super().__new__(cls, f"stix-{uuid.uuid4().hex[:12]}")
        made.value = value
        return made


def result_of(request: Any) -> Any:
    """sky.get's unwrapping: a RequestId gives its result; anything else is handed back as it is."""
    return request.value if isinstance(request, RequestId) else request


class ClusterStatus(str, enum.Enum):
    """SkyPilot's: INIT covers a launch under way and a cluster in an abnormal state (stix's DEGRADED)."""

    INIT = "INIT"
    UP = "UP"
    STOPPED = "STOPPED"


class JobStatus(str, enum.Enum):
    INIT = "INIT"
    PENDING = "PENDING"
    SETTING_UP = "SETTING_UP"
    RUNNING = "RUNNING"
    FAILED_DRIVER = "FAILED_DRIVER"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    FAILED_SETUP = "FAILED_SETUP"
    CANCELLED = "CANCELLED"

    def is_terminal(self) -> bool:
        from stix.agent.node_agent import TERMINAL

        return self.value in TERMINAL or self is JobStatus.FAILED_DRIVER  # SkyPilot's; the agent never writes it


class Record(dict):
    """A dict with SkyPilot's keys that also reads as attributes (record['name'] or record.name), as 0.14's
    response models do."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


@dataclass(frozen=True)
class ClusterHandle:
    """The part of SkyPilot's resource handle that scripts read."""

    cluster_name: str
    cloud: str
    region: str
    zone: str
    instance_type: str
    launched_nodes: int
    launched_resources: str
    """As SkyPilot writes resources: '2x aws(g5.xlarge, A10G:1)'."""
    head_ip: Optional[str]
    head_ssh_port: Optional[int]
    ssh_user: Optional[str]
    ips: tuple[str, ...] = ()

    def external_ips(self) -> list[str]:
        return list(self.ips)


def cluster_status(status: str) -> ClusterStatus:
    return ClusterStatus(status) if status in (idx.UP, idx.STOPPED) else ClusterStatus.INIT


def job_status(status: str) -> Any:
    try:
        return JobStatus(status)
    except ValueError:
        return status


def handle_of(home: StixHome, cluster: str) -> Optional[ClusterHandle]:
    from stix.cluster_costs import resources_str
    from stix.stages import load_spec

    spec = load_spec(home, cluster)
    if spec is None:
        return None
    from stix.cluster_jobs import saved_info

    info = saved_info(home, cluster)
    head = info.head if info is not None and info.nodes else None
    return ClusterHandle(cluster, spec.cloud, spec.region, spec.zone, spec.instance_type, spec.num_nodes,
                         resources_str(spec), head.ip if head else None, head.port if head else None,
                         head.user if head else None, tuple(info.ips) if info is not None else ())


def status_record(home: StixHome, record: idx.ClusterRecord) -> Record:
    """The CLI's `status --format json` record, with SkyPilot's status enum, handle, head_ip and its other keys."""
    import getpass

    handle = handle_of(home, record.name)
    resources = record.resources_str or (handle.launched_resources if handle else record.resources)
    return Record(
        record.status_record(), status=cluster_status(record.status), last_use=record.task_path or "",
        handle=handle, resources_str=resources,
        head_ip=handle.head_ip if handle else None, nodes=record.num_nodes,
        region=handle.region if handle else None, zone=handle.zone if handle else None,
        user_name=getpass.getuser(), workspace="default",
    )


def job_record(row: dict) -> Record:
    """A node agent's queue row with SkyPilot's keys (the agent's own ones stay too)."""
    import getpass

    from stix.cluster_jobs import skypilot_job_keys
    from stix.models.values import number

    gpus, cpus, nodes = row.get("gpus") or 0, row.get("cpus") or 0, row.get("num_nodes") or 1
    demand = f"GPU:{number(gpus)}" if gpus else f"CPU:{number(cpus)}"
    keys = skypilot_job_keys(row)
    return Record(
        row, **{**keys, "job_name": keys["job_name"] or ""}, username=getpass.getuser(),
        status=job_status(row["status"]), resources=f"{nodes}x[{demand}]",
    )


def cost_record(row: Any) -> Record:
    """A stix.cluster_costs.CostRow as SkyPilot's cost_report() entry (status None once the cluster is gone)."""
    from stix.cluster_costs import TERMINATED

    return Record(
        name=row.name, launched_at=int(row.launched_at), duration=int(row.duration_s),
        stopped_duration=int(row.stopped_s), num_nodes=row.num_nodes, resources=row.resources,
        status=None if row.status == TERMINATED else cluster_status(row.status), total_cost=row.total_cost,
        cost_per_hour=row.hourly_cost, ended_at=None if row.ended_at is None else int(row.ended_at),
        managed_job=row.managed_job,
    )
