"""The flows behind every infrastructure command, shared by the CLI and the Python SDK.

Each flow takes a typed request and returns a typed result; while it works it reports events
(stix.events) to the session and prints nothing: the CLI and the SDK render. The stages run
once each, downward: the task is already loaded; plan (placement, pin) -> compile (spec) ->
apply (engine) -> ClusterInfo -> hooks and the job queue.
"""

from __future__ import annotations

import dataclasses
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from stix import index as idx
from stix import jobs, ssh_config
from stix.compile import check_prerequisites, check_runnable, compile_spec
from stix.drift import DriftReport
from stix.engine.calls import engine_call, interrupts_deferred, progress
from stix.engine.changes import ChangeSet
from stix.errors import Aborted, ClusterNotFound, ConfirmationRequired, NodeCommandFailed, StackLocked, UsageError
from stix.events import EventSink, Note, PlacementChosen, PreviewReady, discard
from stix.home import StixHome
from stix.models.task import Task
from stix.naming import default_cluster_name, validate_cluster_name
from stix.optimizer import Placement
from stix.project import Project, find_project, load_project
from stix.spec import ClusterInfo, ClusterSpec

Confirm = Callable[[str], bool]
LineSink = Callable[[str], None]


def _stdout(line: str) -> None:
    import sys

    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@dataclass
class Session:
    home: StixHome
    events: EventSink = discard
    confirm: Optional[Confirm] = None
    """None when there is no terminal to ask."""
    output: LineSink = _stdout
    """Where the nodes' output goes (setup, job logs), one prefixed line at a time."""

    @property
    def index(self) -> idx.ClusterIndex:
        return idx.ClusterIndex(self.home.index_db)

    def note(self, text: str, level: str = "info") -> None:
        self.events(Note(text, level))


# --- requests and results ------------------------------------------------------------------------


@dataclass(frozen=True)
class LaunchRequest:
    task: Task
    cluster: Optional[str] = None
    """Default: the task's name, else the task file's stem."""
    task_path: Optional[Path] = None
    """Where the task came from (the default name; the pin's reference in a project); None from the SDK."""
    yes: bool = False
    idle_minutes: Optional[float] = None
    down: bool = False

    @property
    def cluster_name(self) -> str:
        if self.cluster:
            return validate_cluster_name(self.cluster)
        return default_cluster_name(self.task.name, self.task_path or Path("task.yaml"))


@dataclass(frozen=True)
class JobResult:
    cluster: str
    job_id: Optional[int]
    """None when the task has no `run`."""
    exit_code: int = 0


@dataclass(frozen=True)
class ExecRequest:
    cluster: str
    task: Task
    detach: bool = False


@dataclass(frozen=True)
class _Target:
    """A launch request resolved against this machine: the cluster's name and the project around it."""

    request: LaunchRequest
    cluster: str
    project: Optional[Project] = field(default=None)

    @property
    def task(self) -> Task:
        return self.request.task

    @property
    def stack_file(self) -> Optional[Path]:
        return self.project.stack_file(self.cluster) if self.project else None


def _target(request: LaunchRequest) -> _Target:
    return _Target(request, request.cluster_name, find_project())


def cluster_project(session: Session, cluster: str) -> Optional[Project]:
    """Where an existing cluster's stack config lives: the current project if it pins the cluster,
    else the project it was launched in, else (None) stix's home."""
    here = find_project()
    if here is not None and here.stack_file(cluster).exists():
        return here
    record = session.index.get(cluster)
    if record is not None and record.project:
        recorded = load_project(Path(record.project))
        if recorded is not None and recorded.stack_file(cluster).exists():
            return recorded
    return None


# --- preview and up ------------------------------------------------------------------------------


