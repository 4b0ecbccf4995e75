"""What `stix serve up / update / down / status / logs` and stix.serve do: one implementation for the CLI and
the SDK.

`up` runs every check, plans the replicas' placement once, previews and applies the service's stack (its load
balancer), records the service and hands it to the serve controller (stix.serve.controller), which launches,
probes, replaces, scales and updates the replicas from then on. `down` only marks services and waits while the
controller tears them down. `status` and `logs` read the store (and, for a live replica's logs, its cluster's
node agent).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence, Union

from stix.errors import StixError, UsageError
from stix.home import StixHome
from stix.serve.records import ServiceStatus, service_status
from stix.serve.spec import Positions, ServiceSpec, at, ignored_fields, service_spec
from stix.serve.store import ROLLING, UPDATE_MODES, ServiceRecord, ServiceStore
from stix.session import LineSink, Session, confirm

if TYPE_CHECKING:
    from stix.engine.changes import ChangeSet
    from stix.loader import EnvOverrides
    from stix.models.task import Task
    from stix.optimizer import Placement

TaskLike = Union[str, Path, "Task"]
MAX_NAME = 30
"""A service's replicas are clusters `<service>-<id>`, and a cluster name has at most 40 characters."""
DOWN_WAIT_S = 600.0
POLL_S = 0.5
LOAD_BALANCER = "load_balancer"
CONTROLLER = "controller"
NOT_FOUND_EXIT = 102
"""`serve logs` of a service or replica that does not exist (the node agent's code for a missing job)."""


# --- load and check --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServeRequest:
    """A task file (or Task) read once, with the service it asks for."""

    task: Task
    spec: ServiceSpec
    label: str
    """Where it came from (the file, or <sdk>): errors start with it."""
    warnings: tuple[str, ...] = ()
    """One line per service field that validates but stix does not act on (file:line:col first)."""


def load_request(task: TaskLike, overrides: Optional[EnvOverrides] = None) -> ServeRequest:
    """The task (a path is loaded, a Task copied) and its service with every default filled in."""
    from stix.models.task import Task

    positions: Positions = {}
    if isinstance(task, Task):
        loaded, label = task.model_copy(deep=True), "<sdk>"
    else:
        from stix.loader import load_located_task

        located, label = load_located_task(task, overrides, require_env=True), str(task)
        loaded, positions = located.task, located.positions
    spec = service_spec(loaded, where=label, positions=positions)
    if spec.tls:
        keyfile, certfile = (_existing(path, at(label, positions, "tls", field), field) for path, field in
                             ((spec.tls_keyfile, "keyfile"), (spec.tls_certfile, "certfile")))
        spec = replace(spec, tls_keyfile=keyfile, tls_certfile=certfile)
    return ServeRequest(_anchored(loaded, label), spec, label, tuple(ignored_fields(loaded, label, positions)))


def _existing(path: str, prefix: str, field: str) -> str:
    local = Path(path).expanduser().absolute()
    if not local.is_file():
        raise UsageError(f"{prefix}service.tls.{field} {path!r} is not a file")
    return str(local)


def _anchored(task: Task, label: str) -> Task:
    """The task with its local workdir and file_mounts sources as absolute paths: the controller launches the
    replicas from its own directory, later, so a path relative to where `serve up` ran must not stay relative."""
    from stix.models.storage import is_local_source

    update: dict = {}
    if isinstance(task.workdir, str) and task.workdir:
        local = Path(task.workdir).expanduser().absolute()
        if not local.is_dir():
            raise UsageError(f"{label}: workdir {task.workdir!r} is not a directory")
        update["workdir"] = str(local)
    if task.file_mounts:
        mounts = {}
        for destination, source in task.file_mounts.items():
            if is_local_source(source):
                local = Path(str(source)).expanduser().absolute()
                if not local.exists():
                    raise UsageError(f"{label}: file_mounts[{destination!r}]: local source {source!r} does not exist")
                source = str(local)
            mounts[destination] = source
        update["file_mounts"] = mounts
    return task.model_copy(update=update) if update else task


