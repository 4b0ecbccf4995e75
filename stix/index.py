"""A small SQLite index of clusters, so `stix status` answers without starting the engine.

Pulumi state stays the truth about infrastructure; this is a cache of it,
written before and after every apply, that `status --refresh` reconciles.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any, Optional

SCHEMA = """
CREATE TABLE IF NOT EXISTS clusters (
    name TEXT PRIMARY KEY,
    cloud TEXT NOT NULL,
    num_nodes INTEGER NOT NULL,
    status TEXT NOT NULL,
    task_path TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
)
"""

ADDED_COLUMNS = (("autostop", "TEXT"), ("project", "TEXT"), ("resources_str", "TEXT"), ("hourly_cost", "REAL"),
                 ("launched_at", "REAL"))
"""In ClusterRecord's order after the first seven fields: `SELECT *` rows map onto it."""

HISTORY = """
CREATE TABLE IF NOT EXISTS cluster_history (
    name TEXT NOT NULL,
    launched_at REAL NOT NULL,
    ended_at REAL,
    cloud TEXT NOT NULL,
    num_nodes INTEGER NOT NULL,
    resources TEXT NOT NULL,
    hourly_cost REAL NOT NULL,
    PRIMARY KEY (name, launched_at)
)
"""
"""One row per life of a cluster in one shape (the cost report): opened at `up`, closed at `destroy` or when
a later `up` changes its shape."""

INIT = "INIT"
UP = "UP"
STOPPED = "STOPPED"
DEGRADED = "DEGRADED"
"""Refresh found drift: a node stopped or gone behind stix's back. `stix up` repairs it."""


@dataclass(frozen=True)
class HistoryRecord:
    name: str
    launched_at: float
    ended_at: Optional[float]
    """None while the cluster lives."""
    cloud: str
    num_nodes: int
    resources: str
    """As SkyPilot writes it: '2x aws(g5.xlarge, A10G:1)'."""
    hourly_cost: float
    """$/hr of the whole cluster."""


@dataclass(frozen=True)
class ClusterRecord:
    name: str
    cloud: str
    num_nodes: int
    status: str
    task_path: Optional[str]
    created_at: float
    updated_at: float
    """When the status last changed (a STOPPED cluster's stop time, for the cost report)."""
    autostop: Optional[str] = None
    """As `stix status` shows it: '10m', '10m (down)', or None when off."""
    project: Optional[str] = None
    """The stix project directory whose stacks/ holds the cluster's config, if it was launched in one."""
    resources_str: Optional[str] = None
    """SkyPilot's form of what the cluster runs on, e.g. '2x aws(g5.xlarge, A10G:1)', written at `up`."""
    hourly_cost: Optional[float] = None
    """$/hr of every node together, from the catalog the optimizer used."""
    launched_at: Optional[float] = None
    """When `up` last applied the cluster (None in records written before this column)."""

    @property
    def launched(self) -> float:
        return self.launched_at if self.launched_at is not None else self.created_at

    @property
    def resources(self) -> str:
        """resources_str; '2x aws' for a record written before that column."""
        return self.resources_str or f"{self.num_nodes}x {self.cloud}"

    def autostop_minutes(self) -> tuple[float, bool]:
        """SkyPilot's (autostop, to_down): idle minutes, -1 when off; whether it tears down."""
        if not self.autostop:
            return -1, False
        minutes = self.autostop.split("m", 1)[0]
        try:
            return float(minutes), "(down)" in self.autostop
        except ValueError:
            return -1, False

    def status_record(self) -> dict[str, Any]:
        """One `stix status --format json` / SDK `status()` record, with SkyPilot's keys."""
        autostop, to_down = self.autostop_minutes()
        return {"name": self.name, "launched_at": int(self.launched), "resources_str": self.resources_str,
                "status": self.status, "autostop": int(autostop) if autostop == int(autostop) else autostop,
                "to_down": to_down, "hourly_cost": self.hourly_cost, "cloud": self.cloud, "num_nodes": self.num_nodes,
                "last_use": self.task_path, "project": self.project}