def preview(session: Session, request: LaunchRequest):
    """Plan without changing anything; returns a PreviewReport."""
    from stix.report import PreviewReport

    target = _target(request)
    stack_file = target.stack_file
    new_cluster = session.index.get(target.cluster) is None and not (stack_file and stack_file.exists())
    stack, spec, _ = _stack_for(session, target)
    try:
        changes = _preview(session, stack, target.cluster)
    finally:
        if new_cluster:  # the stack existed only to be previewed: leave no trace of it
            engine_call(lambda: stack.workspace.remove_stack(target.cluster), "removing the previewed stack")
            if stack_file is not None:
                stack_file.unlink(missing_ok=True)
    before = None
    try:
        before = ClusterSpec.from_json(spec_path(session.home, target.cluster).read_text()).hourly_cost
    except OSError:
        pass
    return PreviewReport(target.cluster, changes, before, spec.hourly_cost)


def up(session: Session, request: LaunchRequest) -> JobResult:
    """Preview, confirm, apply; then sync, install the agent, arm autostop, run setup, and run the task as a job."""
    from stix.hooks import JobContext, new_task_id, run_phase, sync_file_mounts, sync_workdir
    from stix.ssh.runner import ClusterConnections

    target = _target(request)
    missing = target.task.required_unset()
    if missing:
        raise UsageError(f"the task needs values at up: {', '.join(missing)}")
    stack, spec, pin = _stack_for(session, target)
    changes = _preview(session, stack, target.cluster)
    project_dir = str(target.project.root) if target.project else None
    task_file = str(request.task_path.absolute()) if request.task_path else None
    record = lambda status: session.index.upsert(  # noqa: E731
        target.cluster, spec.cloud, spec.num_nodes, status, task_file, project_dir)
    if changes.has_changes:
        _confirm(session, f"Apply these changes to cluster {target.cluster}?", request.yes)
        with _undone_if_locked(session, target):
            record(idx.INIT)
            _write_pin(session, target, pin, spec)
            outputs = _apply(session, stack, target.cluster)
    else:
        _write_pin(session, target, pin, spec)
        outputs = engine_call(lambda: stack.outputs(), "reading stack outputs")
    record(idx.UP)
    save_spec(session.home, spec)
    info = _cluster_info(session, spec, outputs)
    task = target.task
    with ClusterConnections(info) as conns:
        if _probe_capacity(spec):
            info = info.with_capacity(_probe_cpus(conns.connections[0]))
            conns.info = info
            _record_info(session, info)
        _, gpus = jobs.job_demand(task, info.head)
        context = JobContext(new_task_id(target.cluster), gpus)
        _report_sync(session, sync_workdir(conns, task.workdir))
        _report_sync(session, sync_file_mounts(conns, task.file_mounts), "file_mounts")
        jobs.install_agent(conns)
        _arm_autostop(session, conns.connections[0], target.cluster, task, request.idle_minutes, request.down)
        if task.setup:
            session.note(f"Running setup on {len(info.nodes)} node(s)", "heading")
            run_phase(conns, task, "setup", task.setup, context, _prefixed(session))
        if not task.run:
            session.note(f"Cluster {target.cluster} is up.", "success")
            return JobResult(target.cluster, None)
        return _run_job(session, conns, info, task, context, detach=False)


def exec_(session: Session, request: ExecRequest) -> JobResult:
    """Submit a task to an up cluster: sync the workdir, queue the job, follow it unless detached."""
    from stix.hooks import JobContext, new_task_id, sync_workdir
    from stix.ssh.runner import ClusterConnections

    validate_cluster_name(request.cluster)
    info = jobs.load_info(session.home, request.cluster)
    task = request.task
    check_runnable(task, info.cloud)
    if task.num_nodes > len(info.nodes):
        raise UsageError(f"num_nodes {task.num_nodes} is more than cluster {request.cluster}'s {len(info.nodes)} nodes")
    if not task.run:
        raise UsageError("nothing to run (no `run`)")
    missing = task.required_unset()
    if missing:
        raise UsageError(f"the task needs values: {', '.join(missing)}")
    job_info = info.first(task.num_nodes)
    _, gpus = jobs.job_demand(task, info.head)
    context = JobContext(new_task_id(request.cluster), gpus)
    with ClusterConnections(job_info) as conns:
        _report_sync(session, sync_workdir(conns, task.workdir))
        return _run_job(session, conns, job_info, task, context, request.detach)