def service_name(name: Optional[str], task: Task) -> str:
    """-n NAME as given (checked), else the task's name made a valid one, else a generated one."""
    from stix.naming import NAME, default_cluster_name, generated_cluster_name

    if name is not None:
        if not NAME.fullmatch(name) or len(name) > MAX_NAME:
            raise UsageError(f"invalid service name {name!r}: use 1-{MAX_NAME} lowercase letters, digits and '-', "
                             f"starting with a letter")
        return name
    if task.name:
        return default_cluster_name(task.name, Path("service.yaml"))[:MAX_NAME].rstrip("-")
    return generated_cluster_name()[:MAX_NAME].rstrip("-")


def plan_replicas(home: StixHome, request: ServeRequest) -> Placement:
    """Where the replicas go (one placement for all: the balancer sits beside them); what would fail every
    replica's launch is refused here, before anything is made."""
    from stix.managed.client import check_placed, located
    from stix.serve.replica_ops import replica_task

    task = replica_task(request.task, request.spec.replica_port, 1)  # what each replica runs, as the controller does
    try:
        return check_placed(home, task, "a replica runs the task's `run` as its server")
    except StixError as exc:
        raise located(exc, request.label) from None


def _health_path(spec: ServiceSpec) -> str:
    """The readiness probe's path when the balancer's own check can ask it (a bare GET); else "" (a TCP check):
    a probe that POSTs or sends headers (an API key) would get an error from a bare GET, and every replica would
    be marked down."""
    probe = spec.probe
    return probe.path if probe.post_data is None and not probe.headers else ""


def balancer_spec(name: str, spec: ServiceSpec, placement: Placement):
    from stix.serve.balancer import BalancerSpec

    chosen = placement.chosen
    return BalancerSpec(service=name, cloud=chosen.cloud, region=chosen.region, replica_port=spec.replica_port,
                        policy=spec.load_balancing_policy, tls_certfile=spec.tls_certfile, tls_keyfile=spec.tls_keyfile,
                        stream_timeout_s=spec.stream_timeout_s or 0.0, labels=(("stix-service", name),),
                        health_path=_health_path(spec), health_timeout_s=spec.probe.timeout_s)


def replicas_line(spec: ServiceSpec, placement: Placement) -> str:
    """'2 replicas of the local cloud (...) in local/local-a, 1 node, at $0.00/hr each' (autoscaling: 1-4)."""
    from stix.render import placement_line

    policy = spec.policy
    count = f"{policy.min_replicas}-{policy.max_replicas}" if policy.autoscales else str(policy.min_replicas)
    plural = "" if count == "1" else "s"
    extras = ([f"{policy.init_replicas} at start"] if policy.init_replicas not in (None, policy.min_replicas) else [])
    extras += [f"+{policy.num_overprovision} overprovisioned"] if policy.num_overprovision else []
    detail = f" ({', '.join(extras)})" if extras else ""
    where = placement_line(placement).removeprefix("Placement: ")
    where = re.sub(r", \$[0-9.]+/hr|; \d+ failover candidates?$", "", where)
    return f"{count} replica{plural}{detail} of {where}, at ${placement.chosen.hourly_cost:.2f}/hr each"


# --- up ------------------------------------------------------------------------------------------


def up(session: Session, task: TaskLike, name: Optional[str] = None, yes: bool = False,
       overrides: Optional[EnvOverrides] = None) -> ServiceRecord:
    """Check and plan, preview the service's stack and the replicas, confirm, apply the load balancer, record the
    service and start the controller; returns the recorded service (its endpoint set)."""
    request = task if isinstance(task, ServeRequest) else load_request(task, overrides)
    name = service_name(name, request.task)
    request = policed(session, request, name)
    _warn(session, request)
    store = ServiceStore(session.home)
    _check_free(store, name)
    placement = plan_replicas(session.home, request)
    spec = balancer_spec(name, request.spec, placement)
    from stix.managed.client import located
    from stix.serve.cloud_balancer import check_spec
    from stix.serve.lb_stack import apply_balancer, preview_balancer

    try:
        check_spec(spec)
    except StixError as exc:
        raise located(exc, request.label) from None

    session.note(f"Service {name!r}: a load balancer on {spec.cloud}" + (" (HTTPS)" if request.spec.tls else ""),
                 "heading")
    try:
        _show_changes(session, name, preview_balancer(session, spec))
        session.note(replicas_line(request.spec, placement))
        confirm(session, f"Serve {name!r}?", yes)
    except BaseException:  # the stack existed only to be previewed: leave no trace of it
        _undo_balancer(session, name)
        raise
    _check_free(store, name)
    try:
        info = apply_balancer(session, spec)
    except BaseException:
        _undo_balancer(session, name)
        raise
    store.add_service(name, request.task, request.spec)
    store.set_service(name, endpoint=info.endpoint, balancer=info.outputs)
    _ensure_controller(session.home, f"service {name!r} is recorded")
    session.note(f"Service {name!r} is starting; its endpoint: {info.endpoint}", "success")
    session.note(f"`stix serve status {name}` shows its replicas; it answers once one is READY.")
    record = store.get(name)
    assert record is not None
    return record


