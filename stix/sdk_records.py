"""What the SDK's calls hand back, in SkyPilot 0.14's shapes: request ids that sky.get() unwraps, cluster and job
records with SkyPilot's keys, the status enums and a cluster handle."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any, Optional

from stix import index as idx
from stix.home import StixHome
from stix.spec import ClusterInfo


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
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.FAILED_SETUP, JobStatus.FAILED_DRIVER,
                        JobStatus.CANCELLED)


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


def saved_info(home: StixHome, cluster: str) -> Optional[ClusterInfo]:
    """The node list saved at the cluster's last apply, whatever its status; None when there is none."""
    import json

    from stix.cluster_jobs import info_path

    try:
        data = json.loads(info_path(home, cluster).read_text())
        return ClusterInfo.from_dict(data, data.get("ssh_private_key_path", ""))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def handle_of(home: StixHome, cluster: str) -> Optional[ClusterHandle]:
    from stix.cluster_costs import resources_str
    from stix.stages import load_spec

    spec = load_spec(home, cluster)
    if spec is None:
        return None
    info = saved_info(home, cluster)
    head = info.head if info is not None and info.nodes else None
    return ClusterHandle(cluster, spec.cloud, spec.region, spec.zone, spec.instance_type, spec.num_nodes,
                         resources_str(spec), head.ip if head else None, head.port if head else None,
                         head.user if head else None, tuple(info.ips) if info is not None else ())


def autostop_of(label: Optional[str]) -> tuple[Any, bool]:
    """The index's '10m' / '10m (down)' / None as SkyPilot's (autostop minutes, -1 off; to_down)."""
    if not label:
        return -1, False
    minutes = float(label.split("m", 1)[0])
    return (int(minutes) if minutes == int(minutes) else minutes), label.endswith("(down)")


def status_record(home: StixHome, record: idx.ClusterRecord, launched_at: Optional[float]) -> Record:
    import getpass

    handle = handle_of(home, record.name)
    autostop, to_down = autostop_of(record.autostop)
    return Record(
        name=record.name, status=cluster_status(record.status), launched_at=int(launched_at or record.created_at),
        last_use=record.task_path or "", autostop=autostop, to_down=to_down, handle=handle,
        resources_str=handle.launched_resources if handle else f"{record.num_nodes}x {record.cloud}",
        head_ip=handle.head_ip if handle else None, nodes=record.num_nodes, cloud=record.cloud,
        region=handle.region if handle else None, zone=handle.zone if handle else None,
        user_name=getpass.getuser(), workspace="default",
    )


def job_record(row: dict) -> Record:
    """A node agent's queue row with SkyPilot's keys (the agent's own ones stay too)."""
    import getpass

    gpus, cpus, nodes = row.get("gpus") or 0, row.get("cpus") or 0, row.get("num_nodes") or 1
    from stix.models.values import number

    demand = f"GPU:{number(gpus)}" if gpus else f"CPU:{number(cpus)}"
    return Record(
        row, job_id=row["id"], job_name=row.get("name") or "", username=getpass.getuser(),
        status=job_status(row["status"]), submitted_at=row.get("submitted"), start_at=row.get("started"),
        end_at=row.get("ended"), resources=f"{nodes}x[{demand}]",
    )


def cost_record(row: Any) -> Record:
    """A stix.cluster_costs.CostRow as SkyPilot's cost_report() entry (status None once the cluster is gone)."""
    from stix.cluster_costs import TERMINATED

    return Record(
        name=row.name, launched_at=int(row.launched_at), duration=int(row.duration_s), num_nodes=row.num_nodes,
        resources=row.resources, status=None if row.status == TERMINATED else cluster_status(row.status),
        total_cost=row.total_cost, cost_per_hour=row.hourly_cost,
    )
