"""The Python SDK: SkyPilot 0.14's names and return values, calling the same code as the CLI.

    import stix as sky
    task = sky.Task(name="hello", run="echo hi", num_nodes=2)
    task.set_resources(sky.Resources(infra="local"))
    job_id, handle = sky.stream_and_get(sky.launch(task, cluster_name="hello"))
    sky.get(sky.down("hello"))

Each call runs before it returns (there is no API server); what it returns is a request id that sky.get() and
sky.stream_and_get() unwrap into SkyPilot's result. Calling launch() or down() is the consent `-y` gives on
the command line. The SDK prints the nodes' output (setup, job logs) and warnings; set_verbose(True), or
STIX_SDK_VERBOSE=1, also prints the CLI's progress, placements and preview tables.
"""

from __future__ import annotations

from pathlib import Path
import os
import sys
from typing import Any, Optional, Sequence, Union

from stix.models import task as models
from stix.models.storage import Storage
from stix.sdk_records import ClusterStatus, JobStatus, RequestId, result_of

__all__ = ["ClusterStatus", "JobStatus", "RequestId", "Task"]


class Task(models.Task):
    """The task model with SkyPilot's constructors (the loader lives above the models, so they live here)."""

    @classmethod
    def from_yaml(cls, path: str, envs: Optional[dict[str, str]] = None,
                  secrets: Optional[dict[str, str]] = None) -> "Task":
        from stix.loader import EnvOverrides, load_task

        return load_task(path, EnvOverrides(envs or {}, secrets or {}), model=cls)  # type: ignore[return-value]

    @classmethod
    def from_yaml_str(cls, text: str, label: str = "<string>") -> "Task":
        from stix.errors import TaskError
        from stix.loader import load_pipeline_text

        pipeline = load_pipeline_text(text, label, model=cls)
        if pipeline.is_pipeline:
            raise TaskError(f"{label}:1:1: holds a pipeline of {len(pipeline.tasks)} tasks, not one task")
        return pipeline.tasks[0]  # type: ignore[return-value]

    @property
    def storage_mounts(self) -> dict[str, Storage]:
        """SkyPilot's view: the storage objects among file_mounts, by destination (they live in file_mounts,
        as in a task file)."""
        return {dest: value for dest, value in (self.file_mounts or {}).items() if isinstance(value, Storage)}

    def set_storage_mounts(self, storage_mounts: Optional[dict[str, Storage]]) -> "Task":
        """Replace the task's storage mounts (file_mounts of paths and bucket URIs stay)."""
        kept = {dest: value for dest, value in (self.file_mounts or {}).items() if not isinstance(value, Storage)}
        return self._with_file_mounts(kept, storage_mounts or {})

    def update_storage_mounts(self, storage_mounts: dict[str, Storage]) -> "Task":
        return self._with_file_mounts(dict(self.file_mounts or {}), storage_mounts)

    def _with_file_mounts(self, kept: dict, storage_mounts: dict[str, Storage]) -> "Task":
        for dest, storage in storage_mounts.items():
            if not isinstance(storage, Storage):
                raise TypeError(f"storage_mounts[{dest!r}] must be a stix.Storage, got {type(storage).__name__}")
        self.file_mounts = {**kept, **storage_mounts} or None
        return self


def set_verbose(on: bool = True) -> None:
    """Print the CLI's progress, placements and preview tables too (default: node output and warnings only)."""
    global _verbose
    _verbose = on


_verbose: Optional[bool] = None


def _is_verbose() -> bool:
    if _verbose is not None:
        return _verbose
    return os.environ.get("STIX_SDK_VERBOSE", "").lower() in ("1", "true", "yes")


def _quiet(event) -> None:
    from stix.events import Note

    if isinstance(event, Note) and event.level == "warning":
        print(event.text, file=sys.stderr, flush=True)


def _events():
    if not _is_verbose():
        return _quiet
    from rich.console import Console

    from stix.render import console_events

    return console_events(Console(highlight=False))


def _session():
    from stix.flows import Session
    from stix.home import StixHome

    return Session(StixHome.from_env(), _events(), confirm=None)


def _home():
    from stix.home import StixHome

    return StixHome.from_env()


