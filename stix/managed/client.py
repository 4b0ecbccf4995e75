"""What `stix jobs launch / queue / cancel / logs` and stix.jobs do: one implementation for the CLI and the SDK.

Launch runs every precheck here, before anything is recorded, so a task that cannot run fails at once
with the usual one-line error; the controller (stix.managed.controller) does everything after the
submit. Queue, cancel and logs read and mark the store only: no engine, no SSH, no cloud SDK.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from stix.agent.node_agent import NOT_FINISHED_EXIT, NOT_FOUND_EXIT, STATUS_EXIT
from stix.errors import StixError, UsageError
from stix.home import StixHome
from stix.managed.store import CANCELLED, FAILED, SUCCEEDED, Attempt, JobStore, ManagedJob
from stix.session import LineSink, Session, confirm

if TYPE_CHECKING:
    from stix.loader import EnvOverrides
    from stix.models.task import Task
    from stix.optimizer import Placement

SUCCEEDED_EXIT, FAILED_EXIT, CANCELLED_EXIT = STATUS_EXIT[SUCCEEDED], STATUS_EXIT[FAILED], STATUS_EXIT[CANCELLED]
"""`stix jobs logs` ends as `stix logs --status` does (the node agent's codes): by the job's status."""
RECENT_S = 24 * 3600
"""`stix jobs queue` without --all: unfinished jobs, and those that ended this recently."""
CANCEL_WAIT_S = 300.0
POLL_S = 0.5


# --- launch ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManagedLaunch:
    tasks: tuple[Task, ...]
    name: str
    label: str
    """Where the tasks came from (the file), for errors."""
    lines: tuple[int, ...] = ()
    """The line each task starts on in that file, when there is one."""
    yes: bool = False
    retry_until_up: bool = False


@dataclass(frozen=True)
class PlannedTask:
    index: int
    task: Task
    placement: Placement


def load_launch(path: str | Path, overrides: Optional[EnvOverrides] = None, name: Optional[str] = None,
                **options: Any) -> ManagedLaunch:
    """A task file (one task, or a pipeline) as a managed job; NAME defaults to the pipeline's or task's name,
    else the file's stem."""
    from stix.loader import load_pipeline

    pipeline = load_pipeline(path, overrides, require_env=True)
    if pipeline.is_job_group:
        raise UsageError(f"{path}: not supported yet: execution: parallel (a job group, whose tasks start together; "
                         "without it the tasks run in order, as a pipeline)")
    single = None if pipeline.is_pipeline else pipeline.tasks[0].name
    return ManagedLaunch(tuple(pipeline.tasks), name or pipeline.name or single or Path(path).stem, str(path),
                         pipeline.lines, **options)


def precheck(home: StixHome, launch: ManagedLaunch) -> list[PlannedTask]:
    """What would fail the job at once, found before it is recorded: unset values, nothing to run, what stix
    cannot run yet, no placement, a bad storage mount, a git workdir that does not answer, a missing provider
    plugin or program. Errors name the file, the task's line
    and the task."""
    if not launch.tasks:
        raise UsageError(f"{launch.label}: no tasks to launch")
    planned = []
    for index, task in enumerate(launch.tasks):
        try:
            placement = check_placed(home, task, "a managed job runs a task to completion")
        except StixError as exc:
            raise located(exc, _where(launch, index)) from None
        planned.append(PlannedTask(index, task, placement))
    return planned


def check_placed(home: StixHome, task: Task, no_run_hint: str) -> Placement:
    """Where the task would go, once what would fail its launch at once is ruled out (unset values, no `run`
    (no_run_hint says why one is needed), what stix cannot run yet, no placement, a bad storage mount, a missing
    provider plugin or program, a git workdir that does not answer); a StixError otherwise."""
    from stix.compile import check_prerequisites, check_runnable
    from stix.git_workdir import check_task
    from stix.placement import place
    from stix.storage.plan import plan_mounts

    missing = task.required_unset()
    if missing:
        raise UsageError(f"the task needs values: {', '.join(missing)}")
    if not task.run:
        raise UsageError(f"nothing to run (no `run`): {no_run_hint}")
    check_runnable(task)
    placement = place(task)
    check_runnable(task, placement.chosen.cloud)
    check_prerequisites(home, placement.chosen.cloud, plan_mounts(task, placement.chosen.cloud))
    check_task(task)
    return placement


def _where(launch: ManagedLaunch, index: int) -> str:
    line = launch.lines[index] if index < len(launch.lines) else None
    where = f"{launch.label}:{line}:1" if line is not None else launch.label
    if len(launch.tasks) > 1:
        where += f": task {index} ({launch.tasks[index].name or 'unnamed'})"
    return where


def located(exc: StixError, where: str) -> StixError:
    """The same error (type and exit code) with where it was found in front (once: one already there is kept)."""
    import copy

    if exc.message.startswith(f"{where}:"):
        return exc
    result = copy.copy(exc)
    result.message = f"{where}: {exc.message}"
    result.args = (result.message,)
    return result


def new_task_id(name: str) -> str:
    """SKYPILOT_TASK_ID of every attempt of the job (a pipeline's task i gets `-i` after it)."""
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
    return f"stix-managed-{stamp}-{time.time_ns() // 1000 % 1_000_000:06d}_{name}"


def submit(home: StixHome, launch: ManagedLaunch, planned: Sequence[PlannedTask]) -> int:
    """Record the job (PENDING) and make sure a controller runs it; returns its id."""
    store = JobStore(home)
    job_id = store.submit(launch.name, [p.task for p in planned], new_task_id(launch.name), launch.retry_until_up)
    try:
        _ensure_controller(home)
    except OSError as exc:
        raise StixError(f"managed job {job_id} is recorded, but its controller could not be started ({exc}); "
                        "the next `stix jobs launch` or `stix jobs cancel` starts it") from None
    return job_id


def _ensure_controller(home: StixHome) -> None:
    from stix.managed.controller import ensure_controller

    ensure_controller(home)


def launch(session: Session, request: ManagedLaunch) -> int:
    """Precheck, show each task's placement, confirm, submit; returns the managed job's id."""
    from stix.render import managed_placement_line

    request = policed(session, request)
    planned = precheck(session.home, request)
    for p in planned:
        session.note(managed_placement_line(p.index, p.task.name, p.placement, len(planned)))
    tasks = f"{len(planned)} tasks" if len(planned) > 1 else "1 task"
    confirm(session, f"Launch managed job {request.name!r} ({tasks})?", request.yes)
    job_id = submit(session.home, request, planned)
    session.note(f"Managed job {job_id} submitted", "success")
    return job_id


# --- queue ---------------------------------------------------------------------------------------


def policed(session: Session, request: ManagedLaunch) -> ManagedLaunch:
    """Each task as the config's admin policy returns it (stix.admin_policy; no request options, as SkyPilot's
    jobs), before anything is planned or recorded; what it changed is noted."""
    from dataclasses import replace

    from stix.admin_policy import police

    tasks = tuple(police(session, task, Path(request.label), None, request.name).task for task in request.tasks)
    return replace(request, tasks=tasks)


def queue_rows(store: JobStore, all_jobs: bool = False, skip_finished: bool = False,
               now: Optional[float] = None) -> list[dict]:
    """One dict per task (a pipeline's tasks under its job), newest job first; the keys are stable (json)."""
    now = time.time() if now is None else now
    jobs = store.all(include_finished=not skip_finished)
    if not all_jobs:
        jobs = [job for job in jobs if not job.done or (job.ended or job.submitted) >= now - RECENT_S]
    configs = store.task_configs([job.id for job in jobs])
    rows = []
    for job in jobs:
        for task in job.tasks:
            rows.append({
                "job_id": job.id,
                "job_name": job.name,
                "task_id": task.index,
                "task_name": task.name,
                "tasks": len(job.tasks),
                "resources": resources_label(configs.get((job.id, task.index), {})),
                "submitted_at": job.submitted,
                "start_at": task.started,
                "end_at": task.ended,
                "duration": _span(job.submitted, job.ended, now),
                "job_duration": _span(task.started, task.ended, now),
                "recovery_count": task.recoveries,
                "restart_count": task.restarts,
                "status": task.status,
                "job_status": job.status,
                "failure_reason": task.failure or (job.failure if job.done and task.status != SUCCEEDED else None),
                "cluster": task.cluster,
            })
    return rows


def _span(start: Optional[float], end: Optional[float], now: float) -> Optional[float]:
    return None if start is None else round(max(0.0, (end or now) - start), 1)


def resources_label(config: dict) -> str:
    """SkyPilot's RESOURCES cell: `2x[A100:8][Spot]`, `1x[CPU:4+]`."""
    resources = config.get("resources") or {}
    if isinstance(resources, list):  # a SkyPilot-style list of alternatives: show the first
        resources = resources[0] if resources else {}
    accelerators = resources.get("accelerators")
    if isinstance(accelerators, dict):
        accelerators = ", ".join(f"{name}:{count:g}" if isinstance(count, (int, float)) else str(name)
                                 for name, count in accelerators.items())
    elif isinstance(accelerators, list):
        accelerators = accelerators[0] if accelerators else None
    if not accelerators:
        cpus = resources.get("cpus")
        accelerators = f"CPU:{cpus}" if cpus is not None else "CPU"
    spot = "[Spot]" if resources.get("use_spot") else ""
    return f"{config.get('num_nodes') or 1}x[{accelerators}]{spot}"


# --- cancel --------------------------------------------------------------------------------------


@dataclass
class CancelResult:
    requested: list[int] = field(default_factory=list)
    """The jobs marked for cancelling."""
    skipped: list[str] = field(default_factory=list)
    """One line for each id, or name, that named nothing cancellable."""
    final: dict[int, str] = field(default_factory=dict)
    """The requested jobs' statuses when the wait ended (still CANCELLING if it ran out)."""

    @property
    def settled(self) -> bool:
        from stix.managed.store import TERMINAL

        return all(status in TERMINAL for status in self.final.values())


def cancellable(store: JobStore, job_ids: Sequence[int] = (), name: Optional[str] = None,
                all_jobs: bool = False) -> tuple[list[ManagedJob], list[str]]:
    """The unfinished jobs the selection names, and a line for each part of it that named none."""
    if sum(map(bool, (job_ids, name, all_jobs))) != 1:
        raise UsageError("name the managed jobs to cancel: IDs, -n NAME, or -a for all")
    skipped: list[str] = []
    if all_jobs:
        return store.unfinished(), skipped
    if name is not None:
        named = store.named(name)
        if not named:
            skipped.append(f"no managed job named {name!r}")
        elif all(job.done for job in named):
            skipped.append(f"managed job(s) named {name!r} already ended: "
                           + ", ".join(f"{job.id} {job.status}" for job in sorted(named, key=lambda j: j.id)))
        return sorted((job for job in named if not job.done), key=lambda j: j.id), skipped
    found = []
    for job_id in dict.fromkeys(job_ids):
        job = store.get(job_id)
        if job is None:
            skipped.append(f"no managed job {job_id}")
        elif job.done:
            skipped.append(f"managed job {job_id} already ended: {job.status}")
        else:
            found.append(job)
    return found, skipped


def cancel(session: Session, job_ids: Sequence[int] = (), name: Optional[str] = None, all_jobs: bool = False,
           yes: bool = False, wait_s: Optional[float] = CANCEL_WAIT_S, poll: float = POLL_S) -> CancelResult:
    """Mark the jobs, let the controller cancel them (their clusters go down), and wait (up to wait_s; None:
    not at all) until each has ended. Reports each skipped id and each final status as a note."""
    store = JobStore(session.home)
    jobs, skipped = cancellable(store, job_ids, name, all_jobs)
    result = CancelResult(skipped=skipped)
    for line in skipped:
        session.note(line, "warning")
    if not jobs:
        if all_jobs:
            session.note("no unfinished managed jobs", "warning")
        return result
    listed = ", ".join(f"{job.id} ({job.name})" for job in jobs)
    confirm(session, f"Cancel managed job(s) {listed}?", yes)
    result.requested = store.request_cancel(job.id for job in jobs)
    for job in jobs:
        if job.id not in result.requested:
            gone = store.get(job.id)
            line = f"managed job {job.id} already ended: {gone.status if gone else 'gone'}"
            result.skipped.append(line)
            session.note(line, "warning")
    if not result.requested:
        return result
    _ensure_controller(session.home)
    ids = ", ".join(map(str, result.requested))
    if wait_s is None:
        session.note(f"Cancel requested for managed job(s) {ids}; `stix jobs queue` shows when they end")
        result.final = wait_ended(store, result.requested, None)
        return result
    session.note(f"Cancelling managed job(s) {ids}")
    result.final = wait_ended(store, result.requested, wait_s, poll)
    for job_id, status in result.final.items():
        session.note(f"Managed job {job_id}: {status}", "success" if status == CANCELLED else "info")
    if not result.settled:
        session.note(f"still cancelling after {wait_s:g}s; `stix jobs queue` shows when they end", "warning")
    return result


def wait_ended(store: JobStore, job_ids: Sequence[int], wait_s: Optional[float], poll: float = POLL_S) -> dict[int, str]:
    """Each job's status once all have ended or wait_s has passed (None: read once)."""
    deadline = time.monotonic() + (wait_s or 0)
    while True:
        jobs = {job_id: store.get(job_id) for job_id in job_ids}
        statuses = {job_id: job.status if job else "GONE" for job_id, job in jobs.items()}
        if wait_s is None or all(job is None or job.done for job in jobs.values()) or time.monotonic() >= deadline:
            return statuses
        time.sleep(poll)


# --- logs ----------------------------------------------------------------------------------------


def exit_code(status: str) -> int:
    from stix.managed.store import TERMINAL

    if status == SUCCEEDED:
        return SUCCEEDED_EXIT
    if status == CANCELLED:
        return CANCELLED_EXIT
    return FAILED_EXIT if status in TERMINAL else NOT_FINISHED_EXIT


def resolve(store: JobStore, job_id: Optional[int] = None, name: Optional[str] = None) -> Optional[ManagedJob]:
    """A job by id, or the newest of that name, or the newest of all."""
    if job_id is not None:
        return store.get(job_id)
    jobs = store.named(name) if name is not None else store.all()
    return jobs[0] if jobs else None


def read_logs(store: JobStore, job_id: Optional[int], name: Optional[str], out: LineSink, follow: bool = True,
              controller: bool = False) -> Optional[int]:
    """`stix jobs logs`: the job (by id, newest of a name, or newest) read or followed; its status code, or None
    when there is no such job."""
    job = resolve(store, job_id, name)
    if job is None:
        return None
    return (controller_logs if controller else tail_logs)(store, job.id, out, follow=follow)


def tail_logs(store: JobStore, job_id: int, out: LineSink, follow: bool = True, poll: float = POLL_S) -> int:
    """Every attempt of every task, in order, each behind a header line; following the live attempt (and the
    ones after it) until the job ends. Returns the job's status code (NOT_FOUND_EXIT if there is none)."""
    if store.get(job_id) is None:
        return NOT_FOUND_EXIT
    reader = _AttemptReader(store, out)
    while True:
        job = store.get(job_id)
        assert job is not None
        final = job.done or not follow  # the status is read first: what was written before it is read below
        reader.advance(job, store.attempts(job_id), final)
        if final:
            if job.done:
                reason = f": {job.failure}" if job.failure else ""
                out(f"── managed job {job.id} ({job.name}): {job.status}{reason}")
            return exit_code(job.status)
        time.sleep(poll)


def controller_logs(store: JobStore, job_id: int, out: LineSink, follow: bool = False, poll: float = POLL_S) -> int:
    """The controller's lines about this job (`job N: ...`), following them until the job ends."""
    if store.get(job_id) is None:
        return NOT_FOUND_EXIT
    mine = re.compile(rf"(^|\s)job {job_id}:")
    tail = _Tail(store.controller_log)
    while True:
        job = store.get(job_id)
        assert job is not None
        final = job.done or not follow
        for line in tail.lines(whole=final):
            if mine.search(line):
                out(line)
        if final:
            return exit_code(job.status)
        time.sleep(poll)


class _Tail:
    """New whole lines of a file that may not exist yet and only grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def lines(self, whole: bool = False) -> list[str]:
        """whole: the last line too, even without its newline (the writer is done)."""
        try:
            with open(self.path, "rb") as handle:
                size = handle.seek(0, 2)
                if size < self.offset:  # cut back (a restarted controller streams the run again): go on from the cut
                    self.offset, self.partial = size, b""
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            data = b""
        self.offset += len(data)
        data = self.partial + data
        *complete, self.partial = data.split(b"\n")
        if whole and self.partial:
            complete.append(self.partial)
            self.partial = b""
        return [line.decode("utf-8", "replace") for line in complete]

    @property
    def started(self) -> bool:
        return self.offset > 0 or (self.path.exists() and self.path.stat().st_size > 0)


class _AttemptReader:
    """Reads attempts strictly in order: one attempt's log is printed whole before the next one's header."""

    def __init__(self, store: JobStore, out: LineSink) -> None:
        self.store = store
        self.out = out
        self.position = 0
        self.tail: Optional[_Tail] = None
        self.header_outcome: Optional[str] = None

    def advance(self, job: ManagedJob, attempts: list[Attempt], final: bool) -> None:
        while self.position < len(attempts):
            attempt = attempts[self.position]
            over = attempt.ended is not None or self.position + 1 < len(attempts) or final
            if self.tail is None:
                tail = _Tail(self.store.log_path(attempt.job_id, attempt.index, attempt.attempt))
                if not (attempt.location or over or tail.started):
                    return  # nothing to say about it yet; its header comes with its first line or its place
                self.out(header(job, attempt))
                self.tail, self.header_outcome = tail, attempt.outcome
            for line in self.tail.lines(whole=over):
                self.out(line)
            if not over:
                return
            if attempt.outcome and not self.header_outcome:
                self.out(f"── {_label(job, attempt)}: {attempt.outcome}")
            self.position, self.tail = self.position + 1, None


def _label(job: ManagedJob, attempt: Attempt) -> str:
    name = next((t.name for t in job.tasks if t.index == attempt.index), None)
    return f"task {attempt.index}" + (f" ({name})" if name else "") + f", attempt {attempt.attempt}"


def header(job: ManagedJob, attempt: Attempt) -> str:
    """── task 0 (train), attempt 2 on train-7 (local/local/local-b): RECOVERED"""
    location = "/".join(part for part in (attempt.location or "").split("/") if part)  # a cloud without zones
    where = f" ({location})" if location else ""
    outcome = f": {attempt.outcome}" if attempt.outcome else ""
    return f"── {_label(job, attempt)} on {attempt.cluster}{where}{outcome}"
