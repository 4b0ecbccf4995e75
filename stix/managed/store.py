"""The managed-job store: one SQLite file under stix's home that the CLI and the controller share.

It holds each job's tasks (as loaded, secrets sealed), its status and its tasks' statuses, every
attempt (the cluster it ran on, where, how it ended) and where each attempt's log is kept. Writes are
single statements or short transactions, so a controller killed at any point leaves a record it can
adopt. SkyPilot's statuses, with its meanings.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence

from stix.home import StixHome

if TYPE_CHECKING:
    from stix.models.task import Task

PENDING = "PENDING"
STARTING = "STARTING"
RUNNING = "RUNNING"
RECOVERING = "RECOVERING"
CANCELLING = "CANCELLING"
SUCCEEDED = "SUCCEEDED"
CANCELLED = "CANCELLED"
FAILED = "FAILED"
FAILED_SETUP = "FAILED_SETUP"
FAILED_PRECHECKS = "FAILED_PRECHECKS"
FAILED_NO_RESOURCE = "FAILED_NO_RESOURCE"
FAILED_CONTROLLER = "FAILED_CONTROLLER"

STATUSES = (PENDING, STARTING, RUNNING, RECOVERING, CANCELLING, SUCCEEDED, CANCELLED, FAILED, FAILED_SETUP,
            FAILED_PRECHECKS, FAILED_NO_RESOURCE, FAILED_CONTROLLER)
TERMINAL = frozenset({SUCCEEDED, CANCELLED, FAILED, FAILED_SETUP, FAILED_PRECHECKS, FAILED_NO_RESOURCE,
                      FAILED_CONTROLLER})
"""A job or task in one of these is over: its clusters are gone and nothing more happens to it."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    submitted REAL NOT NULL,
    started REAL,
    ended REAL,
    task_id TEXT NOT NULL,
    retry_until_up INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    failure TEXT
);
CREATE TABLE IF NOT EXISTS tasks (
    job_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    secrets BLOB,
    status TEXT NOT NULL,
    cluster TEXT,
    agent_job INTEGER,
    restarts INTEGER NOT NULL DEFAULT 0,
    recoveries INTEGER NOT NULL DEFAULT 0,
    started REAL,
    ended REAL,
    failure TEXT,
    PRIMARY KEY (job_id, idx)
);
CREATE TABLE IF NOT EXISTS attempts (
    job_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    cluster TEXT NOT NULL,
    location TEXT,
    started REAL NOT NULL,
    ended REAL,
    outcome TEXT,
    PRIMARY KEY (job_id, idx, attempt)
);
"""


@dataclass(frozen=True)
class ManagedTask:
    """One task of a managed job (a pipeline has several, run in order)."""

    job_id: int
    index: int
    name: str
    status: str
    cluster: Optional[str]
    """The cluster of its current (or last) attempt; gone once the task is over."""
    agent_job: Optional[int]
    """The job id on that cluster's node agent, once submitted."""
    restarts: int
    """Restarts after the task's own code failed (job_recovery.max_restarts_on_errors counts these)."""
    recoveries: int
    """Relaunches after a preemption, node loss or a listed exit code."""
    started: Optional[float]
    ended: Optional[float]
    failure: Optional[str]


@dataclass(frozen=True)
class Attempt:
    """One launch of a task on one cluster; its log is kept locally, in order, whatever became of the cluster."""

    job_id: int
    index: int
    attempt: int
    cluster: str
    location: Optional[str]
    """Where it ran: cloud/region/zone."""
    started: float
    ended: Optional[float]
    outcome: Optional[str]


@dataclass(frozen=True)
class ManagedJob:
    id: int
    name: str
    status: str
    submitted: float
    started: Optional[float]
    ended: Optional[float]
    task_id: str
    """SKYPILOT_TASK_ID base, the same in every attempt (a pipeline's task i appends `-i`)."""
    retry_until_up: bool
    cancel_requested: bool
    failure: Optional[str]
    tasks: tuple[ManagedTask, ...]

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def current(self) -> Optional[ManagedTask]:
        """The task under way (or the last one, once the job is over)."""
        for task in self.tasks:
            if task.status not in TERMINAL:
                return task
        return self.tasks[-1] if self.tasks else None

    @property
    def recoveries(self) -> int:
        return sum(task.recoveries for task in self.tasks)