def _report_sync(session: Session, sent: list[int], what: str = "Workdir") -> None:
    if sent:
        session.note(f"{what} synced: {sum(sent)} changed file(s) sent to {len(sent)} node(s).")


def _prefixed(session: Session):
    from stix.ssh.runner import prefixed_printer

    return prefixed_printer(session.output)


@contextmanager
def _undone_if_locked(session: Session, target: _Target) -> Iterator[None]:
    """An `up` that finds another update holding the stack leaves the index and the pin as it found them."""
    record = session.index.get(target.cluster)
    stack_file = target.stack_file
    pinned = stack_file.read_bytes() if stack_file is not None and stack_file.exists() else None
    try:
        yield
    except StackLocked:
        session.index.restore(target.cluster, record)
        if stack_file is not None and pinned is not None:
            stack_file.write_bytes(pinned)
        raise


def _write_pin(session: Session, target: _Target, pin, spec: ClusterSpec) -> None:
    from stix.pin import write_pin

    path = target.stack_file
    if path is not None and pin is not None and write_pin(path, pin, spec):
        session.note(f"Pinned the placement in {_relative(path)} (commit it to review placement changes).")


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _run_job(session: Session, conns, info: ClusterInfo, task: Task, context, detach: bool) -> JobResult:
    from stix.hooks import job_ranks

    cpus, gpus = jobs.job_demand(task, info.head)
    head = conns.connections[0]
    assert task.run is not None  # both callers return before this without a run
    job_id = jobs.submit(head, task.name, task.run, job_ranks(info, task, context), cpus, gpus)
    if detach:
        session.note(f"Job {job_id} submitted to {info.cluster}; `stix logs {info.cluster} {job_id}` follows it.")
        return JobResult(info.cluster, job_id)
    session.note(f"Job {job_id} on {len(info.nodes)} node(s)", "heading")
    jobs.follow(head, job_id, session.output)
    row = jobs.job(head, job_id)
    code = jobs.exit_code_of(row)
    if code != 0:
        detail = f": {row['detail']}" if row and row.get("detail") else ""
        raise NodeCommandFailed(f"job {job_id} on {info.cluster} {row['status'] if row else 'vanished'}{detail}", code)
    session.note(f"Job {job_id} on {info.cluster} succeeded.", "success")
    return JobResult(info.cluster, job_id)


def _arm_autostop(session: Session, head, cluster: str, task: Task, idle_minutes: Optional[float], down: bool) -> None:
    """`-i/--down` on the command line win over resources.autostop; neither leaves the timer as it is."""
    setting = task.resources.autostop
    if idle_minutes is None and setting is not None:
        if not setting.enabled:
            return set_autostop(session, cluster, None, head=head)
        idle_minutes, down, wait_for = setting.idle_minutes, setting.down or down, setting.wait_for
        return set_autostop(session, cluster, idle_minutes, down, wait_for, head=head)
    if idle_minutes is not None:
        set_autostop(session, cluster, idle_minutes, down, head=head)


def set_autostop(session: Session, cluster: str, idle_minutes: Optional[float], down: bool = False,
                 wait_for: str = "jobs_and_ssh", head=None) -> None:
    if head is None:
        with jobs.head_connection(session.home, cluster) as own:
            return set_autostop(session, cluster, idle_minutes, down, wait_for, own)
    jobs.set_autostop(head, idle_minutes, down, wait_for)
    label = None if idle_minutes is None else f"{idle_minutes:g}m" + (" (down)" if down else "")
    session.index.set_autostop(cluster, label)


