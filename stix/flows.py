"""The flows behind launching and running work, shared by the CLI and the Python SDK.

Each flow takes a typed request and returns a typed result; while it works it reports events
(stix.events) to the session and prints nothing: the CLI and the SDK render. The stages
(stix.stages) run once each, downward: the task is already loaded; plan -> compile -> apply ->
ClusterInfo -> hooks and the job queue. A cluster's later life is stix.lifecycle.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from stix import index as idx
from stix import cluster_costs, cluster_jobs, containers
from stix.admin_policy import note_changes
from stix.compile import check_runnable, resolve_image
from stix.engine.calls import engine_call
from stix.engine.outputs import outputs_of
from stix.errors import CapacityError, NodeCommandFailed, SetupFailed, StackLocked, UsageError
from stix.events import JobSubmitted
from stix.failover import apply_in_order, failover_order, forget, order_line
from stix.lifecycle import destroy, drift, refresh, start, stop, unlock
from stix.models.task import Task
from stix.models.values import Autostop
from stix.naming import validate_cluster_name
from stix.session import Session, confirm
from stix.spec import ClusterInfo, ClusterSpec
from stix.storage import launch as storage
from stix.storage.plan import plan_mounts
from stix.timings import step
from stix.stages import (LaunchRequest, Relaunch, Target, apply_stack, cluster_info, launch_plan, load_spec, policies_for,
                         preview_stack, refuse_violations, save_spec, sized, spec_at, stack_at, target_of)

__all__ = ["ExecBatch", "ExecRequest", "JobResult", "LaunchRequest", "Relaunch", "Session", "destroy", "drift", "exec_", "preview", "refresh",
           "set_autostop", "start", "stop", "unlock", "up"]


AUTODOWN_IDLE_MINUTES = 0.25
"""`--down` without `-i`: SkyPilot sets 0; the node agent counts a 0 as idle at its next tick, even while a
session is still reading the job's logs, so a few seconds' grace after the last job and SSH session."""


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
class ExecBatch:
    """Several tasks for one up cluster, queued together: one round trip to its agent submits them all."""
    cluster: str
    tasks: tuple[Task, ...]
    detach: bool = False


@dataclass(frozen=True)
class _Job:
    """A task ready to submit: policed and checked, with the nodes it runs on and what it holds on each."""
    task: Task
    info: ClusterInfo
    demand: tuple[float, float]
    context: Any


def preview(session: Session, request: LaunchRequest):
    """Plan without changing anything; returns a PreviewReport."""
    from stix.report import PreviewReport

    target = target_of(request, dryrun=True)
    note_changes(session, target.admin_changes)
    stack_file = target.stack_file
    new_cluster = session.index.get(target.cluster) is None and not (stack_file and stack_file.exists())
    placement, pin = launch_plan(session, target)
    order = failover_order(placement)
    line = order_line(order)
    if line:
        session.note(line)
    if request.clouds is not None:
        from stix.placement import without_credentials

        if without_credentials([order[0].cloud]):  # no engine preview there: the program under mocks instead
            from stix.planned import planned_preview

            return planned_preview(session, target, order)
    stack, spec, _ = stack_at(session, target, order[0], pin)
    try:
        changes = preview_stack(session, stack, target.cluster, policies_for(session, target))
        for line in storage.bucket_notes(session.home, spec, plan_mounts(target.task, spec.cloud)):
            session.note(line)
    finally:
        if new_cluster:  # the stack existed only to be previewed: leave no trace of it
            _forget_stack(session, target, stack)
    saved = load_spec(session.home, target.cluster)
    return PreviewReport(target.cluster, changes, saved.hourly_cost if saved else None, spec.hourly_cost,
                         failover=order[1:], admin_changes=list(target.admin_changes))


def _forget_stack(session: Session, target: Target, stack) -> None:
    """Remove the stack of a cluster that was only previewed, its stack file in a project and its packs' config."""
    import shutil

    engine_call(lambda: stack.workspace.remove_stack(target.cluster), "removing the previewed stack")
    if target.stack_file is not None:
        target.stack_file.unlink(missing_ok=True)
    shutil.rmtree(session.home.policy_dir(target.cluster), ignore_errors=True)


