"""The service store: one SQLite file under stix's home that the CLI and the serve controller share.

A service has versions (each `stix serve update` adds one: the task as submitted, secrets sealed, and its
ServiceSpec), replicas (each a cluster named `<service>-<replica id>` running one version), and
SkyPilot's statuses. Writes are single statements or short transactions, so a controller killed at any
point leaves a record the next one adopts.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional, Sequence

from stix.errors import UsageError
from stix.home import StixHome
from stix.serve.spec import ServiceSpec

if TYPE_CHECKING:
    from stix.models.task import Task

# Service statuses (SkyPilot's ServiceStatus).
CONTROLLER_INIT = "CONTROLLER_INIT"
REPLICA_INIT = "REPLICA_INIT"
READY = "READY"
SHUTTING_DOWN = "SHUTTING_DOWN"
FAILED = "FAILED"
NO_REPLICA = "NO_REPLICA"

# Replica statuses (SkyPilot's ReplicaStatus); READY, SHUTTING_DOWN and FAILED are shared spellings.
PENDING = "PENDING"
PROVISIONING = "PROVISIONING"
STARTING = "STARTING"
NOT_READY = "NOT_READY"
PREEMPTED = "PREEMPTED"

ROLLING = "rolling"
BLUE_GREEN = "blue_green"
UPDATE_MODES = (ROLLING, BLUE_GREEN)

SCHEMA = """
CREATE TABLE IF NOT EXISTS services (
    name TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    created REAL NOT NULL,
    endpoint TEXT NOT NULL DEFAULT '',
    balancer TEXT NOT NULL DEFAULT '{}',
    down_requested INTEGER NOT NULL DEFAULT 0,
    failure TEXT,
    last_replica INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS versions (
    service TEXT NOT NULL,
    version INTEGER NOT NULL,
    config TEXT NOT NULL,
    secrets BLOB,
    spec TEXT NOT NULL,
    mode TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (service, version)
);
CREATE TABLE IF NOT EXISTS replicas (
    service TEXT NOT NULL,
    replica_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    cluster TEXT NOT NULL,
    status TEXT NOT NULL,
    use_spot INTEGER NOT NULL DEFAULT 0,
    ip TEXT,
    port INTEGER,
    agent_job INTEGER,
    launched REAL NOT NULL,
    ready_at REAL,
    ended REAL,
    failure TEXT,
    PRIMARY KEY (service, replica_id)
);
"""


@dataclass(frozen=True)
class ServiceRecord:
    name: str
    status: str
    version: int
    """The newest version: what new replicas run; an update moves traffic to it."""
    created: float
    endpoint: str
    """host:port of the load balancer ('' until its stack is applied)."""
    balancer: dict[str, Any]
    """What the balancer's code needs to drive it again (its stack outputs), as it recorded them."""
    down_requested: bool
    failure: Optional[str]


@dataclass(frozen=True)
class ReplicaRecord:
    service: str
    replica_id: int
    version: int
    cluster: str
    status: str
    use_spot: bool
    ip: Optional[str]
    port: Optional[int]
    agent_job: Optional[int]
    """The run's job id on the replica cluster's node agent (what `serve logs` follows)."""
    launched: float
    ready_at: Optional[float]
    ended: Optional[float]
    failure: Optional[str]

    @property
    def url(self) -> Optional[str]:
        return f"http://{self.ip}:{self.port}" if self.ip and self.port else None


@dataclass(frozen=True)
class Version:
    service: str
    version: int
    spec: ServiceSpec
    mode: str
    created: float


class ServiceStore:
    def __init__(self, home: StixHome) -> None:
        self.home = home
        self.root = home.root / "serve"
        self.path = self.root / "services.db"

    # --- files -------------------------------------------------------------------------------

    @property
    def controller_log(self) -> Path:
        return self.root / "controller.log"

    def replica_log(self, service: str, replica_id: int) -> Path:
        """The replica's launch and run output, kept here whatever became of its cluster."""
        return self.root / "logs" / service / f"replica-{replica_id}.log"

    def balancer_log(self, service: str) -> Path:
        return self.root / "logs" / service / "load-balancer.log"

    def _connect(self) -> sqlite3.Connection:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        if "last_replica" not in {row["name"] for row in conn.execute("PRAGMA table_info(services)")}:
            conn.execute("ALTER TABLE services ADD COLUMN last_replica INTEGER NOT NULL DEFAULT 0")
        return conn

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        conn = self._connect()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    # --- services ----------------------------------------------------------------------------

    def add_service(self, name: str, task: Task, spec: ServiceSpec) -> ServiceRecord:
        """Record a new service (CONTROLLER_INIT) with its first version; UsageError if the name is taken."""
        now = time.time()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute("SELECT 1 FROM services WHERE name = ?", (name,)).fetchone():
                conn.execute("ROLLBACK")
                raise UsageError(f"service {name!r} already exists; `stix serve update {name} TASK.yaml` changes it, "
                                 f"`stix serve down {name}` removes it")
            conn.execute("INSERT INTO services (name, status, version, created) VALUES (?, ?, 1, ?)",
                         (name, CONTROLLER_INIT, now))
            self._insert_version(conn, name, 1, task, spec, ROLLING, now)
            conn.execute("COMMIT")
        finally:
            conn.close()
        record = self.get(name)
        assert record is not None
        return record

    def add_version(self, name: str, task: Task, spec: ServiceSpec, mode: str) -> int:
        """A new version that the controller moves the service to (`mode`: rolling or blue_green)."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT version, down_requested FROM services WHERE name = ?", (name,)).fetchone()
            if row is None or row["down_requested"]:
                conn.execute("ROLLBACK")
                raise UsageError(f"service {name!r} not found" if row is None else f"service {name!r} is shutting down")
            version = int(row["version"]) + 1
            self._insert_version(conn, name, version, task, spec, mode, time.time())
            conn.execute("UPDATE services SET version = ? WHERE name = ?", (version, name))
            conn.execute("COMMIT")
            return version
        finally:
            conn.close()

    def _insert_version(self, conn: sqlite3.Connection, name: str, version: int, task: Task, spec: ServiceSpec,
                        mode: str, now: float) -> None:
        from stix.managed.sealed import seal

        config = task.to_yaml_config(redact_secrets=True)
        config.pop("secrets", None)
        secrets = task.secret_values()
        conn.execute("INSERT INTO versions (service, version, config, secrets, spec, mode, created) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (name, version, json.dumps(config), seal(self.home, secrets) if secrets else None, spec.to_json(),
                      mode, now))

    def set_service(self, name: str, **fields: Any) -> None:
        """Update columns of a service: status, endpoint, balancer (a dict), failure."""
        if "balancer" in fields:
            fields["balancer"] = json.dumps(fields["balancer"])
        columns = ", ".join(f"{key} = ?" for key in fields)
        self._run(f"UPDATE services SET {columns} WHERE name = ?", (*fields.values(), name))

    def request_down(self, names: Iterable[str]) -> list[str]:
        """Mark services for teardown (the controller does it); returns those found."""
        found = []
        for name in names:
            rows = self._run("UPDATE services SET down_requested = 1, status = ? WHERE name = ? RETURNING name",
                             (SHUTTING_DOWN, name))
            found += [row["name"] for row in rows]
        return found

    def remove_service(self, name: str) -> None:
        """Forget a service whose replicas and load balancer are gone."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for table, column in (("replicas", "service"), ("versions", "service"), ("services", "name")):
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))
            conn.execute("COMMIT")
        finally:
            conn.close()

    def get(self, name: str) -> Optional[ServiceRecord]:
        rows = self._run("SELECT * FROM services WHERE name = ?", (name,))
        return _service(rows[0]) if rows else None

    def all(self) -> list[ServiceRecord]:
        return [_service(row) for row in self._run("SELECT * FROM services ORDER BY created")]

    # --- versions ----------------------------------------------------------------------------

    def version(self, name: str, version: int) -> Version:
        row = self._run("SELECT * FROM versions WHERE service = ? AND version = ?", (name, version))[0]
        return Version(name, int(row["version"]), ServiceSpec.from_json(row["spec"]), row["mode"], row["created"])

    def task_of(self, name: str, version: int) -> Task:
        """The version's task rebuilt as it was submitted, secrets unsealed."""
        from stix.managed.sealed import unseal
        from stix.models.task import Task

        row = self._run("SELECT config, secrets FROM versions WHERE service = ? AND version = ?", (name, version))[0]
        config = json.loads(row["config"])
        if row["secrets"] is not None:
            config["secrets"] = unseal(self.home, row["secrets"])
        return Task.model_validate(config)

    # --- replicas ----------------------------------------------------------------------------

    def new_replica(self, name: str, version: int, use_spot: bool = False,
                    taken: Callable[[str], bool] = lambda cluster: False) -> ReplicaRecord:
        """A PENDING replica with the next id; its cluster is `<service>-<id>` (ids are never reused, not even
        a forgotten replica's; an id whose cluster name `taken` says is in use, a user's own cluster, is skipped)."""
        while True:
            rows = self._run("UPDATE services SET last_replica = MAX(last_replica, "
                             "(SELECT COALESCE(MAX(replica_id), 0) FROM replicas WHERE service = ?)) + 1 "
                             "WHERE name = ? RETURNING last_replica", (name, name))
            if not rows:
                raise UsageError(f"service {name!r} not found")
            replica_id = int(rows[0]["last_replica"])
            if not taken(f"{name}-{replica_id}"):
                break
        self._run("INSERT INTO replicas (service, replica_id, version, cluster, status, use_spot, launched) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (name, replica_id, version, f"{name}-{replica_id}", PENDING, int(use_spot), time.time()))
        return self.replica(name, replica_id)

    def set_replica(self, name: str, replica_id: int, **fields: Any) -> None:
        """Update columns of a replica: status, ip, port, agent_job, ready_at, ended, failure."""
        columns = ", ".join(f"{key} = ?" for key in fields)
        self._run(f"UPDATE replicas SET {columns} WHERE service = ? AND replica_id = ?",
                  (*fields.values(), name, replica_id))

    def replica(self, name: str, replica_id: int) -> ReplicaRecord:
        return _replica(self._run("SELECT * FROM replicas WHERE service = ? AND replica_id = ?", (name, replica_id))[0])

    def replicas(self, name: str, include_ended: bool = False) -> list[ReplicaRecord]:
        """The service's replicas by id; those that ended (FAILED, PREEMPTED) only with include_ended."""
        rows = self._run("SELECT * FROM replicas WHERE service = ? ORDER BY replica_id", (name,))
        out = [_replica(row) for row in rows]
        return out if include_ended else [r for r in out if r.ended is None]

    def forget_replica(self, name: str, replica_id: int) -> None:
        """A replica torn down on purpose (scaled in, replaced by an update) leaves no row."""
        self._run("DELETE FROM replicas WHERE service = ? AND replica_id = ?", (name, replica_id))


def _service(row: sqlite3.Row) -> ServiceRecord:
    return ServiceRecord(name=row["name"], status=row["status"], version=int(row["version"]), created=row["created"],
                         endpoint=row["endpoint"], balancer=json.loads(row["balancer"] or "{}"),
                         down_requested=bool(row["down_requested"]), failure=row["failure"])


def _replica(row: sqlite3.Row) -> ReplicaRecord:
    return ReplicaRecord(service=row["service"], replica_id=int(row["replica_id"]), version=int(row["version"]),
                         cluster=row["cluster"], status=row["status"], use_spot=bool(row["use_spot"]), ip=row["ip"],
                         port=row["port"], agent_job=row["agent_job"], launched=row["launched"], ready_at=row["ready_at"], ended=row["ended"],
                         failure=row["failure"])
