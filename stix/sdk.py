"""The Python SDK: SkyPilot's names, calling the same code as the CLI.

    import stix
    task = stix.Task(name="hello", run="echo hi", num_nodes=2)
    task.set_resources(stix.Resources(infra="local"))
    stix.launch(task, cluster_name="hello")
    stix.down("hello")

Calling launch() or down() is the consent `-y` gives on the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from stix.models import task as models
from stix.models.storage import Storage


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


def _session():
    from rich.console import Console

    from stix.flows import Session
    from stix.home import StixHome
    from stix.render import console_events

    return Session(StixHome.from_env(), console_events(Console(highlight=False)), confirm=None)


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


def launch(task: Union[models.Task, str], cluster_name: Optional[str] = None,
           envs: Optional[dict[str, str]] = None, secrets: Optional[dict[str, str]] = None) -> int:
    """Bring the cluster up (preview, apply) and run the task; returns the job's exit status."""
    from stix import flows

    loaded, path = _task(task, envs, secrets)
    return flows.up(_session(), flows.LaunchRequest(loaded, cluster_name, path, yes=True)).exit_code


def status() -> list:
    """The clusters stix knows, from its index (ClusterRecord list)."""
    from stix.home import StixHome
    from stix.index import ClusterIndex

    return ClusterIndex(StixHome.from_env().index_db).all()


def down(cluster_name: str) -> None:
    from stix import flows

    flows.destroy(_session(), cluster_name, yes=True)


def exec(task: Union[models.Task, str], cluster_name: str, detach: bool = False,  # noqa: A001 - SkyPilot's name
         envs: Optional[dict[str, str]] = None, secrets: Optional[dict[str, str]] = None) -> int:
    """Queue a job (a Task, a task file, or a shell command) on an up cluster; returns its exit status."""
    from stix import flows
    from stix.loader import is_task_file

    if isinstance(task, str) and not is_task_file(task):
        task = Task(run=task)
    loaded, _ = _task(task, envs, secrets)
    return flows.exec_(_session(), flows.ExecRequest(cluster_name, loaded, detach)).exit_code


def _head(cluster_name: str):
    from stix import cluster_jobs
    from stix.home import StixHome

    return cluster_jobs.head_connection(StixHome.from_env(), cluster_name)


def queue(cluster_name: str) -> list[dict]:
    from stix import cluster_jobs

    with _head(cluster_name) as head:
        return cluster_jobs.queue(head)


def cancel(cluster_name: str, job_ids: Optional[list[int]] = None, all: bool = False) -> list[int]:  # noqa: A002
    from stix import cluster_jobs

    with _head(cluster_name) as head:
        return cluster_jobs.cancel(head, list(job_ids or []), all)


def tail_logs(cluster_name: str, job_id: Optional[int] = None, follow: bool = True, tail: Optional[int] = None) -> int:
    """Print a job's logs (following it unless follow=False); returns `sky logs`-style status codes."""
    from stix import cluster_jobs
    from stix.session import print_line

    with _head(cluster_name) as head:
        return cluster_jobs.follow(head, job_id if job_id is not None else cluster_jobs.latest_job(head), print_line,
                           tail=tail, follow_=follow)


def stop(cluster_name: str) -> None:
    from stix import flows

    flows.stop(_session(), cluster_name, yes=True)


def start(cluster_name: str) -> None:
    from stix import flows

    flows.start(_session(), cluster_name, yes=True)


def autostop(cluster_name: str, idle_minutes: Optional[float], down: bool = False) -> None:
    """Set the idle timer (None turns it off)."""
    from stix import flows

    flows.set_autostop(_session(), cluster_name, idle_minutes, down)