def up(session: Session, request: LaunchRequest) -> JobResult:
    """Preview, confirm, apply; then sync, install the agent, arm autostop, run setup, and run the task as a job."""
    from stix.components.base import cloud_for
    from stix.ssh.runner import ClusterConnections

    with step("target (config, admin policy)"):
        target = target_of(request)
    request = target.request  # as the admin policy returned it (autostop, down)
    note_changes(session, target.admin_changes)
    missing = target.task.required_unset()
    if missing:
        raise UsageError(f"the task needs values at up: {', '.join(missing)}")
    if target.task.resources.job_recovery or target.task.resources.spot_recovery:
        session.note("resources.job_recovery is for managed jobs (`stix jobs launch` recovers them); "
                     "`stix up` runs the task once", "warning")
    with step("plan"):
        placement, pin = launch_plan(session, target)
    order = failover_order(placement, request.relaunch)
    fast = _unchanged(session, target, order[0], pin) if request.fast else None
    if fast is not None and fast.saved_mounts is not None:
        return _up_fast(session, request, target, fast.spec, fast.saved_mounts)
    policies = policies_for(session, target)  # before anything is made: a bad policy.packs entry leaves nothing
    stack_file = target.stack_file
    pinned = stack_file.read_bytes() if stack_file is not None and stack_file.exists() else None
    new_cluster = session.index.get(target.cluster) is None and pinned is None
    with step("compile, open the stack"):
        stack, spec, pin = stack_at(session, target, order[0], pin,
                                   compiled=(fast.spec, fast.pin) if fast is not None else None)
    try:
        with step("preview"):
            changes = preview_stack(session, stack, target.cluster, policies)
        # Refused before anything is created (buckets included).
        refuse_violations(changes, target.cluster)
    except Exception:  # refused, or a pack that cannot run: a new cluster leaves nothing (stack, keys, record)
        if new_cluster:
            forget(session, target, stack, pinned)
        raise
    mounts = fast.mounts if fast is not None else plan_mounts(target.task, spec.cloud)
    notes = storage.bucket_notes(session.home, spec, mounts)
    for line in notes:
        session.note(line)
    project_dir = str(target.project.root) if target.project else None
    task_file = str(request.task_path.absolute()) if request.task_path else None

    def apply(stack, spec: ClusterSpec, pin) -> dict:
        def applied() -> None:
            record(spec, idx.UP)
            save_spec(session.home, spec)

        record(spec, idx.INIT)
        _write_pin(session, target, pin, spec)
        return apply_stack(session, stack, target.cluster, on_applied=applied,
                           capacity_errors=cloud_for(spec.cloud).capacity_errors, policies=policies)

    def record(spec: ClusterSpec, status: str) -> None:
        session.index.upsert(target.cluster, spec.cloud, spec.num_nodes, status, task_file, project_dir,
                             cluster_costs.resources_str(spec), spec.hourly_cost)
        if status == idx.UP:
            cluster_costs.record_launch(session.index, spec)

    if changes.has_changes or any(note.startswith(storage.CREATES) for note in notes):
        confirm(session, f"Apply these changes to cluster {target.cluster}?", request.yes)
    storage.make_buckets(session, spec, mounts)  # persistent buckets, in stacks of their own, before the cluster's
    if changes.has_changes:
        # Only a cluster that has nothing yet (or one a managed job's recovery relaunches) moves elsewhere:
        # tearing down an existing cluster's resources to try another zone is not failover.
        fresh = all(change.op == "create" for change in changes.changes)
        with _undone_if_locked(session, target):
            if fresh or request.relaunch is not None:
                # failover's next candidates (elsewhere, perhaps costlier) are checked before they are made
                landed = apply_in_order(session, target, order, (stack, spec, pin), apply, pinned, check=lambda
                                        next_: refuse_violations(preview_stack(session, next_, target.cluster, policies),
                                                                 target.cluster))
                stack, spec, outputs = landed.stack, landed.spec, landed.outputs
            else:
                outputs = _apply_in_place(target.cluster, lambda: apply(stack, spec, pin), spec)
    else:
        _write_pin(session, target, pin, spec)
        with step("outputs"):
            outputs = engine_call(lambda: outputs_of(stack), "reading stack outputs")
        record(spec, idx.UP)
        save_spec(session.home, spec)
    task = target.task
    if spec.cloud != order[0].cloud:  # failover moved it to another cloud, and so perhaps to another store
        mounts = plan_mounts(task, spec.cloud)
        storage.make_buckets(session, spec, mounts)
    remotes = storage.remotes_for(session.home, mounts)
    storage.upload_sources(session, mounts, remotes)
    with step("cluster info (saved, ssh config)"):
        info = cluster_info(session, spec, outputs)
    with step("connect"):
        conns = ClusterConnections(info)
    with conns:
        with step("sized"):
            info = sized(session, conns, spec)
        return _sync_and_run(session, request, target, conns, info, mounts, remotes, spec.region)