def _cluster_info(session: Session, spec: ClusterSpec, outputs: dict[str, Any]) -> ClusterInfo:
    """The stack outputs read as ClusterInfo, recorded for the commands that later work without Pulumi."""
    values = {key: getattr(value, "value", value) for key, value in outputs.items()}
    info = ClusterInfo.from_dict(values, str(session.home.key_path(spec.cluster)))
    _record_info(session, info)
    return info


def _record_info(session: Session, info: ClusterInfo) -> None:
    jobs.save_info(session.home, info)
    ssh_config.write_cluster_config(session.home, info)


def spec_path(home: StixHome, cluster: str) -> Path:
    return home.cluster_dir(cluster) / "spec.json"


def save_spec(home: StixHome, spec: ClusterSpec) -> None:
    path = spec_path(home, spec.cluster)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec.to_json())


def _probe_capacity(spec: ClusterSpec) -> bool:
    from stix.components.base import cloud_for

    return cloud_for(spec.cloud).probes_capacity


def _probe_cpus(conn) -> float:
    """A pool machine is whatever it is: ask it."""
    out: list[str] = []
    if conn.run("nproc", out.append, timeout=30) != 0 or not out or not out[-1].strip().isdigit():
        return 1.0
    return float(out[-1].strip())


# --- stop, start, destroy, refresh, drift, unlock --------------------------------------------------


def stop(session: Session, cluster: str, yes: bool = False) -> None:
    """Stop every node through the stack, keeping disks and files; `stix start` brings them back."""
    _set_power(session, cluster, stopped=True, yes=yes)
    session.index.set_status(cluster, idx.STOPPED)
    session.note(f"Cluster {cluster} stopped; `stix start {cluster}` resumes it.", "success")


def start(session: Session, cluster: str, yes: bool = False) -> None:
    from stix.ssh.runner import ClusterConnections

    spec, outputs = _set_power(session, cluster, stopped=False, yes=yes)
    session.index.set_status(cluster, idx.UP)
    info = _cluster_info(session, spec, outputs)
    with ClusterConnections(info) as conns:
        if _probe_capacity(spec):
            conns.info = info = info.with_capacity(_probe_cpus(conns.connections[0]))
            _record_info(session, info)
        jobs.install_agent(conns)
    session.note(f"Cluster {cluster} is up again.", "success")


def _set_power(session: Session, cluster: str, stopped: bool, yes: bool):
    from stix.components.base import Stoppable, can, cloud_for
    from stix.engine.program import make_program
    from stix.engine.workspace import open_stack

    validate_cluster_name(cluster)
    if session.index.get(cluster) is None:
        raise ClusterNotFound(f"cluster {cluster!r} not found (stix status lists clusters)")
    try:
        spec = ClusterSpec.from_json(spec_path(session.home, cluster).read_text())
    except OSError:
        raise UsageError(f"cluster {cluster!r} has no saved plan; run `stix up` for it first") from None
    if not can(cloud_for(spec.cloud), Stoppable):
        raise UsageError(f"{spec.cloud} clusters cannot be stopped by stix yet; `stix destroy {cluster}` removes it")
    spec = dataclasses.replace(spec, stopped=stopped)
    project = cluster_project(session, cluster)
    stack = engine_call(lambda: open_stack(session.home, cluster, make_program(spec), project=project),
                        "opening the stack")
    changes = _preview(session, stack, cluster)
    if changes.has_changes:
        _confirm(session, f"{'Stop' if stopped else 'Start'} cluster {cluster}?", yes)
        if project is not None:
            _pin_power(project, cluster, spec)
        outputs = _apply(session, stack, cluster)
    else:
        outputs = engine_call(lambda: stack.outputs(), "reading stack outputs")
    save_spec(session.home, spec)
    return spec, outputs


