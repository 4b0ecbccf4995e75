"""Where the managed-jobs controller runs: a detached local process (the default), or a small cluster that
stix itself launches, `stix-jobs-controller`, so the laptop can close (STIX_JOBS_CONTROLLER=cluster).

The cluster is an ordinary one (it shows in `stix status`, `stix destroy` removes it), launched through the
flows only when it is not UP already. The controller on it is this same code: it runs there only where the
cloud's nodes share this machine's filesystem (the local cloud), with this interpreter and this stix package.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional

from stix.errors import ClusterNotFound, JobError, UsageError
from stix.session import Session

if TYPE_CHECKING:
    from stix.config import EffectiveConfig
    from stix.models.resources import Resources
    from stix.models.task import Task
    from stix.spec import ClusterInfo

CONTROLLER_ENV = "STIX_JOBS_CONTROLLER"
"""`local` (default): a detached process on this machine; `cluster`: on the controller cluster."""
INFRA_ENV = "STIX_JOBS_CONTROLLER_INFRA"
"""Where the controller cluster goes (infra syntax; default `local`)."""
CLUSTER = "stix-jobs-controller"
LOCAL, ON_CLUSTER = "local", "cluster"


def mode() -> str:
    raw = os.environ.get(CONTROLLER_ENV, "").strip()
    if raw.lower() in ("", LOCAL):
        return LOCAL
    if raw.lower() == ON_CLUSTER:
        return ON_CLUSTER
    raise UsageError(f"{CONTROLLER_ENV}={raw!r}: expected {LOCAL} or {ON_CLUSTER}")


def on_cluster() -> bool:
    """Whether `stix jobs ...` talks to the controller cluster instead of this machine's store."""
    return mode() == ON_CLUSTER


def infra() -> Optional[str]:
    """STIX_JOBS_CONTROLLER_INFRA, when set (it wins over the config's jobs.controller.resources)."""
    return os.environ.get(INFRA_ENV, "").strip() or None


def controller_task(where: Optional[str], configured: Optional[Resources] = None) -> Task:
    """The controller cluster's task: one small node, nothing to run (the controller is started per submit).
    configured: the config's jobs.controller.resources, laid over the default size; where (STIX_JOBS_CONTROLLER_INFRA)
    wins over its place; with neither, the local cloud. No autostop unless configured says so: the controller is a
    detached process, not a job, so the node agent would count the cluster idle under running managed jobs (and
    the config's default `autostop:` would stop it there)."""
    from pydantic import ValidationError

    from stix.models.task import Task

    resources: dict[str, Any] = {"cpus": "1+", "autostop": False}
    if configured is not None:
        resources.update(configured.to_config())
    if where is not None or not any(key in resources for key in ("infra", "cloud")):
        for key in ("cloud", "region", "zone"):
            resources.pop(key, None)
        resources["infra"] = where or "local"
    try:
        return Task.model_validate({"name": CLUSTER, "resources": resources})
    except ValidationError as exc:
        problem = exc.errors()[0].get("msg", "not valid") if exc.errors() else "not valid"
        named = f"{INFRA_ENV}={where!r}" if where is not None else "jobs.controller.resources"
        raise UsageError(f"{named}: {problem}") from None


def configured_resources(config: Optional[EffectiveConfig] = None) -> Optional[Resources]:
    """The config's jobs.controller.resources (default: the config files', user then project)."""
    from stix.project import config_for

    jobs = (config if config is not None else config_for(None)).values.jobs
    return jobs.controller.resources if jobs is not None and jobs.controller is not None else None


def check_allowed(cloud: str, config: EffectiveConfig) -> None:
    """Refuse, in one line naming the controller, a controller cluster on a cloud outside allowed_clouds (rather
    than the launch's 'resources: cloud local: the config forbids it', which names no controller)."""
    allowed = config.allowed_clouds
    if allowed is None or cloud in allowed:
        return
    raise UsageError(
        f"the managed-jobs controller cluster {CLUSTER} goes on {cloud}, which the config forbids: allowed_clouds "
        f"is {', '.join(allowed)} ({config.source('allowed_clouds')}); add {cloud} to allowed_clouds, move the "
        f"controller with jobs.controller.resources.infra or {INFRA_ENV}, or run it on this machine with "
        f"{CONTROLLER_ENV}={LOCAL}")


def check_runs_stix(cloud: str) -> None:
    """Refuse, in one line, a cloud whose nodes could not run this stix (never half-work)."""
    from stix.components.base import cloud_for

    if not cloud_for(cloud).nodes_share_host:
        raise UsageError(
            f"{CONTROLLER_ENV}={ON_CLUSTER}: the controller cluster cannot run on {cloud} yet: stix runs it only on "
            f"a cloud whose nodes share this machine (local); installing stix, the engine and cloud credentials on a "
            f"remote machine is not built. Set {INFRA_ENV}=local, or {CONTROLLER_ENV}={LOCAL}")


def cloud_of(task: Task, config: Optional[EffectiveConfig] = None) -> str:
    """The cloud the controller task lands on: the one its infra names, else the planner's choice."""
    infra_ = task.resources.infra
    if infra_ is not None and infra_.cloud:
        return infra_.cloud
    from stix.placement import place

    return place(task, config=config).chosen.cloud


def ensure(session: Session, launch: bool = True) -> ClusterInfo:
    """The controller cluster's saved node list; unless the index says it is UP and its node list is saved (the
    fast path: no engine call), the cluster is launched first (launch), or the reason is the error."""
    from stix.cluster_jobs import load_info

    try:
        info = load_info(session.home, CLUSTER)
    except (ClusterNotFound, JobError) as exc:
        if not launch:
            raise JobError(f"{exc.message}; managed jobs run on the controller cluster, which `stix jobs launch` "
                           "starts") from None
        info = None
    if info is not None:
        check_runs_stix(info.cloud)
        return info
    from stix.project import config_for

    config = config_for(None)
    task = controller_task(infra(), configured_resources(config))
    cloud = cloud_of(task, config)
    check_allowed(cloud, config)
    check_runs_stix(cloud)
    from stix.flows import LaunchRequest, up

    session.note(f"Launching the managed-jobs controller cluster {CLUSTER} ({cloud})", "heading")
    up(session, LaunchRequest(task, CLUSTER, yes=True))
    return load_info(session.home, CLUSTER)