def get(request_id: Any) -> Any:
    """The result of a call (SkyPilot's sky.get); a value that is not a request id is handed back as it is."""
    return result_of(request_id)


def stream_and_get(request_id: Any = None, log_path: Optional[str] = None, tail: Optional[int] = None,
                   follow: bool = True, output_stream: Any = None) -> Any:
    """As sky.get: the call already streamed its output while it ran."""
    return result_of(request_id)


def _task(task: Union[models.Task, str], envs: Optional[dict[str, str]],
          secrets: Optional[dict[str, str]]) -> tuple[models.Task, Optional[Path]]:
    """A Task goes to the flows as it is (with envs and secrets applied); a path is loaded first."""
    from stix.loader import EnvOverrides, load_task

    if isinstance(task, models.Task):
        task = task.model_copy(deep=True)
        if envs:
            task.update_envs(envs)
        if secrets:
            task.secrets = {**task.secrets, **secrets}
        return task, None
    return load_task(task, EnvOverrides(envs or {}, secrets or {}), require_env=True), Path(task)


def _follow(head, job_id: int) -> int:
    """Stream a job's output over an open connection to the head."""
    from stix import cluster_jobs
    from stix.session import print_line

    return cluster_jobs.follow(head, job_id, print_line)


def _handle(cluster: str):
    from stix.sdk_records import handle_of

    return handle_of(_home(), cluster)


def launch(task: Union[models.Task, str], cluster_name: Optional[str] = None, *,
           retry_until_up: bool = False, idle_minutes_to_autostop: Optional[float] = None, down: bool = False,
           dryrun: bool = False, detach_run: bool = False, no_setup: bool = False, fast: bool = False,
           envs: Optional[dict[str, str]] = None, secrets: Optional[dict[str, str]] = None) -> RequestId:
    """Bring the cluster up (preview, apply), run setup, submit the task's run as a job and stream its output
    (unless detach_run). sky.get gives (job_id, handle); job_id is None when the task has no run. A failed job
    does not raise (tail_logs' and job_status' answers say how it ended); a failed launch or setup does.
    dryrun: plan and preview only, changing nothing; sky.get gives (None, None). down without
    idle_minutes_to_autostop tears the cluster down once it is idle (0 minutes), as SkyPilot's does."""
    from stix import flows

    loaded, path = _task(task, envs, secrets)
    if down and idle_minutes_to_autostop is None:
        idle_minutes_to_autostop = 0
    request = flows.LaunchRequest(loaded, cluster_name, path, yes=True, idle_minutes=idle_minutes_to_autostop,
                                  down=down, detach_run=True, retry_until_up=retry_until_up, no_setup=no_setup,
                                  fast=fast)
    session = _session()
    if dryrun:
        flows.preview(session, request)
        return RequestId((None, None))
    result = flows.up(session, request)
    if result.job_id is not None and not detach_run:
        with _head(result.cluster) as head:
            _follow(head, result.job_id)
    return RequestId((result.job_id, _handle(result.cluster)))


def exec(task: Union[models.Task, str, Sequence[Union[models.Task, str]]],  # noqa: A001 - SkyPilot's name
         cluster_name: Optional[str] = None, *, dryrun: bool = False, down: bool = False, detach_run: bool = False,
         detach: Optional[bool] = None, envs: Optional[dict[str, str]] = None,
         secrets: Optional[dict[str, str]] = None) -> RequestId:
    """Queue a job (a Task, a task file, or a shell command) on an up cluster, without touching its
    infrastructure, and stream its output unless detach_run; sky.get gives (job_id, handle). A list of them is
    queued in one round trip (all or none, in order; envs and secrets apply to each) and their output streamed
    one job after another; sky.get gives ([job_id, ...], handle). down: tear the cluster down once it is idle
    after the job(s). dryrun: check the cluster, submit nothing ((None, handle))."""
    from stix import cluster_jobs, flows
    from stix.errors import UsageError

    if not cluster_name:
        raise UsageError("exec() needs cluster_name: the up cluster to run on")
    many = isinstance(task, (list, tuple))
    given: list[Union[models.Task, str]] = list(task) if isinstance(task, (list, tuple)) else [task]  # type: ignore[list-item]
    loaded = [_exec_task(each, envs, secrets) for each in given]
    if dryrun:
        cluster_jobs.load_info(_home(), cluster_name)
        return RequestId((None, _handle(cluster_name)))
    session = _session()
    if many:
        ids: list[int] = [r.job_id for r in flows.exec_many(session, flows.ExecBatch(cluster_name, tuple(loaded), True))
                          if r.job_id is not None]
    else:
        job_id = flows.exec_(session, flows.ExecRequest(cluster_name, loaded[0], detach=True)).job_id
        ids = [job_id] if job_id is not None else []
    followed = [] if detach_run or detach else ids
    if down or followed:
        with _head(cluster_name) as head:  # one connection for all
            if down:
                flows.set_autostop(session, cluster_name, 0, down=True, head=head)
            for job_id in followed:
                _follow(head, job_id)
    return RequestId((ids if many else (ids[0] if ids else None), _handle(cluster_name)))