def _pin_power(project: Project, cluster: str, spec: ClusterSpec) -> None:
    """A stopped cluster says so in its pin and stored spec, so plain `pulumi preview` does not plan to start it."""
    from stix.pin import read_pin, write_pin

    pin = read_pin(project.stack_file(cluster))
    if pin is not None:
        write_pin(project.stack_file(cluster), dataclasses.replace(pin, stopped=spec.stopped), spec)


def destroy(session: Session, cluster: str, yes: bool = False) -> None:
    from pulumi import automation as auto

    from stix.engine.workspace import open_stack

    validate_cluster_name(cluster)
    record = session.index.get(cluster)
    try:
        stack = open_stack(session.home, cluster, create=False, project=cluster_project(session, cluster))
    except auto.StackNotFoundError:
        if record is None and not session.home.cluster_dir(cluster).exists():
            raise ClusterNotFound(f"cluster {cluster!r} not found (stix status lists clusters)") from None
        stack = None
    if stack is not None:
        changes = ChangeSet()
        engine_call(lambda: stack.preview_destroy(on_event=changes.on_event), "previewing destroy")
        session.events(PreviewReady(cluster, changes))
        _confirm(session, f"Destroy cluster {cluster}?", yes)
        with interrupts_deferred(session.events, cluster, "destroy"):
            engine_call(lambda: stack.destroy(on_event=progress(session.events)), "destroying", cluster)
        engine_call(lambda: stack.workspace.remove_stack(cluster), "removing the stack")
    else:
        _confirm(session, f"Remove leftovers of cluster {cluster}?", yes)
    _sweep_local(session.home, cluster)
    ssh_config.remove_cluster_config(session.home, cluster)
    session.index.remove(cluster)
    session.note(f"Cluster {cluster} destroyed.", "success")


def _existing_stack(session: Session, cluster: str):
    from pulumi import automation as auto

    from stix.engine.workspace import open_stack

    validate_cluster_name(cluster)
    try:
        return open_stack(session.home, cluster, create=False, project=cluster_project(session, cluster))
    except auto.StackNotFoundError:
        raise ClusterNotFound(f"cluster {cluster!r} has no stack (stix status lists clusters)") from None


def unlock(session: Session, cluster: str, yes: bool = False) -> None:
    """Release the stack's lock; an update still running under it loses its claim, so ask first."""
    stack = _existing_stack(session, cluster)
    _confirm(session, f"Release the lock on cluster {cluster}'s stack? Only do this if the update holding it died.",
             yes)
    engine_call(lambda: stack.cancel(), "cancelling the update")
    session.note(f"Cluster {cluster}'s stack is unlocked; `stix drift {cluster}` shows what the dead update "
                 f"left, `stix up` or `stix destroy` settles it.")


def drift(session: Session, cluster: str) -> DriftReport:
    """What changed behind stix's back, without changing state or resources (a refresh preview)."""
    stack = _existing_stack(session, cluster)
    report = DriftReport(cluster)
    engine_call(lambda: stack.preview_refresh(on_event=report.on_event), "checking for drift")
    return report


def refresh(session: Session, cluster: str) -> DriftReport:
    """Reconcile state with reality (pulumi refresh) and report what drifted."""
    stack = _existing_stack(session, cluster)
    report = DriftReport(cluster)
    engine_call(lambda: stack.refresh(on_event=report.on_event), "refreshing", cluster)
    record = session.index.get(cluster)
    if record is not None:
        status = _status_after(record, report)
        session.index.set_status(cluster, status)
        if status == idx.STOPPED and record.status == idx.UP:
            session.index.set_autostop(cluster, None)  # the agent's timer fired, and it is spent
    return report


def _status_after(record: idx.ClusterRecord, report: DriftReport) -> str:
    """UP or STOPPED as recorded when nothing drifted; STOPPED when every node stopped by itself
    (autostop); DEGRADED for anything else."""
    if not report.drifted:
        return record.status if record.status in (idx.UP, idx.STOPPED) else idx.UP
    stopped = [r for r in report.resources if r.op == "update" and ("state", "running", "stopped") in r.properties]
    if len(stopped) == len(report.resources) == record.num_nodes:
        return idx.STOPPED
    return idx.DEGRADED


