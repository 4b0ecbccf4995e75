"""The up / preview / destroy flows, shared by the CLI and the Python SDK."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

from rich.console import Console

from stix import index as idx
from stix import jobs, ssh_config
from stix.compile import check_prerequisites, check_runnable, choose_placement, compile_spec
from stix.drift import DriftReport
from stix.engine.changes import ChangeSet
from stix.errors import (Aborted, ClusterNotFound, ConfirmationRequired, NodeCommandFailed, ProvisionError, StackLocked,
                         UsageError)
from stix.home import StixHome
from stix.loader import EnvOverrides, load_task
from stix.naming import default_cluster_name, validate_cluster_name
from stix.project import Project, find_project, load_project
from stix.render import print_preview
from stix.spec import ClusterInfo, ClusterSpec
from stix.models.task import Task

Confirm = Callable[[str], bool]


@dataclass
class Session:
    home: StixHome
    console: Console
    confirm: Optional[Confirm]
    """None when there is no terminal to ask."""

    @property
    def index(self) -> idx.ClusterIndex:
        return idx.ClusterIndex(self.home.index_db)


@dataclass(frozen=True)
class Plan:
    task: Task
    task_path: Path
    cluster: str
    project: Optional[Project]
    """The stix project around the current directory, whose stacks/ pins the placement."""


def plan(task_path: str, cluster: Optional[str], overrides: Optional[EnvOverrides] = None,
         require_env: bool = False) -> Plan:
    path = Path(task_path)
    task = load_task(path, overrides, require_env=require_env)
    name = validate_cluster_name(cluster) if cluster else default_cluster_name(task.name, path)
    return Plan(task, path, name, find_project())


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


def preview(session: Session, task_path: str, cluster: Optional[str] = None,
            overrides: Optional[EnvOverrides] = None, quiet: bool = False):
    """Plan without changing anything; returns a PreviewReport (text printed unless quiet)."""
    from stix.report import PreviewReport

    chosen = plan(task_path, cluster, overrides)
    console = session.console
    if quiet:
        session = Session(session.home, Console(file=open(os.devnull, "w")), session.confirm)
    stack_file = chosen.project.stack_file(chosen.cluster) if chosen.project else None
    new_cluster = session.index.get(chosen.cluster) is None and not (stack_file and stack_file.exists())
    stack, spec, _ = _stack_for(session, chosen)
    try:
        changes = _preview(session, stack, chosen.cluster)
    finally:
        if new_cluster:  # the stack existed only to be previewed: leave no trace of it
            _engine_call(lambda: stack.workspace.remove_stack(chosen.cluster), "removing the previewed stack")
            if stack_file is not None:
                stack_file.unlink(missing_ok=True)
    before = None
    try:
        before = ClusterSpec.from_json(spec_path(session.home, chosen.cluster).read_text()).hourly_cost
    except OSError:
        pass
    session.console = console
    return PreviewReport(chosen.cluster, changes, before, spec.hourly_cost)


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
    _engine_call(lambda: stack.cancel(), "cancelling the update")
    session.console.print(f"Cluster {cluster}'s stack is unlocked; `stix drift {cluster}` shows what the dead update "
                          f"left, `stix up` or `stix destroy` settles it.")


def drift(session: Session, cluster: str) -> DriftReport:
    """What changed behind stix's back, without changing state or resources (a refresh preview)."""
    stack = _existing_stack(session, cluster)
    report = DriftReport(cluster)
    _engine_call(lambda: stack.preview_refresh(on_event=report.on_event), "checking for drift")
    return report