def _exec_task(task: Union[models.Task, str], envs: Optional[dict[str, str]],
               secrets: Optional[dict[str, str]]) -> models.Task:
    """exec()'s task: a Task, a task file, or else a shell command."""
    from stix.loader import is_task_file

    if isinstance(task, str) and not is_task_file(task):
        task = Task(run=task)
    return _task(task, envs, secrets)[0]


def status(cluster_names: Union[None, str, Sequence[str]] = None, refresh: Any = False,
           all_users: bool = False) -> RequestId:
    """sky.get gives one record per cluster stix knows (SkyPilot's keys: name, status (ClusterStatus),
    launched_at, last_use, autostop (-1: off), to_down, handle, resources_str, head_ip, ...). Names that are
    not clusters are left out. refresh (True, or StatusRefreshMode AUTO/FORCE) reconciles with real state first."""
    from stix.index import ClusterIndex
    from stix.sdk_records import status_record

    home = _home()
    index = ClusterIndex(home.index_db)
    wanted = [cluster_names] if isinstance(cluster_names, str) else cluster_names
    records = [r for r in index.all() if wanted is None or r.name in wanted]
    if refresh and getattr(refresh, "value", refresh) not in ("NONE", "none"):
        from stix import flows

        session = _session()
        for record in records:
            flows.refresh(session, record.name)
        records = [r for r in index.all() if wanted is None or r.name in wanted]
    return RequestId([status_record(home, r) for r in records])


def down(cluster_name: str, purge: bool = False) -> RequestId:
    from stix import flows

    flows.destroy(_session(), cluster_name, yes=True)
    return RequestId(None)


def _head(cluster_name: str):
    from stix import cluster_jobs

    return cluster_jobs.head_connection(_home(), cluster_name)


def queue(cluster_name: str, skip_finished: bool = False, all_users: bool = False) -> RequestId:
    """sky.get gives the cluster's jobs, oldest first, with SkyPilot's keys (job_id, job_name, username, status
    (JobStatus), submitted_at, start_at, end_at, resources)."""
    from stix import cluster_jobs
    from stix.sdk_records import job_record

    with _head(cluster_name) as head:
        rows = [job_record(row) for row in cluster_jobs.queue(head)]
    if skip_finished:
        rows = [row for row in rows if not (isinstance(row["status"], JobStatus) and row["status"].is_terminal())]
    return RequestId(rows)


def job_status(cluster_name: str, job_ids: Optional[list[int]] = None) -> RequestId:
    """sky.get gives {job_id: JobStatus or None (no such job)}; no ids: the latest job."""
    from stix import cluster_jobs
    from stix.sdk_records import job_status as status_of

    with _head(cluster_name) as head:
        rows = {row["id"]: row for row in cluster_jobs.queue(head)}
    ids = list(job_ids) if job_ids else ([max(rows)] if rows else [])
    return RequestId({job_id: status_of(rows[job_id]["status"]) if job_id in rows else None for job_id in ids})