def _sweep_local(home: StixHome, cluster: str) -> None:
    """Remove node directories (and their processes) that state no longer records.

    A node whose create was interrupted can exist without a state entry; every
    local resource lives under the cluster's directory, so this finds them all.
    """
    from stix.components.local import sshd

    sshd.kill_all(sshd.processes_under(home.cluster_dir(cluster)))
    shutil.rmtree(home.cluster_dir(cluster), ignore_errors=True)
    shutil.rmtree(home.key_path(cluster).parent, ignore_errors=True)
    shutil.rmtree(home.workspaces_dir / cluster, ignore_errors=True)


# --- the stages: plan, compile, open the stack ---------------------------------------------------------


def _stack_for(session: Session, target: _Target):
    """Plan (through the cluster's pin, in a project), compile, and open the cluster's stack with the spec."""
    from stix.engine.program import make_program
    from stix.engine.workspace import open_stack
    from stix.inputs import cluster_inputs

    placement, pin = _plan(target)
    session.events(PlacementChosen(placement))
    check_prerequisites(session.home, placement.chosen.cloud)
    cidrs = pin.ssh_cidrs if pin is not None else ()
    inputs = cluster_inputs(session.home, target.cluster, placement.chosen, target.task.num_nodes, cidrs)
    spec = compile_spec(target.task, target.cluster, placement.chosen, inputs)
    if pin is not None:
        spec = dataclasses.replace(spec, stopped=pin.stopped)
    stack = engine_call(lambda: open_stack(session.home, target.cluster, make_program(spec), project=target.project),
                        "opening the stack")
    return stack, spec, pin


def _plan(target: _Target) -> tuple[Placement, Any]:
    """The optimizer's placement; in a project, the cluster's pinned one while it still fits the task."""
    from stix.placement import place

    check_runnable(target.task)
    placement = place(target.task)
    pin = None
    if target.project is not None:
        placement, pin = _pinned(target, placement)
    check_runnable(target.task, placement.chosen.cloud)
    return placement, pin


def _pinned(target: _Target, placement: Placement):
    from stix.compile import resolve_image
    from stix.components.base import cloud_for
    from stix.pin import Pin, keep_pinned, read_pin, task_reference

    assert target.project is not None and target.stack_file is not None
    candidate = keep_pinned(read_pin(target.stack_file), placement)
    cidrs: tuple[str, ...] = ()
    if cloud_for(candidate.cloud).ssh_rule:
        from stix.ssh_source import ssh_cidrs

        cidrs = tuple(ssh_cidrs())
    reference = task_reference(target.project.root, target.request.task_path) if target.request.task_path else "<sdk>"
    pin = Pin.of(reference, candidate, resolve_image(target.task.resources.image_id, candidate.region), cidrs)
    return Placement(candidate, placement.candidates), pin


def _preview(session: Session, stack, cluster: str) -> ChangeSet:
    changes = ChangeSet()
    # Refresh first, so the plan starts from what really exists: a node that died is recreated by `up`.
    engine_call(lambda: stack.preview(on_event=changes.on_event, refresh=True), "previewing")
    session.events(PreviewReady(cluster, changes))
    return changes


def _apply(session: Session, stack, cluster: str):
    with interrupts_deferred(session.events, cluster, "apply"):
        result = engine_call(lambda: stack.up(on_event=progress(session.events), refresh=True), "applying", cluster)
    return result.outputs


def _confirm(session: Session, question: str, yes: bool) -> None:
    if yes:
        return
    if session.confirm is None:
        raise ConfirmationRequired("refusing to change infrastructure without confirmation: no terminal to ask; pass -y")
    if not session.confirm(question):
        raise Aborted("cancelled; nothing was changed")