def up(session: Session, task_path: str, cluster: Optional[str] = None, yes: bool = False,
       overrides: Optional[EnvOverrides] = None, idle_minutes: Optional[float] = None, down: bool = False) -> int:
    from stix.hooks import JobContext, cluster_info_json, new_task_id, run_phase, sync_file_mounts, sync_workdir
    from stix.ssh.runner import ClusterConnections, prefixed_printer

    chosen = plan(task_path, cluster, overrides, require_env=True)
    stack, spec, pin = _stack_for(session, chosen)
    changes = _preview(session, stack, chosen.cluster)
    project_dir = str(chosen.project.root) if chosen.project else None
    record = lambda status: session.index.upsert(  # noqa: E731
        chosen.cluster, spec.cloud, spec.num_nodes, status, str(chosen.task_path.absolute()), project_dir)
    if changes.has_changes:
        _confirm(session, f"Apply these changes to cluster {chosen.cluster}?", yes)
        with _undone_if_locked(session, chosen):
            record(idx.INIT)
            _write_pin(session, chosen, pin)
            outputs = _apply(session, stack, chosen.cluster)
    else:
        _write_pin(session, chosen, pin)
        outputs = _engine_call(lambda: stack.outputs(), "reading stack outputs")
    record(idx.UP)
    save_spec(session.home, spec)
    info = _record_cluster(session, spec, outputs)
    cpus, gpus = _node_capacity(spec)
    task = chosen.task
    context = JobContext(new_task_id(chosen.cluster), cluster_info_json(info))
    with ClusterConnections(info) as conns:
        if spec.cloud == "ssh":
            cpus = _probe_cpus(conns.connections[0])
            jobs.save_info(session.home, info, cpus, gpus)
        _report_sync(session, sync_workdir(conns, task.workdir))
        _report_sync(session, sync_file_mounts(conns, task.file_mounts), "file_mounts")
        jobs.install_agent(conns, cpus, gpus)
        _arm_autostop(session, conns.connections[0], chosen.cluster, task, idle_minutes, down)
        if task.setup:
            session.console.print(f"[bold]Running setup on {len(info.nodes)} node(s)[/]")
            run_phase(conns, task, "setup", task.setup, context, prefixed_printer())
        if not task.run:
            session.console.print(f"[green]Cluster {chosen.cluster} is up.[/]")
            return 0
        return _run_job(session, conns, info, task, context, detach=False)


def exec_(session: Session, cluster: str, target: str, detach: bool = False,
          overrides: Optional[EnvOverrides] = None) -> int:
    """Submit a task file or a command to an up cluster: sync the workdir, queue the job, follow it."""
    from stix.hooks import JobContext, cluster_info_json, new_task_id, sync_workdir
    from stix.models.task import Task
    from stix.ssh.runner import ClusterConnections

    validate_cluster_name(cluster)
    info, _, _ = jobs.load_info(session.home, cluster)
    if Path(target).is_file() or target.endswith((".yaml", ".yml")):
        task = load_task(Path(target), overrides, require_env=True)
        check_runnable(task, info.cloud)
        if task.num_nodes > len(info.nodes):
            raise UsageError(f"{target}: num_nodes {task.num_nodes} is more than cluster {cluster}'s {len(info.nodes)} nodes")
    else:
        task = Task(run=target, envs=dict((overrides or EnvOverrides()).envs))
    if not task.run:
        raise UsageError(f"{target}: nothing to run (no `run`)")
    context = JobContext(new_task_id(cluster), cluster_info_json(info))
    job_info = ClusterInfo(info.cluster, info.cloud, info.nodes[: task.num_nodes], info.ssh_private_key_path)
    with ClusterConnections(job_info) as conns:
        _report_sync(session, sync_workdir(conns, task.workdir))
        return _run_job(session, conns, job_info, task, context, detach)


def _report_sync(session: Session, sent: list[int], what: str = "Workdir") -> None:
    if sent:
        session.console.print(f"{what} synced: {sum(sent)} changed file(s) sent to {len(sent)} node(s).")


@contextmanager
def _undone_if_locked(session: Session, chosen: Plan) -> Iterator[None]:
    """An `up` that finds another update holding the stack leaves the index and the pin as it found them."""
    record = session.index.get(chosen.cluster)
    stack_file = chosen.project.stack_file(chosen.cluster) if chosen.project else None
    pinned = stack_file.read_bytes() if stack_file is not None and stack_file.exists() else None
    try:
        yield
    except StackLocked:
        session.index.restore(chosen.cluster, record)
        if stack_file is not None and pinned is not None:
            stack_file.write_bytes(pinned)
        raise


