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

LIFECYCLE_ISSUE = "the cluster lifecycle (node agent, job queue) lands with issue #6"


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


def _not_yet(name: str):
    def call(*args, **kwargs):
        raise NotImplementedError(f"stix.{name}: not supported yet; {LIFECYCLE_ISSUE}")

    call.__name__ = name
    return call


exec = _not_yet("exec")  # noqa: A001 - SkyPilot's name
stop = _not_yet("stop")
start = _not_yet("start")
autostop = _not_yet("autostop")
queue = _not_yet("queue")
cancel = _not_yet("cancel")
tail_logs = _not_yet("tail_logs")