def _sync_and_run(session: Session, request: LaunchRequest, target: Target, conns, info: ClusterInfo, mounts,
                  remotes, region: str, fast: bool = False) -> JobResult:
    """After apply (or, with --fast, instead of it): start the task's container, sync, attach storage, install the
    agent (unless --fast: it runs), arm autostop, then setup (unless --fast or --no-setup) and the run, as one job."""
    from stix.git_workdir import task_values
    from stix.hooks import JobContext, new_task_id, sync_file_mounts, sync_workdir

    task = target.task
    image = containers.node_container(resolve_image(task.resources.image_id, region), info.cloud)
    containers.prepare(conns, image, target.cluster)  # before anything is sent or runs: refuses a node without docker
    demand = cluster_jobs.job_demand(task, info.head)
    context = JobContext(request.task_id or new_task_id(target.cluster), demand[1])
    _report_sync(session, sync_workdir(conns, task.workdir, task_values(task), session.note))
    _report_sync(session, sync_file_mounts(conns, task.file_mounts), "file_mounts")
    storage.attach_nodes(session, conns, mounts, remotes)
    if not fast:
        storage.save_mounts(session.home, target.cluster, mounts)
        cluster_jobs.install_agent(conns)
    _arm_autostop(session, conns.connections[0], target.cluster, task, request.idle_minutes, request.down,
                  target.config.values.autostop)
    if task.setup and request.no_setup:
        session.note("Skipping setup (--no-setup).")
    setup = bool(task.setup) and not fast and not request.no_setup
    result = JobResult(target.cluster, None)
    if task.run or setup:
        result = _run_job(session, conns.connections[0], info, task, demand, context, request.detach_run, setup)
    if not task.run:
        session.note(f"Cluster {target.cluster} is up.", "success")
    return result


@dataclass(frozen=True)
class _FastCheck:
    """What --fast's check compiled at the first candidate, so that `up` going the long way does not compile,
    plan or read it again."""

    spec: ClusterSpec
    pin: Any
    mounts: tuple
    """The task's storage mounts, planned for spec.cloud."""
    saved_mounts: Optional[tuple]
    """The mounts the cluster's last `up` attached, when the cluster would not change (the fast way); else None."""


def _unchanged(session: Session, target: Target, candidate, pin) -> Optional[_FastCheck]:
    """--fast: whether the cluster is UP and the task compiles to its saved spec with the same storage mounts (so
    neither its stack nor its buckets would change): saved_mounts is set then. None: the cluster is not UP, and
    nothing was compiled."""
    record = session.index.get(target.cluster)
    saved = load_spec(session.home, target.cluster) if record is not None and record.status == idx.UP else None
    if saved is None:
        return None
    spec, pin = spec_at(session, target, candidate, pin)
    mounts = plan_mounts(target.task, spec.cloud)
    if spec != saved:
        return _FastCheck(spec, pin, mounts, None)
    attached = storage.load_mounts(session.home, target.cluster)
    return _FastCheck(spec, pin, mounts, attached if attached == mounts else None)


def _up_fast(session: Session, request: LaunchRequest, target: Target, spec: ClusterSpec, mounts: tuple) -> JobResult:
    """An UP cluster whose infrastructure would not change: no engine call and no setup; sync and run."""
    from stix.ssh.runner import ClusterConnections

    session.note(f"Cluster {target.cluster} is UP and unchanged: skipping the preview and setup (--fast).")
    remotes = storage.remotes_for(session.home, mounts)
    storage.upload_sources(session, mounts, remotes)
    with ClusterConnections(cluster_jobs.load_info(session.home, target.cluster)) as conns:
        return _sync_and_run(session, request, target, conns, conns.info, mounts, remotes, spec.region, fast=True)