class ClusterIndex:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        conn.execute(SCHEMA)
        conn.execute(HISTORY)
        present = {row[1] for row in conn.execute("PRAGMA table_info(clusters)")}
        for column, kind in ADDED_COLUMNS:  # indexes written before these columns existed
            if column not in present:
                conn.execute(f"ALTER TABLE clusters ADD COLUMN {column} {kind}")
        return conn

    def upsert(self, name: str, cloud: str, num_nodes: int, status: str, task_path: Optional[str],
               project: Optional[str] = None, resources_str: Optional[str] = None,
               hourly_cost: Optional[float] = None) -> None:
        """resources_str and hourly_cost (given by `up`) are written when given, left None they keep theirs; a
        resources_str that differs from the recorded one (a new shape, as the history counts it) stamps launched_at."""
        now = time.time()
        launched = now if resources_str is not None else None
        with self._connect() as conn:
            conn.execute(
                """INSERT INTO clusters (name, cloud, num_nodes, status, task_path, created_at, updated_at, project,
                   resources_str, hourly_cost, launched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(name) DO UPDATE SET cloud=excluded.cloud, num_nodes=excluded.num_nodes,
                   updated_at=CASE WHEN status=excluded.status THEN updated_at ELSE excluded.updated_at END,
                   status=excluded.status, task_path=excluded.task_path,
                   project=excluded.project, resources_str=COALESCE(excluded.resources_str, resources_str),
                   hourly_cost=COALESCE(excluded.hourly_cost, hourly_cost),
                   launched_at=CASE WHEN excluded.launched_at IS NULL
                       OR (launched_at IS NOT NULL AND resources_str IS excluded.resources_str) THEN launched_at
                       ELSE excluded.launched_at END""",
                (name, cloud, num_nodes, status, task_path, now, now, project, resources_str, hourly_cost, launched),
            )

    def restore(self, name: str, record: Optional[ClusterRecord]) -> None:
        """Put back a record read earlier (None: there was none), undoing this run's writes."""
        if record is None:
            self.remove(name)
            return
        with self._connect() as conn:
            columns = ", ".join(f.name for f in fields(ClusterRecord))
            marks = ", ".join("?" for _ in fields(ClusterRecord))
            conn.execute(f"INSERT OR REPLACE INTO clusters ({columns}) VALUES ({marks})", astuple(record))

    def set_status(self, name: str, status: str) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE clusters SET updated_at=CASE WHEN status=? THEN updated_at ELSE ? END, status=? "
                         "WHERE name=?", (status, time.time(), status, name))

    def set_autostop(self, name: str, setting: Optional[str]) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE clusters SET autostop=? WHERE name=?", (setting, name))

    def remove(self, name: str) -> None:
        """The cluster is gone (destroyed, or a launch that landed nowhere): its entry goes and its open history
        row closes."""
        with self._connect() as conn:
            conn.execute("DELETE FROM clusters WHERE name=?", (name,))
            conn.execute("UPDATE cluster_history SET ended_at=? WHERE name=? AND ended_at IS NULL", (time.time(), name))

    def get(self, name: str) -> Optional[ClusterRecord]:
        if not self.path.exists():
            return None
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM clusters WHERE name=?", (name,)).fetchone()
        return ClusterRecord(*row) if row else None

    def all(self) -> list[ClusterRecord]:
        if not self.path.exists():
            return []
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM clusters ORDER BY created_at").fetchall()
        return [ClusterRecord(*row) for row in rows]

    def record_launch(self, name: str, cloud: str, num_nodes: int, resources: str, hourly_cost: float) -> None:
        """An `up` that leaves the cluster UP: a new history row, unless the open one already has this shape."""
        now = time.time()
        shape = (cloud, num_nodes, resources, hourly_cost)
        with self._connect() as conn:
            row = conn.execute("SELECT cloud, num_nodes, resources, hourly_cost FROM cluster_history "
                               "WHERE name=? AND ended_at IS NULL", (name,)).fetchone()
            if row is not None and tuple(row) == shape:
                return
            conn.execute("UPDATE cluster_history SET ended_at=? WHERE name=? AND ended_at IS NULL", (now, name))
            conn.execute("INSERT INTO cluster_history (name, launched_at, ended_at, cloud, num_nodes, resources, "
                         "hourly_cost) VALUES (?, ?, NULL, ?, ?, ?, ?)", (name, now, *shape))

    def history(self) -> list[HistoryRecord]:
        if not self.path.exists():
            return []
        with self._connect() as conn:
            rows = conn.execute("SELECT name, launched_at, ended_at, cloud, num_nodes, resources, hourly_cost "
                                "FROM cluster_history ORDER BY launched_at").fetchall()
        return [HistoryRecord(*row) for row in rows]


def resources_string(num_nodes: int, cloud: str, instance_type: str, accelerator: str = "", count: float = 0.0,
                     spot: bool = False, vcpus: float = 0.0, memory_gib: float = 0.0) -> str:
    """SkyPilot's RESOURCES column: '2x aws(g5.xlarge, A10G:1)'; without accelerators, the node's size."""
    from stix.models.values import number

    what = [("[Spot]" if spot else "") + (instance_type or "-")]
    if accelerator:
        what.append(f"{accelerator}:{number(count)}")
    else:
        what += ([f"cpus={number(vcpus)}"] if vcpus else []) + ([f"mem={number(round(memory_gib, 1))}"] if memory_gib else [])
    return f"{num_nodes}x {cloud}({', '.join(what)})"