def _warn(session: Session, request: ServeRequest) -> None:
    for line in request.warnings:
        session.note(line, "warning")


def policed(session: Session, request: ServeRequest, name: str) -> ServeRequest:
    """The task as the config's admin policy returns it (stix.admin_policy; no request options, as SkyPilot's
    services), before anything is planned; what it changed is noted."""
    from stix.admin_policy import police

    applied = police(session, request.task, Path(request.label), None, name)
    if applied.task == request.task:  # unchanged (a changed secret value shows in no change line, yet is a change)
        return request
    spec = request.spec if applied.task.service == request.task.service else \
        service_spec(applied.task, where=request.label)
    return replace(request, task=applied.task, spec=spec)


def _show_changes(session: Session, name: str, changes: ChangeSet) -> None:
    from stix.render import summary_line

    for change in changes.changes:
        if change.op != "same":
            session.note(f"  {change.op}: {change.type} {change.name}")
    session.note(summary_line(changes))


def _check_free(store: ServiceStore, name: str) -> None:
    if store.get(name) is not None:
        raise UsageError(f"service {name!r} already exists; `stix serve update {name} TASK.yaml` changes it, "
                         f"`stix serve down {name}` removes it")


def _undo_balancer(session: Session, name: str) -> None:
    """A failed or interrupted apply leaves nothing behind (the stack is the service's alone)."""
    from stix.serve.lb_stack import destroy_balancer

    try:
        destroy_balancer(session, name)
    except (StixError, KeyboardInterrupt) as exc:
        session.note(f"could not remove the load balancer of {name!r} after the failed apply: {exc}", "warning")


def _ensure_controller(home: StixHome, what: str) -> None:
    from stix.serve.controller import ensure_controller

    try:
        ensure_controller(home)
    except OSError as exc:
        raise StixError(f"{what}, but the serve controller could not be started ({exc}); the next `stix serve` "
                        "command that changes a service starts it") from None


# --- update --------------------------------------------------------------------------------------


def update(session: Session, name: str, task: TaskLike, mode: str = ROLLING, yes: bool = False,
           overrides: Optional[EnvOverrides] = None) -> int:
    """Record the task as the service's next version; the controller moves the replicas to it (rolling: one new
    replica at a time; blue_green: the whole new set, switched once all are ready). Returns the new version."""
    if mode not in UPDATE_MODES:
        raise UsageError(f"--mode {mode!r}: expected {' or '.join(UPDATE_MODES)}")
    store = ServiceStore(session.home)
    record = _live(store, name)
    request = task if isinstance(task, ServeRequest) else load_request(task, overrides)
    request = policed(session, request, name)  # the admin policy, as `up` runs it, before the service's checks
    _warn(session, request)
    current = store.version(name, record.version).spec
    for label, old, new in (("load_balancing_policy", current.load_balancing_policy,
                             request.spec.load_balancing_policy),
                            ("tls", (current.tls_keyfile, current.tls_certfile),
                             (request.spec.tls_keyfile, request.spec.tls_certfile)),
                            ("readiness_probe (the load balancer's health check)", _health_path(current),
                             _health_path(request.spec)),
                            ("load_balancer.stream_timeout_seconds", current.stream_timeout_s,
                             request.spec.stream_timeout_s)):
        if old != new:
            raise UsageError(f"{request.label}: service.{label} differs from the running service's; the load balancer "
                             f"keeps it: `stix serve down {name}` then `stix serve up` to change it")
    placement = plan_replicas(session.home, request)
    balancer_cloud = (record.balancer or {}).get("cloud")
    if balancer_cloud and placement.chosen.cloud != balancer_cloud:
        raise UsageError(f"{request.label}: the replicas would go to {placement.chosen.cloud}, but the service's load "
                         f"balancer is on {balancer_cloud}: pin the task's resources to {balancer_cloud} (or "
                         f"`stix serve down {name}` then `stix serve up`)")
    session.note(replicas_line(request.spec, placement))
    confirm(session, f"Update service {name!r} to this task ({mode})?", yes)
    version = store.add_version(name, request.task, request.spec, mode)
    _ensure_controller(session.home, f"version {version} of {name!r} is recorded")
    session.note(f"Service {name!r}: version {version} recorded; the controller moves it over ({mode}). "
                 f"`stix serve status {name}` shows the replicas.", "success")
    return version