class JobStore:
    def __init__(self, home: StixHome) -> None:
        self.home = home
        self.root = home.root / "managed"
        self.path = self.root / "jobs.db"

    # --- files -------------------------------------------------------------------------------

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def log_path(self, job_id: int, index: int, attempt: int) -> Path:
        return self.logs_dir / str(job_id) / f"task-{index}-attempt-{attempt}.log"

    @property
    def controller_log(self) -> Path:
        return self.root / "controller.log"

    def _connect(self) -> sqlite3.Connection:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        return conn

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        conn = self._connect()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    # --- writing -----------------------------------------------------------------------------

    def submit(self, name: str, tasks: Sequence[Task], task_id: str, retry_until_up: bool = False) -> int:
        """Record a new PENDING job with its tasks (secrets sealed) in one transaction; returns its id."""
        from stix.managed.sealed import seal

        now = time.time()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            cursor = conn.execute(
                "INSERT INTO jobs (name, status, submitted, task_id, retry_until_up) VALUES (?, ?, ?, ?, ?)",
                (name, PENDING, now, task_id, int(retry_until_up)))
            job_id = int(cursor.lastrowid or 0)
            for index, task in enumerate(tasks):
                config = task.to_yaml_config(redact_secrets=True)
                config.pop("secrets", None)
                secrets = task.secret_values()
                conn.execute(
                    "INSERT INTO tasks (job_id, idx, name, config, secrets, status) VALUES (?, ?, ?, ?, ?, ?)",
                    (job_id, index, task.name or f"task-{index}", json.dumps(config),
                     seal(self.home, secrets) if secrets else None, PENDING))
            conn.execute("COMMIT")
            return job_id
        finally:
            conn.close()

    def set_job(self, job_id: int, status: str, failure: Optional[str] = None) -> None:
        """A job's new status; the first move past PENDING stamps `started`, a terminal one `ended`."""
        now = time.time()
        self._run(
            "UPDATE jobs SET status = ?, failure = COALESCE(?, failure), "
            "started = CASE WHEN started IS NULL AND ? NOT IN (?, ?) THEN ? ELSE started END, "
            "ended = CASE WHEN ? THEN ? ELSE ended END WHERE id = ?",
            (status, failure, status, PENDING, CANCELLING, now, status in TERMINAL, now, job_id))

    _TASK_FIELDS = frozenset({"status", "cluster", "agent_job", "restarts", "recoveries", "failure"})

    def set_task(self, job_id: int, index: int, **fields: Any) -> None:
        """Update a task's fields (status, cluster, agent_job, restarts, recoveries, failure)."""
        if not fields:
            return
        conn = self._connect()
        try:
            conn.execute(*self._task_update(job_id, index, fields))
        finally:
            conn.close()

    def _task_update(self, job_id: int, index: int, fields: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        unknown = set(fields) - self._TASK_FIELDS
        if unknown:
            raise ValueError(f"not task fields: {sorted(unknown)}")
        assignments = [f"{name} = ?" for name in fields]
        params: list[Any] = list(fields.values())
        status = fields.get("status")
        if status is not None:
            now = time.time()
            assignments.append("started = CASE WHEN started IS NULL AND ? != ? THEN ? ELSE started END")
            params += [status, PENDING, now]
            assignments.append("ended = CASE WHEN ? THEN ? ELSE ended END")
            params += [status in TERMINAL, now]
        return f"UPDATE tasks SET {', '.join(assignments)} WHERE job_id = ? AND idx = ?", (*params, job_id, index)

    def request_cancel(self, job_ids: Iterable[int]) -> list[int]:
        """Mark unfinished jobs for cancelling (the controller does it); returns the ids marked."""
        marked = []
        conn = self._connect()
        try:
            for job_id in job_ids:
                cursor = conn.execute(
                    f"UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status NOT IN ({_marks(TERMINAL)})",
                    (job_id, *sorted(TERMINAL)))
                if cursor.rowcount:
                    marked.append(job_id)
        finally:
            conn.close()
        return marked

    def start_attempt(self, job_id: int, index: int, cluster: str) -> Attempt:
        """A new attempt of a task (numbered from 1), with an empty log file."""
        now = time.time()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts WHERE job_id = ? AND idx = ?",
                               (job_id, index)).fetchone()
            number = int(row[0])
            conn.execute("INSERT INTO attempts (job_id, idx, attempt, cluster, started) VALUES (?, ?, ?, ?, ?)",
                         (job_id, index, number, cluster, now))
            conn.execute("COMMIT")
        finally:
            conn.close()
        log = self.log_path(job_id, index, number)
        log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        log.touch(mode=0o600)
        return Attempt(job_id, index, number, cluster, None, now, None, None)

    def set_attempt(self, job_id: int, index: int, attempt: int, *, location: Optional[str] = None,
                    outcome: Optional[str] = None) -> None:
        """Record where an attempt landed, or how it ended (which stamps its end)."""
        self._run("UPDATE attempts SET location = COALESCE(?, location), outcome = COALESCE(?, outcome), "
                  "ended = CASE WHEN ? IS NOT NULL THEN ? ELSE ended END WHERE job_id = ? AND idx = ? AND attempt = ?",
                  (location, outcome, outcome, time.time(), job_id, index, attempt))

    def finish_attempt(self, job_id: int, index: int, attempt: int, outcome: str, **task_fields: Any) -> None:
        """End an attempt and move its task on (status, counts) in one transaction, so a controller killed
        in between never finds a task still RUNNING on an attempt that is over, or the reverse."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE attempts SET outcome = ?, ended = ? WHERE job_id = ? AND idx = ? AND attempt = ?",
                         (outcome, time.time(), job_id, index, attempt))
            if task_fields:
                conn.execute(*self._task_update(job_id, index, task_fields))
            conn.execute("COMMIT")
        finally:
            conn.close()

    # --- reading -----------------------------------------------------------------------------

    def get(self, job_id: int) -> Optional[ManagedJob]:
        found = self._jobs("WHERE id = ?", (job_id,))
        return found[0] if found else None

    def all(self, include_finished: bool = True) -> list[ManagedJob]:
        """Newest first."""
        if include_finished:
            return self._jobs("", ())
        return self._jobs(f"WHERE status NOT IN ({_marks(TERMINAL)})", tuple(sorted(TERMINAL)))

    def unfinished(self) -> list[ManagedJob]:
        """Oldest first: the order the controller schedules and adopts them in."""
        return sorted(self.all(include_finished=False), key=lambda job: job.id)

    def named(self, name: str) -> list[ManagedJob]:
        return self._jobs("WHERE name = ?", (name,))

    def task_configs(self, job_ids: Sequence[int]) -> dict[tuple[int, int], dict]:
        """(job, task index) -> the task as submitted, secrets left out: what `stix jobs queue` shows, without
        unsealing anything."""
        if not job_ids:
            return {}
        rows = self._run(f"SELECT job_id, idx, config FROM tasks WHERE job_id IN ({_marks(job_ids)})", tuple(job_ids))
        return {(r["job_id"], r["idx"]): json.loads(r["config"]) for r in rows}

    def attempts(self, job_id: int) -> list[Attempt]:
        rows = self._run("SELECT * FROM attempts WHERE job_id = ? ORDER BY idx, attempt", (job_id,))
        return [_attempt(r) for r in rows]

    def attempts_by_job(self) -> dict[int, list[Attempt]]:
        """Every job's attempts (as attempts() orders them), in one query: jobs without any are absent."""
        grouped: dict[int, list[Attempt]] = {}
        for r in self._run("SELECT * FROM attempts ORDER BY job_id, idx, attempt"):
            grouped.setdefault(r["job_id"], []).append(_attempt(r))
        return grouped

    def tasks_of(self, job_id: int) -> list[Task]:
        """The job's tasks rebuilt as they were submitted, secrets unsealed."""
        from stix.managed.sealed import unseal
        from stix.models.task import Task

        rows = self._run("SELECT config, secrets FROM tasks WHERE job_id = ? ORDER BY idx", (job_id,))
        tasks = []
        for row in rows:
            config = json.loads(row["config"])
            if row["secrets"] is not None:
                config["secrets"] = unseal(self.home, row["secrets"])
            tasks.append(Task.model_validate(config))
        return tasks

    def _jobs(self, where: str, params: Sequence[Any]) -> list[ManagedJob]:
        conn = self._connect()
        try:
            jobs = conn.execute(f"SELECT * FROM jobs {where} ORDER BY id DESC", params).fetchall()
            ids = [row["id"] for row in jobs]
            tasks: dict[int, list[ManagedTask]] = {job_id: [] for job_id in ids}
            if ids:
                for r in conn.execute(f"SELECT * FROM tasks WHERE job_id IN ({_marks(ids)}) ORDER BY job_id, idx", ids):
                    tasks[r["job_id"]].append(ManagedTask(r["job_id"], r["idx"], r["name"], r["status"], r["cluster"],
                                                          r["agent_job"], r["restarts"], r["recoveries"], r["started"],
                                                          r["ended"], r["failure"]))
        finally:
            conn.close()
        return [ManagedJob(r["id"], r["name"], r["status"], r["submitted"], r["started"], r["ended"], r["task_id"],
                           bool(r["retry_until_up"]), bool(r["cancel_requested"]), r["failure"], tuple(tasks[r["id"]]))
                for r in jobs]


def _attempt(r: sqlite3.Row) -> Attempt:
    return Attempt(r["job_id"], r["idx"], r["attempt"], r["cluster"], r["location"], r["started"], r["ended"],
                   r["outcome"])


def _marks(values: Iterable[Any]) -> str:
    return ", ".join("?" for _ in values)
