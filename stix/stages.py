"""The stages of a launch, each once and downward: plan (placement, through the cluster's pin in a
project) -> compile (spec) -> open the stack -> preview -> apply; and the record of what apply made."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional

from stix import cluster_jobs, ssh_config
from stix.index import UP
from stix.compile import check_prerequisites, check_runnable, compile_spec
from stix.config import EffectiveConfig
from stix.engine.calls import engine_call, interrupts_deferred, progress
from stix.engine.changes import ChangeSet
from stix.engine import outputs as stack_outputs
from stix.engine.events import listener
from stix.errors import PolicyViolations, ProvisionError, UsageError
from stix.events import PlacementChosen, PreviewReady
from stix.home import StixHome
from stix.models.task import Task
from stix.naming import default_cluster_name, validate_cluster_name
from stix.optimizer import Candidate, Placement
from stix.policy.packs import PlanFacts, PolicyRun, pack_failure, policy_run
from stix.policy.violations import mandatory, violation_of
from stix.project import Project, config_for, find_project, load_project
from stix.session import Session
from stix.storage.plan import plan_mounts
from stix.spec import ClusterInfo, ClusterSpec
from stix.timings import timed


@dataclass(frozen=True)
class Relaunch:
    """Where a managed job's last attempt ran, and how its recovery orders the candidates (job_recovery.strategy):
    EAGER_NEXT_REGION tries other regions first, FAILOVER the same place first."""

    cloud: str
    region: str
    zone: str
    strategy: str = "EAGER_NEXT_REGION"


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
    detach_run: bool = False
    """Submit the task's run as a job and return without following it (JobResult.job_id names it)."""
    task_id: Optional[str] = None
    """SKYPILOT_TASK_ID for setup and run; default: a new one. A managed job keeps one across its attempts."""
    retry_until_up: bool = False
    """When every candidate refuses capacity, cycle through them again (with backoff) instead of failing."""
    clouds: Optional[tuple[str, ...]] = None
    """--clouds: plan over these clouds, or ('all',) every cloud in the catalogs; None: the enabled clouds."""
    no_setup: bool = False
    """--no-setup: skip the task's setup on an existing cluster."""
    fast: bool = False
    """--fast: an up cluster whose infrastructure would not change skips the preview and the setup."""
    relaunch: Optional[Relaunch] = None
    """Set by managed-job recovery: reorders the failover candidates around the place the job last ran."""

    @property
    def cluster_name(self) -> str:
        if self.cluster:
            return validate_cluster_name(self.cluster)
        return default_cluster_name(self.task.name, self.task_path or Path("task.yaml"))


@dataclass(frozen=True)
class Target:
    """A launch request resolved against this machine: the cluster's name and the project around it."""

    request: LaunchRequest
    cluster: str
    project: Optional[Project] = field(default=None)
    config: EffectiveConfig = field(default_factory=EffectiveConfig)
    """User, project and task config layered (stix.config), loaded once per request."""
    admin_changes: tuple[str, ...] = ()
    """What the config's admin policy changed in the request, one line each ('resources.use_spot: False -> True'),
    shown in the preview; the request already carries the changes."""

    @property
    def task(self) -> Task:
        return self.request.task

    @property
    def stack_file(self) -> Optional[Path]:
        return self.project.stack_file(self.cluster) if self.project else None


def target_of(request: LaunchRequest, dryrun: bool = False) -> Target:
    """The request resolved here, after the config's admin policy (stix.admin_policy) checked and perhaps rewrote
    it: the Target carries the task, config, idle_minutes and down it returned, and one line per change.
    dryrun: a preview (the policy's RequestOptions.dryrun)."""
    from stix.admin_policy import RequestOptions, apply_admin_policy

    project = find_project()
    config = config_for(request.task, request.task_path, project)
    cluster = request.cluster_name
    options = RequestOptions(cluster, request.idle_minutes, request.down, dryrun)
    applied = apply_admin_policy(config, project.root if project else None, request.task, options, cluster,
                                 request.task_path)
    # What the policy returned, when it changed the task or the options (a changed secret value is a change that
    # shows in no line of applied.changes, so the task is compared); the cluster keeps its name even if the policy
    # renamed the task.
    assert applied.options is not None
    if applied.task != request.task or applied.options != options:
        request = replace(request, task=applied.task, cluster=cluster, idle_minutes=applied.options.idle_minutes_to_autostop,
                          down=applied.options.down)
    return Target(request, cluster, project, applied.config, applied.changes)


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


def launch_plan(session: Session, target: Target) -> tuple[Placement, Any]:
    """The placement (chosen and every candidate, best first) and the pin it makes, reported."""
    from stix.git_workdir import check_task

    placement, pin = plan(target)
    check_task(target.task)  # a git workdir's URL and ref answer (network: kept out of the pure plan)
    if target.project is None and session.index.get(target.cluster) is not None:
        placement = _where_it_landed(session.home, target.cluster, placement)
    session.events(PlacementChosen(placement))
    return placement, pin


