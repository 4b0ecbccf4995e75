"""Managed jobs from Python, with SkyPilot's names (sky.jobs.*), calling the same code as `stix jobs`.

    import stix as sky
    job_id, _ = sky.get(sky.jobs.launch("train.yaml", name="train"))
    sky.get(sky.jobs.queue())
    sky.jobs.tail_logs(job_id=job_id)

launch() returns a request id that sky.get() unwraps into (job_id, None), as SkyPilot 0.14's does (stix's local
controller has no handle to give); the others return their result itself, which sky.get() hands back as it is.

Calling launch() or cancel() is the consent `-y` gives on the command line.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

from stix.models.task import Task

TaskLike = Union[Task, str, Sequence[Task]]


def _session():
    from stix.sdk import _session as sdk_session

    return sdk_session()


def _request(task: TaskLike, name: Optional[str], retry_until_up: bool, envs: Optional[dict[str, str]],
             secrets: Optional[dict[str, str]]):
    from stix.loader import EnvOverrides
    from stix.managed.client import ManagedLaunch, load_launch

    if isinstance(task, str):
        return load_launch(task, EnvOverrides(envs or {}, secrets or {}), name, yes=True, retry_until_up=retry_until_up)
    tasks = [task] if isinstance(task, Task) else list(task)
    if not tasks or not all(isinstance(t, Task) for t in tasks):
        from stix.errors import UsageError

        raise UsageError("launch() takes a Task, a list of Tasks (a pipeline) or a task file's path")
    from stix.sdk import _task

    copies = [_task(original, envs, secrets)[0] for original in tasks]
    default = copies[0].name if len(copies) == 1 else None
    return ManagedLaunch(tuple(copies), name or default or "managed-job", "<sdk>", yes=True,
                         retry_until_up=retry_until_up)


def launch(task: TaskLike, name: Optional[str] = None, detach: bool = True, retry_until_up: bool = False,
           envs: Optional[dict[str, str]] = None, secrets: Optional[dict[str, str]] = None):
    """Submit a managed job (a Task, a list of Tasks run in order, or a task file); sky.get gives (job_id, None).
    With detach=False, print its logs until it ends first."""
    from stix.sdk_records import RequestId

    return RequestId((_launch(task, name, detach, retry_until_up, envs, secrets), None))


def _launch(task: TaskLike, name: Optional[str], detach: bool, retry_until_up: bool,
            envs: Optional[dict[str, str]], secrets: Optional[dict[str, str]]) -> int:
    from stix.managed import client, controller_cluster, remote

    session = _session()
    request = _request(task, name, retry_until_up, envs, secrets)
    if controller_cluster.on_cluster():  # STIX_JOBS_CONTROLLER=cluster: the controller cluster, over SSH
        job_id = remote.launch(session, request)
        if not detach:
            remote.logs(session, job_id, None, session.output)
        return job_id
    job_id = client.launch(session, request)
    if not detach:
        client.tail_logs(_store(), job_id, session.output)
    return job_id


def queue(refresh: bool = False, skip_finished: bool = False, all_users: bool = False,
          job_ids: Optional[Sequence[int]] = None, *, all: bool = False) -> list[dict]:  # noqa: A002
    """One dict per task (the keys `stix jobs queue --format json` prints): unfinished jobs and those that ended
    in the last 24 hours; all=True: every job; skip_finished: unfinished ones only; job_ids: only those.
    refresh and all_users are SkyPilot's (the record is always current, and there is one user)."""
    from stix.managed import controller_cluster, remote
    from stix.managed.client import queue_rows

    if controller_cluster.on_cluster():
        rows = remote.queue_rows(_session(), all_jobs=all, skip_finished=skip_finished)
    else:
        rows = queue_rows(_store(), all_jobs=all, skip_finished=skip_finished)
    return rows if job_ids is None else [row for row in rows if row["job_id"] in set(job_ids)]


def cancel(name: Optional[str] = None, job_ids: Optional[Sequence[int]] = None, all: bool = False,  # noqa: A002
           wait: bool = True) -> list[int]:
    """Cancel managed jobs (by name, ids, or all unfinished); returns the ids asked to cancel."""
    from stix.managed import client, controller_cluster, remote

    cancel_ = remote.cancel if controller_cluster.on_cluster() else client.cancel
    result = cancel_(_session(), list(job_ids or []), name, all, yes=True,
                           wait_s=client.CANCEL_WAIT_S if wait else None)
    return result.requested


def tail_logs(name: Optional[str] = None, job_id: Optional[int] = None, follow: bool = True,
              controller: bool = False) -> int:
    """Print a job's logs (every attempt, in order; the newest job, or the newest of that name, by default);
    returns 0 succeeded, 100 failed, 101 not finished, 102 not found, 103 cancelled."""
    from stix.managed import client, controller_cluster, remote
    from stix.session import print_line

    if controller_cluster.on_cluster():
        found = remote.logs(_session(), job_id, name, print_line, follow, controller)
    else:
        found = client.read_logs(_store(), job_id, name, print_line, follow, controller)
    return client.NOT_FOUND_EXIT if found is None else found


def _store():
    from stix.home import StixHome
    from stix.managed.store import JobStore

    return JobStore(StixHome.from_env())