def _apply_in_place(cluster: str, apply, spec: ClusterSpec) -> dict:
    """An existing cluster is not moved by failover: its resources stay, and the refusal says how to move it."""
    try:
        return apply()
    except CapacityError as exc:
        raise CapacityError(f"{spec.cloud}/{spec.zone or spec.region} refused capacity for cluster {cluster} ({exc}); "
                            f"an existing cluster is not moved: `stix destroy {cluster}`, then `stix up`, places it "
                            f"elsewhere") from None


def exec_(session: Session, request: ExecRequest) -> JobResult:
    """Submit a task to an up cluster: sync the workdir, queue the job, follow it unless detached."""
    validate_cluster_name(request.cluster)
    task = _policed_exec(session, request)
    job = _exec_job(request.cluster, task, cluster_jobs.load_info(session.home, request.cluster))
    with _job_connection(session, job.info, job.task) as head:
        return _run_job(session, head, job.info, job.task, job.demand, job.context, request.detach)


def exec_many(session: Session, batch: ExecBatch) -> list[JobResult]:
    """Submit several tasks to an up cluster in one round trip (all queued, in order, or none); unless detached,
    follow each job in turn. A failed job does not stop the others: its JobResult's exit_code says so."""
    from stix.hooks import job_ranks

    validate_cluster_name(batch.cluster)
    if not batch.tasks:
        raise UsageError("nothing to run (no tasks)")
    tasks = _policed_batch(session, batch)
    info = cluster_jobs.load_info(session.home, batch.cluster)
    jobs = [_exec_job(batch.cluster, task, info) for task in tasks]
    workdirs: list = []
    for job in jobs:
        if job.task.workdir and job.task.workdir not in workdirs:
            workdirs.append(job.task.workdir)
    if len(workdirs) > 1:
        raise UsageError(f"the tasks have {len(workdirs)} different workdirs, and every job's lands in the same "
                         f"place on the nodes: exec them one at a time, or give them one workdir")
    widest = max(jobs, key=lambda job: (bool(job.task.workdir), len(job.info.nodes)))
    with _job_connection(session, info.first(max(len(job.info.nodes) for job in jobs)), widest.task) as head:
        specs = [cluster_jobs.job_spec(job.task.name, _run_of(job.task), job_ranks(job.info, job.task, job.context),
                                       *job.demand) for job in jobs]
        ids = cluster_jobs.submit_many(head, specs)
        listed = ", ".join(map(str, ids))
        if batch.detach:
            session.note(f"Jobs {listed} submitted to {batch.cluster}; `stix logs {batch.cluster} ID` follows one.")
            return [JobResult(batch.cluster, job_id) for job_id in ids]
        session.note(f"Jobs {listed} submitted to {batch.cluster}; following each in turn.")
        results = []
        for job, job_id in zip(jobs, ids):
            code, ended = _follow_job(session, head, job_id, batch.cluster, len(job.info.nodes))
            if code != 0:
                session.note(f"Job {job_id} on {batch.cluster} {ended}", "warning")
            results.append(JobResult(batch.cluster, job_id, code))
        return results


def _run_of(task: Task) -> str:
    assert task.run is not None  # _exec_job refuses a task without one
    return task.run


def _exec_job(cluster: str, task: Task, info: ClusterInfo) -> _Job:
    """The task (as the admin policy returned it) checked against the cluster (`info`), ready to submit."""
    from stix.git_workdir import check_task
    from stix.hooks import JobContext, new_task_id

    check_runnable(task, info.cloud)
    if task.num_nodes > len(info.nodes):
        raise UsageError(f"num_nodes {task.num_nodes} is more than cluster {cluster}'s {len(info.nodes)} nodes")
    if not task.run:
        raise UsageError("nothing to run (no `run`)")
    missing = task.required_unset()
    if missing:
        raise UsageError(f"the task needs values: {', '.join(missing)}")
    demand = cluster_jobs.job_demand(task, info.head)
    check_task(task)
    return _Job(task, info.first(task.num_nodes), demand, JobContext(new_task_id(cluster), demand[1]))


