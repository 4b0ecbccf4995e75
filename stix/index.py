"""A small SQLite index of clusters, so `stix status` answers without starting the engine.

Pulumi state stays the truth about infrastructure; this is a cache of it,
written before and after every apply, that `status --refresh` reconciles.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Optional

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

INTERVALS = """
CREATE TABLE IF NOT EXISTS usage_intervals (
    name TEXT NOT NULL,
    launched_at REAL NOT NULL,
    state TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL
)
"""
"""The billing transitions of each life (cluster_history's name, launched_at): an UP or STOPPED interval from
one transition to the next (up, stop, start, an autostop the node agent did, destroy); the open one has no end.
The price is the life's (cluster_history.hourly_cost): a life is one shape at one price, and `up` at another
price opens a new life."""

DRIFT_CHECKS = """
CREATE TABLE IF NOT EXISTS drift_checks (
    name TEXT PRIMARY KEY,
    checked_at REAL NOT NULL,
    drifted INTEGER NOT NULL
)
"""
"""The last drift check of each cluster (`stix drift`, `stix status --refresh`): when, and how many resources had
drifted; the dashboard shows it beside the cluster."""

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
class UsageInterval:
    name: str
    launched_at: float
    """The life (HistoryRecord) this interval belongs to."""
    state: str
    """UP (billed) or STOPPED (not billed: disks are not counted)."""
    started_at: float
    ended_at: Optional[float]
    """None for the open interval of a live cluster."""


@dataclass(frozen=True)
class DriftCheck:
    name: str
    checked_at: float
    drifted: int
    """How many resources differed from state (0: no drift)."""


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
    def __init__(self, path: Path, clock: Optional[Callable[[], float]] = None) -> None:
        self.path = path
        self.clock = clock or (lambda: time.time())

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        conn.execute(SCHEMA)
        conn.execute(HISTORY)
        conn.execute(DRIFT_CHECKS)
        if not _columns_present(conn):
            _add_columns(conn)
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name='usage_intervals'").fetchone() is None:
            _add_intervals(conn)
        return conn

    def upsert(self, name: str, cloud: str, num_nodes: int, status: str, task_path: Optional[str],
               project: Optional[str] = None, resources_str: Optional[str] = None,
               hourly_cost: Optional[float] = None) -> None:
        """resources_str and hourly_cost (given by `up`) are written when given, left None they keep theirs; a
        resources_str that differs from the recorded one (a new shape, as the history counts it) stamps launched_at."""
        now = self.clock()
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

    def set_status(self, name: str, status: str, at: Optional[float] = None) -> None:
        """UP and STOPPED are billing transitions too; `at` is when it happened (an autostop the node agent did
        before anyone looked), default now."""
        with self._connect() as conn:
            at = _when(conn, name, at, self.clock())
            conn.execute("UPDATE clusters SET updated_at=CASE WHEN status=? THEN updated_at ELSE ? END, status=? "
                         "WHERE name=?", (status, at, status, name))
            if status in (UP, STOPPED):
                _switch(conn, name, status, at)

    def end_life(self, name: str, at: Optional[float] = None) -> None:
        """The cluster's nodes are gone though its entry stays (refresh found an autodown): billing ends at `at`
        (default now); `destroy` later removes the entry."""
        with self._connect() as conn:
            _close_life(conn, name, _when(conn, name, at, self.clock()))

    def correct_stop(self, name: str, at: float) -> bool:
        """The node agent says the cluster stopped at `at`, earlier than stix recorded (a stopped VM could not be
        asked at refresh): move the last UP -> STOPPED boundary back to it. Whether anything moved."""
        with self._connect() as conn:
            rows = conn.execute("SELECT rowid, state, started_at FROM usage_intervals WHERE name=? "
                                "ORDER BY started_at DESC, rowid DESC LIMIT 3", (name,)).fetchall()
            stopped = next((i for i, row in enumerate(rows) if row[1] == STOPPED), None)
            if stopped is None or stopped + 1 >= len(rows) or rows[stopped + 1][1] != UP:
                return False
            (stop_id, _, stop_at), (up_id, _, up_at) = rows[stopped], rows[stopped + 1]
            if not up_at <= at < stop_at:
                return False
            conn.execute("UPDATE usage_intervals SET started_at=? WHERE rowid=?", (at, stop_id))
            conn.execute("UPDATE usage_intervals SET ended_at=? WHERE rowid=?", (at, up_id))
            return True

    def set_autostop(self, name: str, setting: Optional[str]) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE clusters SET autostop=? WHERE name=?", (setting, name))

    def remove(self, name: str) -> None:
        """The cluster is gone (destroyed, or a launch that landed nowhere): its entry goes, its open history
        row and usage interval close; the history stays for the cost report."""
        now = self.clock()
        with self._connect() as conn:
            conn.execute("DELETE FROM clusters WHERE name=?", (name,))
            conn.execute("DELETE FROM drift_checks WHERE name=?", (name,))
            _close_life(conn, name, now)

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
        now = self.clock()
        shape = (cloud, num_nodes, resources, hourly_cost)
        with self._connect() as conn:
            row = conn.execute("SELECT cloud, num_nodes, resources, hourly_cost FROM cluster_history "
                               "WHERE name=? AND ended_at IS NULL", (name,)).fetchone()
            if row is not None and tuple(row) == shape:
                _switch(conn, name, UP, now)  # `up` of a stopped cluster starts it
                return
            _close_life(conn, name, now)
            conn.execute("INSERT INTO cluster_history (name, launched_at, ended_at, cloud, num_nodes, resources, "
                         "hourly_cost) VALUES (?, ?, NULL, ?, ?, ?, ?)", (name, now, *shape))
            conn.execute("INSERT INTO usage_intervals (name, launched_at, state, started_at, ended_at) "
                         "VALUES (?, ?, ?, ?, NULL)", (name, now, UP, now))

    def history(self) -> list[HistoryRecord]:
        if not self.path.exists():
            return []
        with self._connect() as conn:
            rows = conn.execute("SELECT name, launched_at, ended_at, cloud, num_nodes, resources, hourly_cost "
                                "FROM cluster_history ORDER BY launched_at").fetchall()
        return [HistoryRecord(*row) for row in rows]

    def record_drift(self, name: str, drifted: int) -> None:
        with self._connect() as conn:
            conn.execute("INSERT OR REPLACE INTO drift_checks (name, checked_at, drifted) VALUES (?, ?, ?)",
                         (name, self.clock(), drifted))

    def drift_checks(self) -> dict[str, DriftCheck]:
        """The last drift check of each cluster checked since this table exists, by name."""
        if not self.path.exists():
            return {}
        with self._connect() as conn:
            rows = conn.execute("SELECT name, checked_at, drifted FROM drift_checks").fetchall()
        return {row[0]: DriftCheck(*row) for row in rows}

    def intervals(self) -> list[UsageInterval]:
        if not self.path.exists():
            return []
        with self._connect() as conn:
            rows = conn.execute("SELECT name, launched_at, state, started_at, ended_at "
                                "FROM usage_intervals ORDER BY started_at, rowid").fetchall()
        return [UsageInterval(*row) for row in rows]


def _when(conn: sqlite3.Connection, name: str, at: Optional[float], now: float) -> float:
    """When a reported transition happened: `at`, but never in the future, and now for a time from before the
    interval it would end (a stale stamp of an earlier autostop is not this transition's)."""
    if at is None or at > now:
        return now
    opened = conn.execute("SELECT started_at FROM usage_intervals WHERE name=? AND ended_at IS NULL",
                          (name,)).fetchone()
    return now if opened is not None and at < opened[0] else at


def _switch(conn: sqlite3.Connection, name: str, state: str, at: float) -> None:
    """Close the open interval of the cluster's live history row and open one in `state`, unless it is in it."""
    row = conn.execute("SELECT rowid, state, started_at, launched_at FROM usage_intervals "
                       "WHERE name=? AND ended_at IS NULL", (name,)).fetchone()
    if row is None or row[1] == state:
        return
    rowid, _, started_at, launched_at = row
    at = max(at, started_at)
    conn.execute("UPDATE usage_intervals SET ended_at=? WHERE rowid=?", (at, rowid))
    conn.execute("INSERT INTO usage_intervals (name, launched_at, state, started_at, ended_at) "
                 "VALUES (?, ?, ?, ?, NULL)", (name, launched_at, state, at))


def _close_life(conn: sqlite3.Connection, name: str, at: float) -> None:
    conn.execute("UPDATE usage_intervals SET ended_at=MAX(?, started_at) WHERE name=? AND ended_at IS NULL",
                 (at, name))
    conn.execute("UPDATE cluster_history SET ended_at=? WHERE name=? AND ended_at IS NULL", (at, name))


def _columns_present(conn: sqlite3.Connection) -> bool:
    present = {row[1] for row in conn.execute("PRAGMA table_info(clusters)")}
    return all(column in present for column, _ in ADDED_COLUMNS)


def _add_columns(conn: sqlite3.Connection) -> None:
    """An index written before ADDED_COLUMNS existed (or one just made from SCHEMA): add them under a write lock,
    looking again once it is held, since two processes (a CLI and the jobs controller) may open it at once."""
    conn.execute("BEGIN IMMEDIATE")
    present = {row[1] for row in conn.execute("PRAGMA table_info(clusters)")}
    for column, kind in ADDED_COLUMNS:
        if column not in present:
            conn.execute(f"ALTER TABLE clusters ADD COLUMN {column} {kind}")
    conn.commit()


def _add_intervals(conn: sqlite3.Connection) -> None:
    """An index written before usage intervals: each life becomes one UP interval, or UP then STOPPED for a live
    cluster recorded STOPPED (since its last status change), so the old index reports as it did."""
    conn.execute("BEGIN IMMEDIATE")
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name='usage_intervals'").fetchone() is not None:
        conn.commit()  # another process added it meanwhile
        return
    conn.execute(INTERVALS)
    stopped = dict(conn.execute("SELECT name, updated_at FROM clusters WHERE status=?", (STOPPED,)).fetchall())
    for name, launched_at, ended_at in conn.execute(
            "SELECT name, launched_at, ended_at FROM cluster_history").fetchall():
        stop = stopped.get(name) if ended_at is None else None
        spans = [(UP, launched_at, ended_at)] if stop is None else \
            [(UP, launched_at, max(stop, launched_at)), (STOPPED, max(stop, launched_at), None)]
        for state, start, end in spans:
            conn.execute("INSERT INTO usage_intervals (name, launched_at, state, started_at, ended_at) "
                         "VALUES (?, ?, ?, ?, ?)", (name, launched_at, state, start, end))
    conn.commit()


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
