"""The Python SDK: SkyPilot's names, calling the same code as the CLI.

    import stix
    task = stix.Task(name="hello", run="echo hi", num_nodes=2)
    task.set_resources(stix.Resources(infra="local"))
    stix.launch(task, cluster_name="hello")
    stix.down("hello")

Calling launch() or down() is the consent `-y` gives on the command line.
"""

from __future__ import annotations

import tempfile
from typing import Optional, Union

from stix.models.task import Task

def _session():
    from rich.console import Console

    from stix.home import StixHome
    from stix.flows import Session

    return Session(StixHome.from_env(), Console(highlight=False), confirm=None)


def launch(task: Union[Task, str], cluster_name: Optional[str] = None,
           envs: Optional[dict[str, str]] = None, secrets: Optional[dict[str, str]] = None) -> int:
    """Bring the cluster up (preview, apply) and run the task; returns the job's exit status."""
    from stix import flows
    from stix.loader import EnvOverrides

    overrides = EnvOverrides(envs or {}, secrets or {})
    if isinstance(task, str):
        return flows.up(_session(), task, cluster_name, yes=True, overrides=overrides)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix=f"{task.name or 'task'}-") as handle:
        handle.write(task.to_yaml(redact_secrets=False))
        handle.flush()
        return flows.up(_session(), handle.name, cluster_name or _default_name(task), yes=True, overrides=overrides)


def _default_name(task: Task) -> str:
    from pathlib import Path

    from stix.naming import default_cluster_name

    return default_cluster_name(task.name, Path("task.yaml"))


def status() -> list:
    """The clusters stix knows, from its index (ClusterRecord list)."""
    from stix.home import StixHome
    from stix.index import ClusterIndex

    return ClusterIndex(StixHome.from_env().index_db).all()


def down(cluster_name: str) -> None:
    from stix import flows

    flows.destroy(_session(), cluster_name, yes=True)


def exec(task: Union[Task, str], cluster_name: str, detach: bool = False,  # noqa: A001 - SkyPilot's name
         envs: Optional[dict[str, str]] = None, secrets: Optional[dict[str, str]] = None) -> int:
    """Queue a job (a Task, a task file, or a shell command) on an up cluster; returns its exit status."""
    from stix import flows
    from stix.loader import EnvOverrides

    overrides = EnvOverrides(envs or {}, secrets or {})
    if isinstance(task, Task):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="task-") as handle:
            handle.write(task.to_yaml(redact_secrets=False))
            handle.flush()
            return flows.exec_(_session(), cluster_name, handle.name, detach, overrides)
    return flows.exec_(_session(), cluster_name, task, detach, overrides)


def _head(cluster_name: str):
    from stix import jobs
    from stix.home import StixHome

    return jobs.head_connection(StixHome.from_env(), cluster_name)


def queue(cluster_name: str) -> list[dict]:
    from stix import jobs

    with _head(cluster_name) as head:
        return jobs.queue(head)


def cancel(cluster_name: str, job_ids: Optional[list[int]] = None, all: bool = False) -> list[int]:  # noqa: A002
    from stix import jobs

    with _head(cluster_name) as head:
        return jobs.cancel(head, list(job_ids or []), all)


def tail_logs(cluster_name: str, job_id: Optional[int] = None, follow: bool = True, tail: Optional[int] = None) -> int:
    """Print a job's logs (following it unless follow=False); returns `sky logs`-style status codes."""
    from stix import jobs

    with _head(cluster_name) as head:
        return jobs.follow(head, job_id if job_id is not None else jobs.latest_job(head), jobs.printer(),
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