def _live(store: ServiceStore, name: str) -> ServiceRecord:
    record = store.get(name)
    if record is None:
        raise UsageError(f"no service named {name!r} (stix serve status lists them)")
    if record.down_requested:
        raise UsageError(f"service {name!r} is shutting down")
    return record


# --- down ----------------------------------------------------------------------------------------


@dataclass
class DownResult:
    requested: list[str] = field(default_factory=list)
    remaining: list[str] = field(default_factory=list)
    """Those still recorded when the wait ended (the controller goes on tearing them down)."""


def down(session: Session, names: Sequence[str] = (), all_: bool = False, yes: bool = False,
         wait_s: Optional[float] = DOWN_WAIT_S, poll: float = POLL_S) -> DownResult:
    """Mark the services for teardown (the controller takes their replicas, then their load balancer, down) and
    wait, up to wait_s (None: not at all), until the store has forgotten them, reporting each status change."""
    store = ServiceStore(session.home)
    if bool(names) == all_:
        raise UsageError("name the services to take down, or -a for all of them" if not names else
                         "give service names or -a, not both")
    if all_:
        chosen = [record.name for record in store.all()]
        if not chosen:
            session.note("no services", "warning")
            return DownResult()
    else:
        chosen = list(dict.fromkeys(names))
        unknown = [n for n in chosen if store.get(n) is None]
        if unknown:
            raise UsageError(f"no service named {', '.join(map(repr, unknown))} (stix serve status lists them); "
                             "nothing was changed")
    confirm(session, f"Take down service(s) {', '.join(chosen)}: every replica and the load balancer?", yes)
    result = DownResult(requested=store.request_down(chosen))
    _ensure_controller(session.home, "the services are marked for teardown")
    if wait_s is None:
        session.note(f"Taking down {', '.join(result.requested)} (not waiting)")
        result.remaining = wait_removed(session, store, result.requested, None, poll)
        return result
    session.note(f"Taking down {', '.join(result.requested)}")
    result.remaining = wait_removed(session, store, result.requested, wait_s, poll)
    if result.remaining:
        session.note(f"still tearing down after {wait_s:g}s: {', '.join(result.remaining)}; "
                     "`stix serve status` shows them until they are gone", "warning")
    else:
        session.note(f"Removed {', '.join(result.requested)}", "success")
    return result


def wait_removed(session: Session, store: ServiceStore, names: Sequence[str], wait_s: Optional[float],
                 poll: float = POLL_S) -> list[str]:
    """The names still recorded once all are gone or wait_s has passed; prints what changes meanwhile."""
    if wait_s is None:
        return [n for n in names if store.get(n) is not None]
    deadline = time.monotonic() + wait_s
    seen: dict[str, str] = {}
    while True:
        remaining = []
        for name in names:
            record = store.get(name)
            if record is None:
                continue
            remaining.append(name)
            live = len(store.replicas(name))
            state = f"{name}: {record.status}, {live} replica{'s' if live != 1 else ''} left"
            if seen.get(name) != state:
                seen[name] = state
                session.note(state)
        if not remaining or time.monotonic() >= deadline:
            return remaining
        time.sleep(poll)


# --- status --------------------------------------------------------------------------------------


def status(home: StixHome, name: Optional[str] = None) -> list[ServiceStatus]:
    """Every service (or the one named), oldest first, with all its replicas; UsageError for an unknown name."""
    store = ServiceStore(home)
    if name is not None:
        record = store.get(name)
        if record is None:
            raise UsageError(f"no service named {name!r} (stix serve status lists them)")
        records = [record]
    else:
        records = store.all()
    return [service_status(record, store.replicas(record.name, include_ended=True)) for record in records]


# --- logs ----------------------------------------------------------------------------------------