def _write_pin(session: Session, chosen: Plan, pin) -> None:
    from stix.pin import write_pin

    if chosen.project is not None and write_pin(chosen.project.stack_file(chosen.cluster), pin):
        path = chosen.project.stack_file(chosen.cluster)
        session.console.print(f"Pinned the placement in {_relative(path)} (commit it to review placement changes).")


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _run_job(session: Session, conns, info: ClusterInfo, task, context, detach: bool) -> int:
    from stix.hooks import job_ranks

    cpus, gpus = jobs.job_demand(task)
    head = conns.connections[0]
    job_id = jobs.submit(head, task.name, task.run, job_ranks(info, task, context), cpus, gpus)
    if detach:
        session.console.print(f"Job {job_id} submitted to {info.cluster}; `stix logs {info.cluster} {job_id}` follows it.")
        return 0
    session.console.print(f"[bold]Job {job_id} on {len(info.nodes)} node(s)[/]")
    jobs.follow(head, job_id, jobs.printer())
    row = jobs.job(head, job_id)
    code = jobs.exit_code_of(row)
    if code != 0:
        detail = f": {row['detail']}" if row and row.get("detail") else ""
        raise NodeCommandFailed(f"job {job_id} on {info.cluster} {row['status'] if row else 'vanished'}{detail}", code)
    session.console.print(f"[green]Job {job_id} on {info.cluster} succeeded.[/]")
    return 0


def _arm_autostop(session: Session, head, cluster: str, task, idle_minutes: Optional[float], down: bool) -> None:
    """`-i/--down` on the command line win over resources.autostop; neither leaves the timer as it is."""
    setting = task.resources.autostop_setting
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


def _record_cluster(session: Session, spec: ClusterSpec, outputs) -> ClusterInfo:
    """What SSH-side commands need later without Pulumi: the node list and the ssh config."""
    info = ClusterInfo.from_outputs({k: v.value for k, v in outputs.items()}, str(session.home.key_path(spec.cluster)))
    cpus, gpus = _node_capacity(spec)
    jobs.save_info(session.home, info, cpus, gpus)
    ssh_config.write_cluster_config(session.home, info)
    return info


def spec_path(home: StixHome, cluster: str) -> Path:
    return home.cluster_dir(cluster) / "spec.json"


def save_spec(home: StixHome, spec: ClusterSpec) -> None:
    path = spec_path(home, spec.cluster)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec.to_json())


def stop(session: Session, cluster: str, yes: bool = False) -> None:
    """Stop every node through the stack, keeping disks and files; `stix start` brings them back."""
    _set_power(session, cluster, stopped=True, yes=yes)
    session.index.set_status(cluster, idx.STOPPED)
    session.console.print(f"[green]Cluster {cluster} stopped; `stix start {cluster}` resumes it.[/]")


def start(session: Session, cluster: str, yes: bool = False) -> None:
    from stix.ssh.runner import ClusterConnections

    spec, outputs = _set_power(session, cluster, stopped=False, yes=yes)
    session.index.set_status(cluster, idx.UP)
    info = _record_cluster(session, spec, outputs)
    cpus, gpus = _node_capacity(spec)
    with ClusterConnections(info) as conns:
        jobs.install_agent(conns, cpus, gpus)
    session.console.print(f"[green]Cluster {cluster} is up again.[/]")


def _set_power(session: Session, cluster: str, stopped: bool, yes: bool):
    from stix.components.base import cloud_for
    from stix.engine.program import make_program
    from stix.engine.workspace import open_stack

    validate_cluster_name(cluster)
    if session.index.get(cluster) is None:
        raise ClusterNotFound(f"cluster {cluster!r} not found (stix status lists clusters)")
    try:
        spec = ClusterSpec.from_json(spec_path(session.home, cluster).read_text())
    except OSError:
        raise UsageError(f"cluster {cluster!r} has no saved plan; run `stix up` for it first") from None
    if not cloud_for(spec.cloud).stop:
        raise UsageError(f"{spec.cloud} clusters cannot be stopped by stix yet; `stix destroy {cluster}` removes it")
    spec = dataclasses.replace(spec, stopped=stopped)
    project = cluster_project(session, cluster)
    stack = _engine_call(lambda: open_stack(session.home, cluster, make_program(spec), project=project),
                         "opening the stack")
    changes = _preview(session, stack, cluster)
    if changes.has_changes:
        _confirm(session, f"{'Stop' if stopped else 'Start'} cluster {cluster}?", yes)
        if project is not None:
            _pin_power(project, cluster, stopped)
        outputs = _apply(session, stack, cluster)
    else:
        outputs = _engine_call(lambda: stack.outputs(), "reading stack outputs")
    save_spec(session.home, spec)
    return spec, outputs