@contextmanager
def _job_connection(session: Session, info: ClusterInfo, task: Task) -> Iterator[cluster_jobs.HeadConnection]:
    """The connection jobs are submitted over. A task with a workdir syncs it first, over a connection to each of
    `info`'s nodes; with nothing to sync only the head is reached, over cluster_jobs.connect_head (reused)."""
    if not task.workdir:
        with cluster_jobs.connect_head(info, cluster_jobs.armed_autostop(session.index.get(info.cluster))) as head:
            yield head
        return
    from stix.git_workdir import task_values
    from stix.hooks import sync_workdir
    from stix.ssh.runner import ClusterConnections

    with ClusterConnections(info) as conns:
        _report_sync(session, sync_workdir(conns, task.workdir, task_values(task), session.note))
        yield conns.connections[0]


def _policed_exec(session: Session, request: ExecRequest) -> Task:
    """The task as the config's admin policy returns it (stix.admin_policy), before anything reaches the cluster;
    what it changed is noted. No request options: exec arms no autostop, so a policy is handed none to change
    (as for jobs and services), and every change it can make and that is printed is the task's, which is run."""
    from stix.admin_policy import police

    return police(session, request.task, None, None, request.cluster).task


def _policed_batch(session: Session, batch: ExecBatch) -> list[Task]:
    """_policed_exec for each task of a batch, the project found once (police finds it for every call, which
    costs a batch of hundreds more than its round trip)."""
    from stix.admin_policy import police
    from stix.project import find_project

    project = find_project()
    return [police(session, task, None, None, batch.cluster, project).task for task in batch.tasks]


def _report_sync(session: Session, sent: list[int], what: str = "Workdir") -> None:
    if sent:
        session.note(f"{what} synced: {sum(sent)} changed file(s) sent to {len(sent)} node(s).")


@contextmanager
def _undone_if_locked(session: Session, target: Target) -> Iterator[None]:
    """An `up` that finds another update holding the stack leaves the index and the pin as it found them."""
    record = session.index.get(target.cluster)
    stack_file = target.stack_file
    pinned = stack_file.read_bytes() if stack_file is not None and stack_file.exists() else None
    try:
        yield
    except StackLocked:
        session.index.restore(target.cluster, record)
        if stack_file is not None and pinned is not None:
            from stix.atomic import write_atomic

            write_atomic(stack_file, pinned)
        raise


def _write_pin(session: Session, target: Target, pin, spec: ClusterSpec) -> None:
    from stix.pin import write_pin

    path = target.stack_file
    if path is not None and pin is not None and write_pin(path, pin, spec):
        session.note(f"Pinned the placement in {_relative(path)} (commit it to review placement changes).")


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _run_job(session: Session, head: cluster_jobs.HeadConnection, info: ClusterInfo, task: Task,
             demand: tuple[float, float], context, detach: bool, setup: bool = False) -> JobResult:
    """Queue the task as a job holding `demand` (cpus, gpus per node), and follow it unless detached.

    With `setup`, the task's setup is the job's first phase (SETTING_UP) on the agent, so a client that goes away
    loses nothing. Its output is followed to its end even when detached (as `sky launch -d` waits for setup), and
    a failure raises SetupFailed (the job is FAILED_SETUP); a task without a run is then done (job_id None)."""
    from stix.hooks import job_ranks, setup_keys

    cpus, gpus = demand
    phases = {"setup": setup_keys(info, task)} if setup else {}  # a run alone: submitted as before
    job_id = cluster_jobs.submit(head, task.name, task.run, job_ranks(info, task, context), cpus, gpus, **phases)
    session.events(JobSubmitted(info.cluster, job_id, setup))
    if setup:
        session.note(f"Running setup on {len(info.nodes)} node(s) (job {job_id})", "heading")
        if cluster_jobs.follow(head, job_id, session.output, phase="setup") != 0:  # 0: past setup, not failed
            _check_set_up(cluster_jobs.job(head, job_id), job_id, info.cluster)
        if not task.run:
            return JobResult(info.cluster, None)
    if detach:
        session.note(f"Job {job_id} submitted to {info.cluster}; `stix logs {info.cluster} {job_id}` follows it.")
        return JobResult(info.cluster, job_id)
    code, ended = _follow_job(session, head, job_id, info.cluster, len(info.nodes), phase="run" if setup else None)
    if code != 0:
        raise NodeCommandFailed(f"job {job_id} on {info.cluster} {ended}", code)
    return JobResult(info.cluster, job_id)