def cancel(cluster_name: str, all: bool = False, all_users: bool = False,  # noqa: A002 - SkyPilot's name
           job_ids: Optional[list[int]] = None) -> RequestId:
    """sky.get gives the ids asked to cancel."""
    from stix import cluster_jobs
    from stix.errors import UsageError

    for name, flag in (("all", all), ("all_users", all_users)):
        if not isinstance(flag, bool):  # cancel('dev', [3]) from before SkyPilot 0.14 put the ids here
            raise UsageError(f"cancel(): {name} must be True or False, got {flag!r}; name the jobs with "
                             f"job_ids=, e.g. cancel({cluster_name!r}, job_ids=[3])")
    with _head(cluster_name) as head:
        return RequestId(cluster_jobs.cancel(head, list(job_ids or []), all))


def tail_logs(cluster_name: str, job_id: Optional[int] = None, follow: bool = True, tail: int = 0,
              output_stream: Any = None) -> int:
    """Print a job's logs (the latest job by default; following it unless follow=False; tail=0: every line);
    returns `sky logs`-style status codes (0 succeeded, 100 failed, 101 not finished, 102 not found, 103
    cancelled). As in SkyPilot, this returns the code itself, not a request id."""
    from stix import cluster_jobs
    from stix.session import print_line

    write = print_line if output_stream is None else (lambda line: output_stream.write(line + "\n"))
    with _head(cluster_name) as head:
        job = job_id if job_id is not None else cluster_jobs.latest_job(head)
        return cluster_jobs.follow(head, job, write, tail=tail or None, follow_=follow)


def stop(cluster_name: str, purge: bool = False) -> RequestId:
    from stix import flows

    flows.stop(_session(), cluster_name, yes=True)
    return RequestId(None)


def start(cluster_name: str, idle_minutes_to_autostop: Optional[float] = None, retry_until_up: bool = False,
          down: bool = False, force: bool = False) -> RequestId:
    from stix import flows

    session = _session()
    flows.start(session, cluster_name, yes=True)
    if idle_minutes_to_autostop is not None:
        flows.set_autostop(session, cluster_name, idle_minutes_to_autostop, down)
    return RequestId(None)


def autostop(cluster_name: str, idle_minutes: Optional[float], wait_for: Optional[str] = None,
             down: bool = False) -> RequestId:
    """Set the idle timer; None or a negative number (SkyPilot's -1) turns it off. wait_for: jobs_and_ssh (the
    default), jobs or none."""
    from stix import flows
    from stix.errors import UsageError
    from stix.models.values import WAIT_FOR

    if wait_for not in (None, *WAIT_FOR):
        raise UsageError(f"autostop(): wait_for {wait_for!r}: expected one of {', '.join(WAIT_FOR)} or None; "
                         f"to tear down, pass down=True, e.g. autostop({cluster_name!r}, {idle_minutes!r}, down=True)")
    minutes = None if idle_minutes is None or idle_minutes < 0 else idle_minutes
    flows.set_autostop(_session(), cluster_name, minutes, down, wait_for or WAIT_FOR[0])  # SkyPilot's default
    return RequestId(None)


def optimize(task: Union[models.Task, str], minimize: Any = "COST") -> RequestId:
    """sky.get gives the placement the optimizer chooses (stix.optimizer.Placement: .chosen, and every
    feasible .candidates, best first), over the enabled clouds."""
    from stix.placement import place

    loaded, _ = _task(task, None, None)
    target = str(getattr(minimize, "name", minimize)).upper()
    return RequestId(place(loaded, "TIME" if target == "TIME" else "COST"))


def cost_report(days: Optional[int] = None, all: bool = False) -> RequestId:
    """sky.get gives the records `stix cost-report [--all] --days` shows: one per cluster (one per life of a cluster
    with all=True), alive or torn down within `days` (default 30): name, launched_at, duration (seconds up),
    stopped_duration, num_nodes, resources, status (None once torn down), total_cost, managed_job."""
    from stix.cluster_costs import cost_report as build, managed_jobs
    from stix.index import ClusterIndex
    from stix.sdk_records import cost_record

    home = _home()
    report = build(ClusterIndex(home.index_db), managed_jobs(home), days, all_=all)
    return RequestId([cost_record(row) for row in report.clusters])


def endpoints(cluster: str, port: Optional[int] = None) -> RequestId:
    """sky.get gives {port: 'host:port'} for the cluster's opened ports (resources.ports), or for `port`."""
    from stix.cluster_endpoints import endpoints as find

    return RequestId(find(_home(), cluster, port))