def _where_it_landed(home: StixHome, cluster: str, placement: Placement) -> Placement:
    """Outside a project an existing cluster stays where it is (failover may have put it in another zone than
    the optimizer's first) while that place still fits the task; in a project the pin says so."""
    saved = load_spec(home, cluster)
    if saved is None:
        return placement
    here = (saved.cloud, saved.region, saved.zone, saved.instance_type, saved.accelerator, saved.use_spot)
    found = next((c for c in placement.candidates if _place(c) == here), None)
    return Placement(found, placement.candidates) if found is not None else placement


def stack_at(session: Session, target: Target, candidate: Candidate, pin: Any = None,
             compiled: Optional[tuple[ClusterSpec, Any]] = None):
    """Compile the cluster at one candidate and open its stack with that spec; in a project, the pin follows
    the candidate (failover compiles one candidate at a time). compiled: the (spec, pin) spec_at already gave
    for this candidate (--fast's check), used as it is."""
    from stix.engine.program import make_program
    from stix.engine.workspace import open_stack

    spec, pin = compiled if compiled is not None else spec_at(session, target, candidate, pin)
    stack = engine_call(lambda: open_stack(session.home, target.cluster, make_program(spec), project=target.project),
                        "opening the stack")
    return stack, spec, pin


def spec_at(session: Session, target: Target, candidate: Candidate, pin: Any = None) -> tuple[ClusterSpec, Any]:
    """The cluster compiled at one candidate (no engine call), and the pin that goes with it."""
    from stix.inputs import cluster_inputs

    if target.project is not None and (pin is None or _place(pin.candidate()) != _place(candidate)):
        pin = _pin_for(target, candidate)
    check_runnable(target.task, candidate.cloud)
    mounts = plan_mounts(target.task, candidate.cloud)
    check_prerequisites(session.home, candidate.cloud, mounts)
    cidrs = pin.ssh_cidrs if pin is not None else ()
    inputs = cluster_inputs(session.home, target.cluster, candidate, target.task.num_nodes, cidrs)
    return compile_spec(target.task, target.cluster, candidate, inputs, mounts, target.config), pin


def plan(target: Target) -> tuple[Placement, Any]:
    """The optimizer's placement; in a project, the cluster's pinned one while it still fits the task."""
    from stix.placement import place

    check_runnable(target.task)
    placement = place(target.task, clouds=target.request.clouds, config=target.config)
    pin = None
    if target.project is not None:
        placement, pin = _pinned(target, placement)
    check_runnable(target.task, placement.chosen.cloud)
    plan_mounts(target.task, placement.chosen.cloud)  # a bad storage mount is refused before anything is made
    return placement, pin


def _pinned(target: Target, placement: Placement):
    from stix.pin import keep_pinned, read_pin

    assert target.project is not None and target.stack_file is not None
    candidate = keep_pinned(read_pin(target.stack_file), placement)
    return Placement(candidate, placement.candidates), _pin_for(target, candidate)


def _place(candidate: Candidate) -> tuple:
    return (candidate.cloud, candidate.region, candidate.zone, candidate.instance_type, candidate.accelerator,
            candidate.spot)


def _pin_for(target: Target, candidate: Candidate):
    from stix.compile import resolve_image
    from stix.components.base import cloud_for
    from stix.pin import Pin, task_reference

    assert target.project is not None
    cidrs: tuple[str, ...] = ()
    if cloud_for(candidate.cloud).ssh_rule:
        from stix.ssh_source import ssh_cidrs

        cidrs = tuple(ssh_cidrs())
    reference = task_reference(target.project.root, target.request.task_path) if target.request.task_path else "<sdk>"
    return Pin.of(reference, candidate, resolve_image(target.task.resources.image_id, candidate.region), cidrs)


def policies_for(session: Session, target: Target) -> PolicyRun:
    """The policy packs that check this target's plans, with their config (limits from stix's config files, and
    what the project's other clusters cost while up)."""
    project = str(target.project.root) if target.project else None
    others = sum(record.hourly_cost or 0.0 for record in session.index.all()
                 if record.name != target.cluster and record.project == project and record.status == UP)
    return policy_run(target.config, target.project.root if target.project else None,
                      session.home.policy_dir(target.cluster), PlanFacts(others))