def _follow_job(session: Session, head: cluster_jobs.HeadConnection, job_id: int, cluster: str, nodes: int,
                phase: Optional[str] = None) -> tuple[int, str]:
    """Print the job's heading and its output to its end; (its exit code, how it ended: status and detail).
    Success is noted here; what a failure means is the caller's."""
    session.note(f"Job {job_id} on {nodes} node(s)", "heading")
    cluster_jobs.follow(head, job_id, session.output, phase=phase)
    row = cluster_jobs.job(head, job_id)
    code = cluster_jobs.exit_code_of(row)
    if code == 0:
        session.note(f"Job {job_id} on {cluster} succeeded.", "success")
        return 0, "SUCCEEDED"
    detail = f": {row['detail']}" if row and row.get("detail") else ""
    return code, f"{row['status'] if row else 'vanished'}{detail}"


def _check_set_up(row: Optional[dict], job_id: int, cluster: str) -> None:
    """After following a job's setup: SetupFailed when it failed (the agent's detail names the nodes), and
    NodeCommandFailed when it was cancelled (or vanished) before its run."""
    from stix.agent.node_agent import CANCELLED, FAILED_SETUP

    status = row["status"] if row else None
    if status not in (FAILED_SETUP, CANCELLED, None):
        return  # past setup (a run that already failed is reported as the run's)
    detail = row.get("detail") if row else None
    if status == FAILED_SETUP:
        raise SetupFailed(detail or f"setup of job {job_id} on {cluster} failed", cluster_jobs.exit_code_of(row))
    raise NodeCommandFailed(f"job {job_id} on {cluster} {status or 'vanished'} during setup" + (f": {detail}" if detail else ""),
                            cluster_jobs.exit_code_of(row))


def task_autostop(task: Task, idle_minutes: Optional[float], down: bool, default: Optional[Autostop]) -> Optional[Autostop]:
    """The task's resources.autostop; else, when -i/--down do not say either, the config's `autostop:` (default)."""
    if task.resources.autostop is not None or idle_minutes is not None or down:
        return task.resources.autostop
    return default


def _arm_autostop(session: Session, head, cluster: str, task: Task, idle_minutes: Optional[float], down: bool,
                  default: Optional[Autostop] = None) -> None:
    """`-i/--down` on the command line win over resources.autostop, which wins over the config's autostop;
    none of them leaves the timer as it is. The task's autostop hook runs before the stop either way. --down
    alone is SkyPilot's autodown: torn down once idle (its jobs done, no SSH session), after a short grace."""
    setting = task_autostop(task, idle_minutes, down, default)
    hook = (setting.hook, setting.hook_timeout) if setting is not None and setting.enabled else (None, None)
    if idle_minutes is None and down and setting is None:
        idle_minutes = AUTODOWN_IDLE_MINUTES
    if idle_minutes is None and setting is not None:
        if not setting.enabled:
            return set_autostop(session, cluster, None, head=head)
        idle_minutes, down, wait_for = setting.idle_minutes, setting.down or down, setting.wait_for
        return set_autostop(session, cluster, idle_minutes, down, wait_for, head=head, hook=hook)
    if idle_minutes is not None:
        set_autostop(session, cluster, idle_minutes, down, head=head, hook=hook)


def set_autostop(session: Session, cluster: str, idle_minutes: Optional[float], down: bool = False,
                 wait_for: str = "jobs_and_ssh", head=None,
                 hook: tuple[Optional[str], Optional[int]] = (None, None)) -> None:
    if head is None:
        with cluster_jobs.head_connection(session.home, cluster) as own:
            return set_autostop(session, cluster, idle_minutes, down, wait_for, own, hook)
    cluster_jobs.set_autostop(head, idle_minutes, down, wait_for, *hook)
    if idle_minutes is not None and wait_for == "jobs_and_ssh":
        # A reused connection's master is an SSH session to the agent: one opened before this (by this command or
        # an earlier one, to persist longer) would hold the cluster up. The next command opens one that persists
        # under half the idle time.
        from stix.ssh.mux import MuxConnection

        cluster_jobs.release_connections(session.home, cluster, graceful=True)
        if isinstance(head, MuxConnection):
            head.cap_persist(idle_minutes)
    label = None if idle_minutes is None else f"{idle_minutes:g}m" + (" (down)" if down else "")
    session.index.set_autostop(cluster, label)
