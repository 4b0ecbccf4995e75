"""What `stix serve status` shows and stix.serve.status() returns: a service and its replicas as typed records.

Built from the service store alone (no engine, no SSH), so `stix serve status` stays instant. The JSON shape
(to_json) is what `stix serve status --format json` prints; its keys are stable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple, Optional

from stix.serve.store import READY, ReplicaRecord, ServiceRecord


class ServiceUp(NamedTuple):
    """What `serve up` gives back: SkyPilot's (service_name, endpoint), unpackable as a pair."""

    name: str
    endpoint: str


@dataclass(frozen=True)
class ReplicaStatus:
    replica_id: int
    version: int
    cluster: str
    status: str
    use_spot: bool
    ip: Optional[str]
    port: Optional[int]
    launched_at: float
    ready_at: Optional[float]
    ended_at: Optional[float]
    failure: Optional[str]

    @property
    def address(self) -> str:
        """ip:port, or '-' before the replica has one."""
        return f"{self.ip}:{self.port}" if self.ip and self.port else "-"

    def __getitem__(self, key: str) -> Any:  # SkyPilot's records are dicts: record['status'] reads too
        return getattr(self, key)


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    version: int
    status: str
    endpoint: str
    """host:port of the load balancer ('' until its stack is applied)."""
    created_at: float
    down_requested: bool
    failure: Optional[str]
    replicas: tuple[ReplicaStatus, ...]
    """Every replica the service has, ended ones (FAILED, PREEMPTED) included, by id."""

    @property
    def ready_replicas(self) -> int:
        return sum(1 for r in self.replicas if r.status == READY)

    @property
    def live_replicas(self) -> int:
        return sum(1 for r in self.replicas if r.ended_at is None)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def to_json(self) -> dict[str, Any]:
        """name, version, status, endpoint, created_at, down_requested, failure, ready_replicas, replicas: [{replica_id,
        version, cluster, status, use_spot, ip, port, launched_at, ready_at, ended_at, failure}]."""
        data = asdict(self)
        data["replicas"] = list(data["replicas"])  # asdict made each a dict already (in a tuple)
        data["ready_replicas"] = self.ready_replicas
        return data


def replica_status(record: ReplicaRecord) -> ReplicaStatus:
    return ReplicaStatus(record.replica_id, record.version, record.cluster, record.status, record.use_spot, record.ip,
                         record.port, record.launched, record.ready_at, record.ended, record.failure)


def service_status(record: ServiceRecord, replicas: list[ReplicaRecord]) -> ServiceStatus:
    return ServiceStatus(record.name, record.version, record.status, record.endpoint, record.created,
                         record.down_requested, record.failure, tuple(replica_status(r) for r in replicas))