def preview_stack(session: Session, stack, cluster: str, policies: Optional[PolicyRun] = None) -> ChangeSet:
    """The engine's preview, every policy pack run on it; a preview with mandatory violations is a result
    (ChangeSet.blocked), not an engine failure."""
    changes = ChangeSet()
    on_change = listener(changes.add)

    def on_event(event: Any) -> None:
        on_change(event)
        found = violation_of(event)
        if found is not None:
            changes.violations.append(found)

    args = policies.engine_args() if policies is not None else {}
    # Refresh first, so the plan starts from what really exists: a node that died is recreated by `up`.
    try:
        engine_call(lambda: stack.preview(on_event=on_event, refresh=True, **args), "previewing")
    except ProvisionError as exc:
        if not changes.blocked:  # the engine fails a preview its packs refused: that is the result, not an error
            raise pack_failure(exc, policies) from None
    session.events(PreviewReady(cluster, changes))
    return changes


def refuse_violations(changes: ChangeSet, cluster: str) -> None:
    blocking = mandatory(changes.violations)
    if blocking:
        raise PolicyViolations(f"{len(blocking)} mandatory policy violation(s) in the plan of cluster {cluster}; "
                               f"nothing was created", tuple(blocking))


@timed("apply")
def apply_stack(session: Session, stack, cluster: str, on_applied: Optional[Callable[[], None]] = None,
                capacity_errors: tuple[str, ...] = (), policies: Optional[PolicyRun] = None):
    """on_applied records what the apply made while interrupts are still deferred: a Ctrl-C or SIGTERM
    that arrives as the engine finishes stops stix afterwards, with the index already saying UP.
    capacity_errors: the placed cloud's patterns; a match raises CapacityError (stix.failover tries the next).
    policies: the packs the preview ran, run again by the engine on what it applies."""
    args = policies.engine_args() if policies is not None else {}
    with interrupts_deferred(session.events, cluster, "apply"):
        try:
            outputs = engine_call(lambda: stack_outputs.up(stack, on_event=progress(session.events), refresh=True, **args),
                                  "applying", cluster, capacity_errors)
        except ProvisionError as exc:
            raise pack_failure(exc, policies) from None
        if on_applied is not None:
            on_applied()
    return outputs


# --- what apply made ---------------------------------------------------------------------------


def cluster_info(session: Session, spec: ClusterSpec, outputs: dict[str, Any]) -> ClusterInfo:
    """The stack outputs read as ClusterInfo, recorded (before any connection, so `stix ssh` reaches a node
    that refuses stix) for the commands that later work without Pulumi."""
    values = {key: getattr(value, "value", value) for key, value in outputs.items()}
    info = ClusterInfo.from_dict(values, str(session.home.key_path(spec.cluster)))
    _record(session, info)
    return info


def sized(session: Session, conns: Any, spec: ClusterSpec) -> ClusterInfo:
    """The connected cluster with what its nodes have: from the placement, or, where the cloud has no
    catalog to say (SSH pools), asked of the head and recorded again."""
    from stix.components.base import cloud_for

    if cloud_for(spec.cloud).probes_capacity:
        conns.info = conns.info.with_capacity(_probe_cpus(conns.connections[0]))
        cluster_jobs.save_info(session.home, conns.info)  # the ssh config does not depend on capacity
    return conns.info


def _record(session: Session, info: ClusterInfo) -> None:
    cluster_jobs.save_info(session.home, info)
    ssh_config.write_cluster_config(session.home, info, note=lambda text: session.note(text, "warning"))


def spec_path(home: StixHome, cluster: str) -> Path:
    return home.cluster_dir(cluster) / "spec.json"


def save_spec(home: StixHome, spec: ClusterSpec) -> None:
    from stix.atomic import write_atomic

    write_atomic(spec_path(home, spec.cluster), spec.to_json())


def known_spec(session: Session, cluster: str) -> ClusterSpec:
    """An existing cluster's saved plan, for the commands that act on it without a task (stop, start, policy
    check); a one-line error when stix does not know the cluster or it has never been applied."""
    from stix.errors import ClusterNotFound

    validate_cluster_name(cluster)
    if session.index.get(cluster) is None:
        raise ClusterNotFound(f"cluster {cluster!r} not found (stix status lists clusters)")
    spec = load_spec(session.home, cluster)
    if spec is None:
        raise UsageError(f"cluster {cluster!r} has no saved plan; run `stix up` for it first")
    return spec


def load_spec(home: StixHome, cluster: str) -> Optional[ClusterSpec]:
    """The plan saved at the cluster's last apply; None when there is none."""
    path = spec_path(home, cluster)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read cluster {cluster}'s saved plan: {exc.strerror or exc}") from None
    try:
        return ClusterSpec.from_json(text)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise UsageError(f"{path}: cluster {cluster}'s saved plan is corrupt (truncated?); "
                         f"`stix up TASK -c {cluster}` rewrites it") from None


def _probe_cpus(conn: Any) -> float:
    """A pool machine is whatever it is: ask it."""
    out: list[str] = []
    if conn.run("nproc", out.append, timeout=30) != 0 or not out or not out[-1].strip().isdigit():
        return 1.0
    return float(out[-1].strip())
