"""A replica's cluster: launched from the service version's task through the same flows as `stix up`, torn
down with `stix destroy`'s, and checked for being gone (its head's sshd refuses connections).

The replica's task is the version's task without its `service:` section, with the replica port opened in
resources.ports, and SkyServe's replica id in its envs (SKYPILOT_SERVE_REPLICA_ID).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, TypeVar

from stix.errors import ClusterNotFound, StackLocked, StixError
from stix.home import StixHome
from stix.managed.attempt import AttemptLog
from stix.models.task import Task
from stix.models.values import Ports
from stix.session import Session

T = TypeVar("T")
TEARDOWN_TRIES = 3
REPLICA_ID_ENV = "SKYPILOT_SERVE_REPLICA_ID"


class ReplicaLog(AttemptLog):
    """A replica's log file (launch output, then what the controller says about it), appended from any thread."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)


@dataclass(frozen=True)
class Launched:
    ip: str
    """The head node's address (the probe and the balancer reach the replica there)."""
    agent_job: Optional[int]


def replica_task(task: Task, port: int, replica_id: int, use_spot: Optional[bool] = None, service: str = "") -> Task:
    """The task a replica's cluster runs; labelled with its service (a cloud's balancer selects them by it)."""
    from stix.serve.cloud_balancer import replica_labels

    resources = task.resources
    ranges = tuple(resources.ports.ranges) if resources.ports is not None else ()
    if not any(low <= port <= high for low, high in ranges):
        ranges += ((port, port),)
    update: dict = {"ports": Ports(ranges=ranges)}
    if service:
        update["labels"] = {**(resources.labels or {}), **replica_labels(service)}
    if use_spot is not None and bool(resources.use_spot) != use_spot:
        update["use_spot"] = use_spot
    envs = {**(task.envs or {}), REPLICA_ID_ENV: str(replica_id)}
    return task.model_copy(update={"service": None, "resources": resources.model_copy(update=update), "envs": envs})


def launch(home: StixHome, cluster: str, task: Task, log: ReplicaLog) -> Launched:
    """Bring the replica's cluster up and submit its run, detached; StixError when it cannot."""
    from stix import cluster_jobs, flows

    request = flows.LaunchRequest(task, cluster, yes=True, detach_run=True)
    session = Session(home, events=log.event, output=log.line)
    result = unlocking(home, cluster, lambda: flows.up(session, request))
    info = cluster_jobs.read_info(home, cluster)
    return Launched(ip=info.head.ip, agent_job=result.job_id)


def exists(home: StixHome, cluster: str) -> bool:
    from stix import index as idx
    from stix.lifecycle import has_leftovers

    return idx.ClusterIndex(home.index_db).get(cluster) is not None or has_leftovers(home, cluster)


def teardown(home: StixHome, cluster: str, log: Optional[ReplicaLog]) -> None:
    """Destroy the replica's cluster (retried); one that is already gone is fine."""
    from stix import flows

    session = Session(home, events=log.event if log else lambda event: None, output=log.line if log else lambda line: None)
    for attempt in range(1, TEARDOWN_TRIES + 1):
        try:
            unlocking(home, cluster, lambda: flows.destroy(session, cluster, yes=True))
            return
        except ClusterNotFound:
            return
        except StixError as exc:
            if log is not None:
                log.line(f"stix: teardown of {cluster} failed (try {attempt} of {TEARDOWN_TRIES}): {exc}")
            if attempt == TEARDOWN_TRIES:
                raise
            time.sleep(2 * attempt)


def head_reachable(home: StixHome, cluster: str, timeout_s: float = 3.0) -> bool:
    """The head node's sshd accepts a connection: False when the cluster's head is gone (killed, preempted)."""
    from stix import cluster_jobs

    try:
        head = cluster_jobs.read_info(home, cluster).head
    except StixError:
        return False
    try:
        with socket.create_connection((head.ip, head.port), timeout=timeout_s):
            return True
    except OSError:
        return False


def unlocking(home: StixHome, cluster: str, call: Callable[[], T]) -> T:
    """Only the serve controller changes a replica's cluster, one thread per replica: a lock found on its stack
    was left by a controller that died mid-update (its engine is ended at start), so it is released."""
    from stix import flows

    try:
        return call()
    except StackLocked:
        flows.unlock(Session(home), cluster, yes=True)
        return call()
