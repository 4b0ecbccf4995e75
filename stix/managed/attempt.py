"""One managed job carried through its tasks by the controller: launch, watch, recover, tear down.

Everything it does is recorded in the store before and after it is done, so a controller that dies at
any point is replaced by one that reads the record and carries on (JobRunner.run adopts by status).
"""

from __future__ import annotations

import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, TypeVar

from stix import cluster_jobs
from stix.agent.node_agent import FAILED_SETUP as AGENT_FAILED_SETUP
from stix.agent.node_agent import SUCCEEDED as AGENT_SUCCEEDED
from stix.agent.node_agent import TERMINAL as AGENT_TERMINAL
from stix.errors import (ClusterNotFound, NoCapacity, NoFeasiblePlacement, SetupFailed, StackLocked, StixError, TaskError,
                         UsageError)
from stix.events import Event, EventSink, JobSubmitted, Note, ResourceFailed
from stix.home import StixHome
from stix.managed import recovery
from stix.managed import store as st
from stix.managed.store import Attempt, JobStore, ManagedJob, ManagedTask
from stix.models.task import Task
from stix.session import Session

CANCEL_POLL_S = 0.5
RUN_MARK = "stix: following job "
"""Starts the run part of an attempt's log; an adopting controller rewrites the file from there."""
SETUP_MARK = "stix: agent job "
"""Starts the setup part of an attempt's log (the agent job was submitted); adopting a job still in its setup
rewrites the file from there."""
TEARDOWN_TRIES = 3
REWATCH_LIMIT = 3
"""Times a broken log stream is followed again on a cluster the refresh finds healthy, before it counts as lost."""

LogLine = Callable[[str], None]
T = TypeVar("T")


class AttemptLog:
    """An attempt's log file, appended a line at a time from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")

    def event(self, event: Event) -> None:
        if isinstance(event, Note):
            self.line(f"stix: {event.text}")
        elif isinstance(event, ResourceFailed):
            self.line(f"stix: {event.name} failed: {event.message}")

    def rewind_to_run(self) -> None:
        """Drop what an earlier controller streamed of the run (it is streamed again, whole, from the agent)."""
        self._rewind_to(RUN_MARK)

    def rewind_to_setup(self) -> None:
        """Drop what an earlier controller streamed of the job's setup (streamed again, whole, from the agent)."""
        self._rewind_to(SETUP_MARK)

    def _rewind_to(self, mark: str) -> None:
        with self._lock:
            text = self.path.read_text(encoding="utf-8", errors="replace") if self.path.exists() else ""
            cut = text.find(mark)
            self.path.write_text(text[:cut] if cut >= 0 else text, encoding="utf-8")


def cluster_name(job: ManagedJob, index: int) -> str:
    """`<name>-<id>`, a pipeline's task i `<name>-<id>-<i>`, valid per stix.naming."""
    from stix.naming import default_cluster_name

    suffix = f"-{job.id}" + (f"-{index}" if len(job.tasks) > 1 else "")
    base = default_cluster_name(job.name, Path("job.yaml"))[:40 - len(suffix)].rstrip("-") or "job"
    return base + suffix


def task_id(job: ManagedJob, index: int) -> str:
    return job.task_id if len(job.tasks) == 1 else f"{job.task_id}-{index}"


@dataclass
class Watched:
    """How watching an attempt's job ended."""

    cancelled: bool = False
    status: Optional[str] = None
    """The agent's status for the job; None when the stream broke and the head could not say."""
    exit_code: Optional[int] = None