def _pin_power(project: Project, cluster: str, stopped: bool) -> None:
    """A stopped cluster says so in its pin, so plain `pulumi preview` does not plan to start it."""
    from stix.pin import read_pin, write_pin

    pin = read_pin(project.stack_file(cluster))
    if pin is not None:
        write_pin(project.stack_file(cluster), dataclasses.replace(pin, stopped=stopped))


def _probe_cpus(conn) -> float:
    """A pool machine is whatever it is: ask it."""
    out: list[str] = []
    if conn.run("nproc", out.append, timeout=30) != 0 or not out or not out[-1].strip().isdigit():
        return 1.0
    return float(out[-1].strip())


def _node_capacity(spec) -> tuple[float, float]:
    if spec.cloud == "local":
        return jobs.local_capacity(), 0.0
    return float(spec.vcpus or 1), float(spec.accelerator_count or 0)


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
        _engine_call(lambda: stack.preview_destroy(on_event=changes.on_event), "previewing destroy")
        print_preview(session.console, cluster, changes)
        _confirm(session, f"Destroy cluster {cluster}?", yes)
        with _interrupts_deferred(session, cluster, "destroy"):
            _engine_call(lambda: stack.destroy(on_event=_progress(session)), "destroying", cluster)
        _engine_call(lambda: stack.workspace.remove_stack(cluster), "removing the stack")
    else:
        _confirm(session, f"Remove leftovers of cluster {cluster}?", yes)
    _sweep_local(session.home, cluster)
    ssh_config.remove_cluster_config(session.home, cluster)
    session.index.remove(cluster)
    session.console.print(f"[green]Cluster {cluster} destroyed.[/]")


def refresh(session: Session, cluster: str) -> DriftReport:
    """Reconcile state with reality (pulumi refresh) and report what drifted."""
    stack = _existing_stack(session, cluster)
    report = DriftReport(cluster)
    _engine_call(lambda: stack.refresh(on_event=report.on_event), "refreshing", cluster)
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


def _stack_for(session: Session, chosen: Plan):
    """Place the task, compile its spec (through the cluster's pin, in a project) and open its stack."""
    from stix.engine.program import make_program
    from stix.engine.workspace import open_stack
    from stix.render import placement_line

    check_runnable(chosen.task)
    placement = choose_placement(chosen.task)
    pin = None
    if chosen.project is not None:
        placement, pin = _pinned(chosen, placement)
    session.console.print(placement_line(placement))
    check_prerequisites(session.home, placement.chosen.cloud)
    if pin is not None:
        from stix.pin import spec_from_pin

        spec = spec_from_pin(session.home, chosen.project.root, chosen.cluster, pin, chosen.task)
    else:
        spec = compile_spec(session.home, chosen.task, chosen.cluster, placement)
    stack = _engine_call(lambda: open_stack(session.home, chosen.cluster, make_program(spec), project=chosen.project),
                         "opening the stack")
    return stack, spec, pin


def _pinned(chosen: Plan, placement):
    """Keep the cluster's pinned placement while it fits the task; returns the placement used and its pin."""
    from stix.compile import resolve_image
    from stix.optimizer import Placement
    from stix.pin import Pin, keep_pinned, read_pin, task_reference

    candidate = keep_pinned(read_pin(chosen.project.stack_file(chosen.cluster)), placement)
    check_runnable(chosen.task, candidate.cloud)
    cidrs: tuple[str, ...] = ()
    if candidate.cloud not in ("local", "ssh"):
        from stix.ssh_source import ssh_cidrs

        cidrs = tuple(ssh_cidrs())
    pin = Pin.of(task_reference(chosen.project.root, chosen.task_path), candidate,
                 resolve_image(chosen.task.resources.image_id, candidate.region), cidrs)
    return Placement(candidate, placement.candidates), pin


