"""An existing cluster's life after `up`: stop and start through the stack, destroy, drift, refresh, unlock."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Callable, Optional

from stix import index as idx
from stix import cluster_jobs, containers, ssh_config
from stix.drift import DriftReport
from stix.engine.calls import engine_call, interrupts_deferred, progress
from stix.engine.changes import ChangeSet
from stix.engine.events import listener
from stix.errors import ClusterNotFound, UsageError
from stix.events import PreviewReady
from stix.home import StixHome
from stix.naming import validate_cluster_name
from stix.project import Project
from stix.session import Session, confirm
from stix.spec import ClusterSpec
from stix.storage import launch as storage
from stix.stages import (apply_stack, cluster_info, cluster_project, known_spec, preview_stack, save_spec, sized)


def stop(session: Session, cluster: str, yes: bool = False) -> None:
    """Stop every node through the stack, keeping disks and files; `stix start` brings them back."""
    cluster_jobs.release_connections(session.home, cluster)  # while the node can still hear the goodbye
    _set_power(session, cluster, stopped=True, yes=yes)
    cluster_jobs.release_connections(session.home, cluster)  # any a concurrent command opened meanwhile
    session.note(f"Cluster {cluster} stopped; `stix start {cluster}` resumes it.", "success")


def start(session: Session, cluster: str, yes: bool = False) -> None:
    from stix.ssh.runner import ClusterConnections

    spec, outputs = _set_power(session, cluster, stopped=False, yes=yes)
    mounts = storage.load_mounts(session.home, cluster)
    with ClusterConnections(cluster_info(session, spec, outputs)) as conns:
        sized(session, conns, spec)
        storage.attach_nodes(session, conns, mounts, storage.remotes_for(session.home, mounts))
        cluster_jobs.install_agent(conns)
        containers.restart(conns)
        _agent_stop_time_from_head(session, cluster, conns.connections[0])  # last, and best-effort: accounting only
    session.note(f"Cluster {cluster} is up again.", "success")


def _set_power(session: Session, cluster: str, stopped: bool, yes: bool):
    from stix.components.base import Stoppable, cloud_for
    from stix.engine.program import make_program
    from stix.engine.workspace import open_stack

    spec = known_spec(session, cluster)
    if not issubclass(cloud_for(spec.cloud), Stoppable):
        raise UsageError(f"{spec.cloud} clusters cannot be stopped by stix yet; `stix destroy {cluster}` removes it")
    spec = dataclasses.replace(spec, stopped=stopped)
    project = cluster_project(session, cluster)
    stack = engine_call(lambda: open_stack(session.home, cluster, make_program(spec), project=project),
                        "opening the stack")
    changes = preview_stack(session, stack, cluster)
    if changes.has_changes:
        confirm(session, f"{'Stop' if stopped else 'Start'} cluster {cluster}?", yes)
        if project is not None:
            _pin_power(project, cluster, spec)
        outputs = apply_stack(session, stack, cluster, on_applied=lambda: _powered(session, spec))
    else:
        from stix.engine.outputs import outputs_of

        outputs = engine_call(lambda: outputs_of(stack), "reading stack outputs")
        _powered(session, spec)
    return spec, outputs


def _powered(session: Session, spec: ClusterSpec) -> None:
    save_spec(session.home, spec)
    session.index.set_status(spec.cluster, idx.STOPPED if spec.stopped else idx.UP)


def _pin_power(project: Project, cluster: str, spec: ClusterSpec) -> None:
    """A stopped cluster says so in its pin and stored spec, so plain `pulumi preview` does not plan to start it."""
    from stix.pin import read_pin, write_pin

    pin = read_pin(project.stack_file(cluster))
    if pin is not None:
        write_pin(project.stack_file(cluster), dataclasses.replace(pin, stopped=spec.stopped), spec)


def destroy(session: Session, cluster: str, yes: bool = False) -> None:
    validate_cluster_name(cluster)
    known = session.index.get(cluster) is not None or has_leftovers(session.home, cluster)  # before opening the stack
    info = cluster_jobs.saved_info(session.home, cluster)  # before the sweep removes it: which reused connections to end
    try:
        stack = _existing_stack(session, cluster)
    except ClusterNotFound:
        if not known:
            shutil.rmtree(session.home.workspaces_dir / cluster, ignore_errors=True)  # opening the stack made it
            raise ClusterNotFound(f"cluster {cluster!r} not found (stix status lists clusters)") from None
        stack = None
    if stack is not None:
        changes = ChangeSet()
        engine_call(lambda: stack.preview_destroy(on_event=listener(changes.add)), "previewing destroy")
        session.events(PreviewReady(cluster, changes))
        confirm(session, f"Destroy cluster {cluster}?", yes)
        if info is not None:
            cluster_jobs.release_connections(session.home, cluster, info)
        with interrupts_deferred(session.events, cluster, "destroy"):
            engine_call(lambda: stack.destroy(on_event=progress(session.events)), "destroying", cluster)
        engine_call(lambda: stack.workspace.remove_stack(cluster), "removing the stack")
    else:
        confirm(session, f"Remove leftovers of cluster {cluster}?", yes)
    from stix.pools import take_leftovers

    for line in take_leftovers(session.home.cluster_dir(cluster)):  # pool hosts destroy could not reach
        session.note(line, "warning")
    if info is not None:
        cluster_jobs.release_connections(session.home, cluster, info)
    sweep_local(session.home, cluster)
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
    confirm(session, f"Release the lock on cluster {cluster}'s stack? Only do this if the update holding it died.",
             yes)
    engine_call(lambda: stack.cancel(), "cancelling the update")
    session.note(f"Cluster {cluster}'s stack is unlocked; `stix drift {cluster}` shows what the dead update "
                 f"left, `stix up` or `stix destroy` settles it.")


def drift(session: Session, cluster: str) -> DriftReport:
    """What changed behind stix's back, without changing state or resources (a refresh preview)."""
    stack = _existing_stack(session, cluster)
    report = DriftReport(cluster)
    engine_call(lambda: stack.preview_refresh(on_event=listener(report.add)), "checking for drift")
    session.index.record_drift(cluster, len(report.resources))
    return report