def tail_logs(home: StixHome, name: str, target: Union[int, str], out: LineSink, follow: bool = True,
              poll: float = POLL_S) -> int:
    """A replica's run (by id), the load balancer's log, or the controller's lines about the service; following
    until the service (or the replica) is gone. Returns 0, or NOT_FOUND_EXIT when there is no such service or
    replica."""
    store = ServiceStore(home)
    if store.get(name) is None:
        return NOT_FOUND_EXIT
    if target == LOAD_BALANCER:
        return _tail_file(store, name, store.balancer_log(name), out, follow, poll)
    if target == CONTROLLER:
        mine = re.compile(rf"(^|\s)service {re.escape(name)}[:\s]")
        return _tail_file(store, name, store.controller_log, out, follow, poll, lambda line: bool(mine.search(line)))
    if isinstance(target, bool) or not isinstance(target, int):
        raise UsageError(f"logs target {target!r}: a replica id, {LOAD_BALANCER!r} or {CONTROLLER!r}")
    return _replica_logs(home, store, name, target, out, follow, poll)


def _tail_file(store: ServiceStore, name: str, path: Path, out: LineSink, follow: bool, poll: float,
               keep=lambda line: True) -> int:
    from stix.managed.client import _Tail

    tail = _Tail(path)
    while True:
        final = not follow or store.get(name) is None
        for line in tail.lines(whole=final):
            if keep(line):
                out(line)
        if final:
            return 0
        time.sleep(poll)


def _replica_logs(home: StixHome, store: ServiceStore, name: str, replica_id: int, out: LineSink, follow: bool,
                  poll: float) -> int:
    """Through the replica cluster's node agent while it is up; else what the controller kept of it (followed
    until the replica ends or its run starts on its cluster, which is then followed through the node agent)."""
    from stix.managed.client import _Tail

    replica = _replica(store, name, replica_id)
    if replica is None:
        return NOT_FOUND_EXIT
    tail = _Tail(store.replica_log(name, replica_id))
    while True:
        if replica.ended is None and replica.agent_job is not None and _cluster_up(home, replica.cluster):
            for line in tail.lines(whole=True):  # what the controller wrote while it launched the replica
                out(line)
            return _agent_logs(home, store, name, replica, out, follow, poll)
        final = not follow or replica.ended is not None
        for line in tail.lines(whole=final):
            out(line)
        if final:
            return 0
        time.sleep(poll)
        replica = _replica(store, name, replica_id)
        if replica is None:  # retired (or the service is gone) while followed: what it wrote, then the end
            for line in tail.lines(whole=True):
                out(line)
            out(f"── replica {replica_id} of {name}: removed")
            return 0


def _replica(store: ServiceStore, name: str, replica_id: int):
    return next((r for r in store.replicas(name, include_ended=True) if r.replica_id == replica_id), None)


def _cluster_up(home: StixHome, cluster_name: str) -> bool:
    if not home.index_db.exists():
        return False
    from stix.index import UP, ClusterIndex

    cluster = ClusterIndex(home.index_db).get(cluster_name)
    return cluster is not None and cluster.status == UP


def _agent_logs(home: StixHome, store: ServiceStore, name: str, replica, out: LineSink, follow: bool,
                poll: float) -> int:
    from stix import cluster_jobs
    from stix.errors import JobError, SSHError

    replica_id = replica.replica_id
    try:
        with cluster_jobs.head_connection(home, replica.cluster) as head:
            cluster_jobs.follow(head, replica.agent_job, out, follow_=follow)
        if follow:
            now = _replica(store, name, replica_id)
            out(f"── replica {replica_id} of {name}: {now.status if now else 'removed'}")
        return 0
    except (SSHError, JobError):
        ending = _ending(store, name, replica_id, poll)
        if ending is None:
            raise
        out(f"── replica {replica_id} of {name}: {ending}")  # torn down while followed: its log ends
        return 0


def _ending(store: ServiceStore, name: str, replica_id: int, poll: float, wait_s: float = 60.0) -> Optional[str]:
    """How a replica whose cluster stopped answering went (its status, or 'removed'), once the controller says;
    None if it still serves after wait_s (the connection was lost for another reason)."""
    from stix.serve.store import SHUTTING_DOWN

    deadline = time.monotonic() + wait_s
    while True:
        replica = _replica(store, name, replica_id)
        if replica is None:
            return "removed"
        if replica.ended is not None or replica.status == SHUTTING_DOWN:
            return replica.status
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll)