def _preview(session: Session, stack, cluster: str) -> ChangeSet:
    changes = ChangeSet()
    # Refresh first, so the plan starts from what really exists: a node that died is recreated by `up`.
    _engine_call(lambda: stack.preview(on_event=changes.on_event, refresh=True), "previewing")
    print_preview(session.console, cluster, changes)
    return changes


def _apply(session: Session, stack, cluster: str):
    with _interrupts_deferred(session, cluster, "apply"):
        result = _engine_call(lambda: stack.up(on_event=_progress(session), refresh=True), "applying", cluster)
    return result.outputs


def _confirm(session: Session, question: str, yes: bool) -> None:
    if yes:
        return
    if session.confirm is None:
        raise ConfirmationRequired("refusing to change infrastructure without confirmation: no terminal to ask; pass -y")
    if not session.confirm(question):
        raise Aborted("cancelled; nothing was changed")


def _progress(session: Session):
    def on_event(event) -> None:
        done = getattr(event, "res_outputs_event", None)
        if done is not None:
            meta = done.metadata
            op = getattr(meta.op, "value", str(meta.op))
            if op not in ("same", "refresh") and meta.type != "pulumi:pulumi:Stack" and not meta.type.startswith("pulumi:providers:"):
                session.console.print(f"  {op}: {meta.urn.rsplit('::', 1)[-1]}", highlight=False)
        failed = getattr(event, "diagnostic_event", None)
        if failed is not None and failed.severity == "error" and failed.urn:
            name = failed.urn.rsplit("::", 1)[-1]
            session.console.print(f"  [red]error[/] {name}: {failed.message.strip()}", markup=True, highlight=False)
    return on_event


@contextmanager
def _interrupts_deferred(session: Session, cluster: str, what: str) -> Iterator[None]:
    """Let the engine finish or cancel cleanly on Ctrl-C, then stop with a way out.

    A terminal's Ctrl-C reaches the engine too (same process group), which then
    cancels gracefully; stix keeps serving the program until the engine exits,
    so state is written and `stix destroy` can clean up whatever was created.
    """
    interrupted = []

    def handler(signum, frame) -> None:
        if not interrupted:
            session.console.print(f"[yellow]Interrupted: waiting for the engine to stop the {what} safely...[/]")
        interrupted.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    except ProvisionError:
        if interrupted:
            raise Aborted(f"{what} interrupted; cluster {cluster} may be partly created: "
                          f"`stix destroy {cluster}` removes it") from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise Aborted(f"{what} interrupted after it finished; cluster {cluster} is as shown by `stix status`")


def _engine_call(fn, what: str, cluster: str = "CLUSTER"):
    from pulumi import automation as auto

    try:
        return fn()
    except auto.CommandError as exc:
        lines = _engine_lines(exc)
        if any("currently locked" in line for line in lines):
            holder = next((line.split(": created by ", 1)[1] for line in lines if ": created by " in line), "unknown")
            raise StackLocked(
                f"engine refused {what}: the cluster's stack is locked by another update (created by {holder}); "
                f"nothing was changed. Wait for it to finish; if that process died, `stix unlock {cluster}` frees it"
            ) from None
        raise ProvisionError(f"engine failed while {what}: {_engine_message(lines)}") from None


def _engine_lines(exc) -> list[str]:
    text = f"{getattr(exc, 'stderr', '')}\n{getattr(exc, 'stdout', '')}\n{exc}"
    return [line.strip() for line in text.splitlines()]


def _engine_message(lines: list[str]) -> str:
    errors = [line.split("error:", 1)[1].strip() for line in lines
              if "error:" in line and "update failed" not in line and "preview failed" not in line]
    chosen = next((e for e in errors if e), None) or next((line for line in lines if line), "unknown error")
    return chosen[:500]
