"""A small SQLite index of clusters, so `stix status` answers without starting the engine.

Pulumi state stays the truth about infrastructure; this is a cache of it,
written before and after every apply, that `status --refresh` reconciles.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Optional

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
    autostop: Optional[str] = None
    """As `stix status` shows it: '10m', '10m (down)', or None when off."""
    project: Optional[str] = None
    """The stix project directory whose stacks/ holds the cluster's config, if it was launched in one."""


class ClusterIndex:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        conn.execute(SCHEMA)
        conn.execute(HISTORY)
        for column in ("autostop", "project"):  # indexes written before these columns existed
            try:
                conn.execute(f"ALTER TABLE clusters ADD COLUMN {column} TEXT")
            except sqlite3.OperationalError:
                pass
        return conn

    def upsert(self, name: str, cloud: str, num_nodes: int, status: str, task_path: Optional[str],
               project: Optional[str] = None) -> None:
        now = time.time()
        with self._connect() as conn:
            conn.execute(
                """INSERT INTO clusters (name, cloud, num_nodes, status, task_path, created_at, updated_at, project)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(name) DO UPDATE SET cloud=excluded.cloud, num_nodes=excluded.num_nodes,
                   status=excluded.status, task_path=excluded.task_path, updated_at=excluded.updated_at,
                   project=excluded.project""",
                (name, cloud, num_nodes, status, task_path, now, now, project),
            )

    def restore(self, name: str, record: Optional[ClusterRecord]) -> None:
        """Put back a record read earlier (None: there was none), undoing this run's writes."""
        if record is None:
            self.remove(name)
            return
        with self._connect() as conn:
            conn.execute("INSERT OR REPLACE INTO clusters (name, cloud, num_nodes, status, task_path, created_at, "
                         "updated_at, autostop, project) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", astuple(record))

    def set_status(self, name: str, status: str) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE clusters SET status=?, updated_at=? WHERE name=?", (status, time.time(), name))

    def set_autostop(self, name: str, setting: Optional[str]) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE clusters SET autostop=? WHERE name=?", (setting, name))

    def remove(self, name: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM clusters WHERE name=?", (name,))

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

    def record_end(self, name: str) -> None:
        """The cluster was destroyed: close its open history row."""
        with self._connect() as conn:
            conn.execute("UPDATE cluster_history SET ended_at=? WHERE name=? AND ended_at IS NULL", (time.time(), name))

    def history(self) -> list[HistoryRecord]:
        if not self.path.exists():
            return []
        with self._connect() as conn:
            rows = conn.execute("SELECT name, launched_at, ended_at, cloud, num_nodes, resources, hourly_cost "
                                "FROM cluster_history ORDER BY launched_at").fetchall()
        return [HistoryRecord(*row) for row in rows]