class JobRunner:
    """Carries one job to a terminal status; one thread per job."""

    def __init__(self, home: StixHome, job_id: int, log: LogLine, launches: threading.Semaphore) -> None:
        self.home = home
        self.store = JobStore(home)
        self.job_id = job_id
        self._log = log
        self.launches = launches

    def log(self, text: str) -> None:
        self._log(f"job {self.job_id}: {text}")

    def job(self) -> ManagedJob:
        job = self.store.get(self.job_id)
        assert job is not None, f"job {self.job_id} vanished from the store"
        return job

    def cancel_requested(self) -> bool:
        return self.job().cancel_requested

    # --- the job -----------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - a controller bug ends this job, not the controller
            self.log(f"controller error: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            self._finish_job(st.FAILED_CONTROLLER, f"{type(exc).__name__}: {exc}")


    def _run(self) -> None:
        job = self.job()
        tasks = self.store.tasks_of(self.job_id)
        for managed in job.tasks:
            outcome = managed.status
            if outcome not in st.TERMINAL:
                outcome = self._run_task(job, managed, tasks[managed.index])
            if outcome != st.SUCCEEDED:
                self._finish_job(outcome, None)
                return
        self._finish_job(st.SUCCEEDED, None)

    def _finish_job(self, status: str, failure: Optional[str]) -> None:
        """The job's end; tasks not yet over are CANCELLED (the one under way FAILED_CONTROLLER, if that ended it)."""
        tasks = self.job().tasks
        blamed = any(managed.status == st.FAILED_CONTROLLER for managed in tasks)
        own = st.FAILED_CONTROLLER if status == st.FAILED_CONTROLLER and not blamed else st.CANCELLED
        for managed in tasks:
            if managed.status not in st.TERMINAL:
                self.store.set_task(self.job_id, managed.index, status=own, failure=failure)
                own = st.CANCELLED
        self._sweep()  # before the job is over: a controller killed here adopts it, and sweeps again
        self.store.set_job(self.job_id, status, failure)
        self.log(status + (f": {failure}" if failure else ""))

    def _sweep(self) -> None:
        """No leaks: every cluster any attempt of this job ran on is gone once the job is over."""
        for cluster in sorted({attempt.cluster for attempt in self.store.attempts(self.job_id)}):
            if self._exists(cluster):
                self._teardown(cluster, None)

    def _exists(self, cluster: str) -> bool:
        from stix import index as idx
        from stix.lifecycle import has_leftovers

        return idx.ClusterIndex(self.home.index_db).get(cluster) is not None or has_leftovers(self.home, cluster)

    # --- one task ----------------------------------------------------------------------------

    def _run_task(self, job: ManagedJob, managed: ManagedTask, task: Task) -> str:
        """Attempts of one task until it is over; returns its terminal status."""
        index = managed.index
        cluster = cluster_name(job, index)
        policy = recovery.policy_of(task)
        while True:
            managed = self.job().tasks[index]
            if self.cancel_requested() or managed.status == st.CANCELLING:
                return self._cancel(index, cluster, managed.agent_job)
            attempt = self._current_attempt(index, cluster)
            log = AttemptLog(self.store.log_path(self.job_id, index, attempt.attempt))
            adopted = managed.agent_job is not None
            started = managed.agent_job if adopted else self._start(job, managed, task, cluster, attempt, log, policy)
            if isinstance(started, str):
                return started
            assert started is not None
            ended = self._follow(index, cluster, started, attempt, log, adopted, policy)
            if ended is not None:
                return ended

    def _start(self, job: ManagedJob, managed: ManagedTask, task: Task, cluster: str, attempt: Attempt,
               log: AttemptLog, policy: recovery.Policy) -> int | str:
        """Launch the attempt: the agent job it submitted, or the task's terminal status."""
        index = managed.index
        if managed.status == st.PENDING:
            self.store.set_task(self.job_id, index, status=st.STARTING, cluster=cluster)
            self.store.set_job(self.job_id, st.STARTING)
        relaunch = None
        if managed.status == st.RECOVERING:
            relaunch = self._relaunch(index, policy)
            if self._exists(cluster):  # adopted mid-recovery: the lost cluster may still be there
                self._teardown(cluster, log)
        self.log(f"task {index}: attempt {attempt.attempt} launching on cluster {cluster}"
                 + (f" (recovery from {relaunch.cloud}/{relaunch.region}/{relaunch.zone})" if relaunch else ""))
        failed = self._launch(job, index, task, cluster, attempt, log, relaunch)
        if failed is not None:
            return failed
        agent_job = self.job().tasks[index].agent_job
        if agent_job is None:  # nothing to run: the task was setup alone
            return self._task_succeeded(index, cluster, attempt)
        if self.cancel_requested():
            return self._cancel(index, cluster, agent_job)
        return agent_job

    def _follow(self, index: int, cluster: str, agent_job: int, attempt: Attempt, log: AttemptLog, adopted: bool,
                policy: recovery.Policy) -> Optional[str]:
        """Watch the attempt's job to its end and act on it: the task's terminal status, or None to relaunch."""
        if adopted and self.job().tasks[index].status == st.STARTING:
            failed = self._adopt_setup(index, cluster, agent_job, attempt, log)
            if failed is not None:
                return failed
        self.store.set_task(self.job_id, index, status=st.RUNNING)
        self.store.set_job(self.job_id, st.RUNNING)
        self.log(f"task {index}: RUNNING (agent job {agent_job} on {cluster})")
        watched, healthy = self._ending(cluster, agent_job, log, adopted)
        if watched.cancelled:
            return self._cancel(index, cluster, agent_job)
        ended = recovery.Ended(watched.status == AGENT_SUCCEEDED, healthy, watched.exit_code)
        decision = recovery.decide(ended, self.job().tasks[index].restarts, policy)
        self.log(f"task {index}: job {watched.status or 'unreachable'}"
                 + (f" (exit {watched.exit_code})" if watched.exit_code is not None else "")
                 + f", cluster {'healthy' if healthy else 'lost a node'}: {decision}")
        if decision == recovery.DONE:
            return self._task_succeeded(index, cluster, attempt)
        if decision == recovery.FAIL:
            failure = f"task {index} failed" + (f" with exit code {watched.exit_code}" if watched.exit_code else "")
            self.store.finish_attempt(self.job_id, index, attempt.attempt, st.FAILED, status=st.FAILED,
                                      failure=failure)
            self._teardown(cluster, log)
            return st.FAILED
        current = self.job().tasks[index]
        counts = ({"recoveries": current.recoveries + 1} if decision == recovery.RECOVER
                  else {"restarts": current.restarts + 1})
        self.store.finish_attempt(self.job_id, index, attempt.attempt, "PREEMPTED" if not healthy else st.FAILED,
                                  status=st.RECOVERING, agent_job=None, **counts)
        self.store.set_job(self.job_id, st.RECOVERING)
        self._teardown(cluster, log)
        return None

    def _adopt_setup(self, index: int, cluster: str, agent_job: int, attempt: Attempt, log: AttemptLog) -> Optional[str]:
        """A job an earlier controller submitted and was following through its setup: follow the setup to its end
        (streamed again, whole); FAILED_SETUP when it failed, None to go on to the run. An unreachable head is
        left to the run's watch, which tells a lost cluster from a broken stream."""
        log.rewind_to_setup()
        log.line(f"{SETUP_MARK}{agent_job} on {cluster}")
        try:
            with cluster_jobs.head_connection(self.home, cluster) as head:
                cluster_jobs.follow(head, agent_job, log.line, phase="setup")
                row = cluster_jobs.job(head, agent_job)
        except StixError as exc:
            self.log(f"cannot follow the setup of agent job {agent_job} on {cluster}: {exc}")
            return None
        if row is None or row["status"] != AGENT_FAILED_SETUP:
            return None
        failure = f"task {index}: setup failed" + (f": {row['detail']}" if row.get("detail") else "")
        self.store.finish_attempt(self.job_id, index, attempt.attempt, st.FAILED_SETUP, status=st.FAILED_SETUP,
                                  failure=failure)
        self._teardown(cluster, log)
        self.log(f"task {index}: {st.FAILED_SETUP}: {failure}")
        return st.FAILED_SETUP

    def _ending(self, cluster: str, agent_job: int, log: AttemptLog, adopted: bool) -> tuple[Watched, bool]:
        """How the job ended, and whether the cluster is still whole (a refresh finds every node as recorded).
        A stream that broke on a whole cluster is followed again, a few times, before the head counts as lost."""
        watched = self._watch(cluster, agent_job, log, rewind=adopted)
        for _ in range(REWATCH_LIMIT):
            if watched.cancelled or watched.status == AGENT_SUCCEEDED:
                return watched, True
            healthy = self._healthy(cluster)
            if watched.status is not None or not healthy:
                return watched, healthy
            watched = self._watch(cluster, agent_job, log, rewind=True)
        return watched, watched.status is not None

    def _current_attempt(self, index: int, cluster: str) -> Attempt:
        """The attempt under way (adopted), else a new one."""
        attempts = [a for a in self.store.attempts(self.job_id) if a.index == index]
        if attempts and attempts[-1].ended is None:
            return attempts[-1]
        return self.store.start_attempt(self.job_id, index, cluster)

    def _relaunch(self, index: int, policy: recovery.Policy):
        from stix.stages import Relaunch

        placed = [a for a in self.store.attempts(self.job_id) if a.index == index and a.location]
        if not placed:
            return None
        cloud, region, zone = (placed[-1].location or "").split("/", 2)
        return Relaunch(cloud, region, zone, policy.strategy)

    def _task_succeeded(self, index: int, cluster: str, attempt: Attempt) -> str:
        self.store.finish_attempt(self.job_id, index, attempt.attempt, st.SUCCEEDED, status=st.SUCCEEDED)
        self._teardown(cluster, None)
        self.log(f"task {index}: SUCCEEDED")
        return st.SUCCEEDED

    # --- launch ------------------------------------------------------------------------------

    def _launch(self, job: ManagedJob, index: int, task: Task, cluster: str, attempt: Attempt, log: AttemptLog,
                relaunch) -> Optional[str]:
        """Bring the cluster up and submit the run; None when it did, else the task's terminal status."""
        from stix import flows
        from stix.stages import load_spec

        request = flows.LaunchRequest(recovery.for_launch(task), cluster, yes=True, detach_run=True, task_id=task_id(job, index),
                                      retry_until_up=job.retry_until_up, relaunch=relaunch)
        session = Session(self.home, events=self._recording(index, log), output=log.line)
        try:
            with self._bounded():
                result = self._unlocking(cluster, lambda: flows.up(session, request))
        except StixError as exc:
            status = _launch_failure(exc)
            log.line(f"stix: error: {exc}")
            self.store.finish_attempt(self.job_id, index, attempt.attempt, status, status=status, failure=str(exc))
            self._teardown(cluster, log)
            self.log(f"task {index}: {status}: {exc}")
            if status == st.FAILED_CONTROLLER:
                raise
            return status
        spec = load_spec(self.home, cluster)
        if spec is not None:
            self.store.set_attempt(self.job_id, index, attempt.attempt,
                                   location=f"{spec.cloud}/{spec.region}/{spec.zone}")
        if result.job_id is not None:
            self._drop_duplicates(cluster, result.job_id)
        self.store.set_task(self.job_id, index, agent_job=result.job_id)  # None: the task was setup alone, done
        return None

    def _recording(self, index: int, log: AttemptLog) -> EventSink:
        """The launch's progress into the attempt's log; the agent job is recorded the moment it is queued, so a
        controller killed while the job's setup runs is replaced by one that adopts the job, not one that
        launches the task again."""
        def record(event: Event) -> None:
            if isinstance(event, JobSubmitted):
                if event.setup:
                    log.line(f"{SETUP_MARK}{event.job_id} on {event.cluster}")
                self.store.set_task(self.job_id, index, agent_job=event.job_id)
            log.event(event)

        return record

    def _drop_duplicates(self, cluster: str, keep: int) -> None:
        """A controller killed between submitting the run and recording it left a job the relaunch repeated."""
        try:
            with cluster_jobs.head_connection(self.home, cluster) as head:
                others = [row["id"] for row in cluster_jobs.queue(head)
                          if row["id"] != keep and row["status"] not in AGENT_TERMINAL]
                if others:
                    cluster_jobs.cancel(head, others, False)
                    self.log(f"cancelled duplicate agent job(s) {others} on {cluster}")
        except StixError as exc:
            self.log(f"could not check {cluster} for duplicate jobs: {exc}")

    def _unlocking(self, cluster: str, call: Callable[[], T]) -> T:
        """Only this controller changes its jobs' clusters, one thread per cluster: a lock found on one was
        left by a controller that died mid-update (its engine is ended at start), so it is released."""
        from stix import flows

        try:
            return call()
        except StackLocked as exc:
            self.log(f"releasing the stale lock on {cluster}'s stack ({exc})")
            flows.unlock(Session(self.home), cluster, yes=True)
            return call()

    @contextmanager
    def _bounded(self) -> Iterator[None]:
        with self.launches:
            yield

    # --- watch -------------------------------------------------------------------------------

    def _watch(self, cluster: str, agent_job: int, log: AttemptLog, rewind: bool) -> Watched:
        """Stream the job's log into the attempt's file until it ends, the head is lost, or a cancel comes."""
        while True:
            if rewind:
                log.rewind_to_run()
            log.line(f"{RUN_MARK}{agent_job} on {cluster}")
            try:
                with cluster_jobs.head_connection(self.home, cluster) as head:
                    broke = self._stream(head, agent_job, log)
                    if broke is None and self.cancel_requested():
                        return Watched(cancelled=True)
                    row = cluster_jobs.job(head, agent_job)
            except StixError as exc:
                self.log(f"cannot reach {cluster}'s head: {exc}")
                return Watched()
            if row is not None and row["status"] in AGENT_TERMINAL:
                return Watched(status=row["status"], exit_code=cluster_jobs.exit_code_of(row))
            if broke is not None:
                self.log(f"log stream from {cluster} broke ({broke}); the job is {row['status'] if row else 'gone'}")
            if row is None:
                return Watched(status="GONE", exit_code=None)
            rewind = True  # the stream broke, the job runs on: follow it again, whole

    def _stream(self, head, agent_job: int, log: AttemptLog) -> Optional[StixError]:
        """Follow the job on a thread; returns the error that broke the stream, or None when it ended or a
        cancel came (the caller tells which)."""
        errors: list[StixError] = []

        def follow() -> None:
            try:
                cluster_jobs.follow(head, agent_job, log.line, phase="run")  # setup's is logged already
            except StixError as exc:
                errors.append(exc)

        thread = threading.Thread(target=follow, name=f"follow-{self.job_id}", daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(CANCEL_POLL_S)
            if thread.is_alive() and self.cancel_requested():
                return None
        return errors[0] if errors else None

    def _healthy(self, cluster: str) -> bool:
        """A refresh of the cluster's stack finds every node as recorded (none stopped or gone)."""
        from stix.lifecycle import refresh

        try:
            report = refresh(Session(self.home), cluster)
        except StixError as exc:
            self.log(f"refresh of {cluster} failed: {exc}")
            return False
        for resource in report.resources:
            self.log(f"drift on {cluster}: {resource.describe()}")
        return not report.drifted

    # --- cancel and teardown -----------------------------------------------------------------

    def _cancel(self, index: int, cluster: str, agent_job: Optional[int]) -> str:
        self.store.set_job(self.job_id, st.CANCELLING)
        self.store.set_task(self.job_id, index, status=st.CANCELLING)
        self.log(f"task {index}: CANCELLING")
        if agent_job is not None:
            try:
                with cluster_jobs.head_connection(self.home, cluster) as head:
                    cluster_jobs.cancel(head, [agent_job], False)
            except StixError as exc:
                self.log(f"could not cancel agent job {agent_job} on {cluster} (tearing it down anyway): {exc}")
        self._teardown(cluster, None)
        attempts = [a for a in self.store.attempts(self.job_id) if a.index == index and a.ended is None]
        for attempt in attempts:
            self.store.finish_attempt(self.job_id, index, attempt.attempt, st.CANCELLED)
        self.store.set_task(self.job_id, index, status=st.CANCELLED)
        return st.CANCELLED

    def _teardown(self, cluster: str, log: Optional[AttemptLog]) -> None:
        """Destroy the cluster (retried); one that is already gone is fine."""
        from stix import flows

        session = Session(self.home, events=log.event if log else lambda event: None)
        for attempt in range(1, TEARDOWN_TRIES + 1):
            try:
                with self._bounded():
                    self._unlocking(cluster, lambda: flows.destroy(session, cluster, yes=True))
                self.log(f"cluster {cluster} torn down")
                return
            except ClusterNotFound:
                return
            except StixError as exc:
                self.log(f"teardown of {cluster} failed (try {attempt} of {TEARDOWN_TRIES}): {exc}")
                time.sleep(2 * attempt)
        raise RuntimeError(f"cluster {cluster} could not be torn down; `stix destroy {cluster}` removes it")


def _launch_failure(exc: StixError) -> str:
    if isinstance(exc, NoCapacity):
        return st.FAILED_NO_RESOURCE
    if isinstance(exc, SetupFailed):
        return st.FAILED_SETUP
    if isinstance(exc, (TaskError, UsageError, NoFeasiblePlacement)):
        return st.FAILED_PRECHECKS
    return st.FAILED_CONTROLLER