def refresh(session: Session, cluster: str) -> DriftReport:
    """Reconcile state with reality (pulumi refresh) and report what drifted."""
    stack = _existing_stack(session, cluster)
    report = DriftReport(cluster)
    engine_call(lambda: stack.refresh(on_event=listener(report.add)), "refreshing", cluster)
    session.index.record_drift(cluster, len(report.resources))
    record = session.index.get(cluster)
    if record is not None:
        status = _status_after(record, report)
        autostopped = status == idx.STOPPED and record.status == idx.UP
        session.index.set_status(cluster, status, at=agent_stop_time(session.home, cluster) if autostopped else None)
        if autostopped:
            session.index.set_autostop(cluster, None)  # the agent's timer fired, and it is spent
        if _every_node_gone(record, report):  # an autodown (or a teardown behind stix's back): billing ended
            session.index.end_life(cluster, agent_stop_time(session.home, cluster))
    return report


def _every_node_gone(record: idx.ClusterRecord, report: DriftReport) -> bool:
    gone = [r for r in report.resources if r.op == "delete"]
    return len(gone) == len(report.resources) >= record.num_nodes > 0


def agent_stop_time(home: StixHome, cluster: str) -> Optional[float]:
    """When the node agent's autostop fired, from the file it writes on the head, where this machine can read the
    head's disk while it is stopped (a cloud whose nodes are processes here). Elsewhere None: the stop counts from
    when refresh noticed it, and `start` moves it back once the head can be asked (_agent_stop_time_from_head)."""
    from stix.agent.node_agent import REMOTE_DIR, STOPPED_AT_FILE
    from stix.components.base import cloud_for

    info = cluster_jobs.saved_info(home, cluster)
    if info is None or not info.nodes or not cloud_for(info.cloud).nodes_are_processes:
        return None
    head = Path(info.head.home)
    for path in (head / REMOTE_DIR / STOPPED_AT_FILE, head.parent.parent.parent / STOPPED_AT_FILE):
        if path.exists():  # the second: an autodown removed the head's home
            return _stop_time(path.read_text)
    return None


def _agent_stop_time_from_head(session: Session, cluster: str, head) -> None:
    """After a start: the head's record of an autostop (if any) moves the recorded stop back to it; then it goes,
    so a later stop is not taken for it. Only the cost report's hours depend on it, so a failure is a warning:
    the cluster is up either way."""
    import shlex

    from stix.agent.node_agent import REMOTE_DIR, STOPPED_AT_FILE

    path = shlex.quote(f"{head.node.home}/{REMOTE_DIR}/{STOPPED_AT_FILE}")
    lines: list[str] = []
    try:
        if head.run(f"cat {path} 2>/dev/null && rm -f {path}", lines.append, timeout=30) == 0:
            at = _stop_time(lambda: "".join(lines))
            if at is not None:
                session.index.correct_stop(cluster, at)
    except Exception as exc:
        session.note(f"could not read when the agent stopped {cluster} ({type(exc).__name__}: {exc}); "
                     "the cost report counts the stop from when stix noticed it", "warning")


def _stop_time(read: Callable[[], str]) -> Optional[float]:
    try:
        return float(read().strip())
    except (OSError, ValueError):
        return None


def _status_after(record: idx.ClusterRecord, report: DriftReport) -> str:
    """UP or STOPPED as recorded when nothing drifted; STOPPED when every node stopped by itself
    (autostop); DEGRADED for anything else."""
    if not report.drifted:
        return record.status if record.status in (idx.UP, idx.STOPPED) else idx.UP
    stopped = [r for r in report.resources if r.op == "update" and ("state", "running", "stopped") in r.properties]
    if len(stopped) == len(report.resources) == record.num_nodes:
        return idx.STOPPED
    return idx.DEGRADED


def leftover_paths(home: StixHome, cluster: str) -> tuple[Path, ...]:
    """What a cluster keeps on this machine besides its index record and stack: its directory, its key and its
    Pulumi workspace. An `up` that failed early (after the key, before apply) leaves only some of them;
    sweep_local removes them all."""
    return home.cluster_dir(cluster), home.key_path(cluster).parent, home.workspaces_dir / cluster


def has_leftovers(home: StixHome, cluster: str) -> bool:
    """Whether `destroy` has something of the cluster to remove on this machine, even with no index record."""
    return any(path.exists() for path in leftover_paths(home, cluster))


def sweep_local(home: StixHome, cluster: str) -> None:
    """Remove node directories (and their processes) that state no longer records, and the cluster's use of
    buckets (both `destroy` and a launch that landed nowhere end here).

    A node whose create was interrupted can exist without a state entry; every
    local resource lives under the cluster's directory, so this finds them all.
    """
    from stix.components.local import fuse, sshd
    from stix.storage.registry import registry_of

    cluster_dir, *rest = leftover_paths(home, cluster)
    fuse.unmount_all(cluster_dir)  # before rmtree, which would walk into a live mount
    sshd.kill_all(sshd.processes_under(cluster_dir))
    shutil.rmtree(cluster_dir, ignore_errors=True)
    registry_of(home).release(cluster)  # it uses no bucket now; its non-persistent ones went with its stack
    for path in rest:
        shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(home.policy_dir(cluster), ignore_errors=True)  # not a leftover: a preview writes it too
