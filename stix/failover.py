"""Failover at launch: the order a new cluster's candidates are tried in, and the loop that tries them.

A cloud that refuses capacity or quota (its Cloud.capacity_errors) makes the apply a CapacityError;
the loop then destroys what that attempt made (the same stack) and applies the next candidate, until
one lands or every one has refused (NoCapacity, nothing left behind), or, with --retry-until-up,
cycles again after a backoff.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from stix.errors import CapacityError, NoCapacity, PrerequisiteMissing, UsageError
from stix.optimizer import Candidate, Placement
from stix.session import Session
from stix.spec import ClusterSpec
from stix.stages import Relaunch, Target, stack_at

BACKOFF_ENV = "STIX_RETRY_BACKOFF"
DEFAULT_BACKOFF_S = 30.0
MAX_BACKOFF_S = 600.0
EAGER_NEXT_REGION = "EAGER_NEXT_REGION"
FAILOVER = "FAILOVER"
PREVIEW_LIMIT = 5


# --- the order ---------------------------------------------------------------------------------


def failover_order(placement: Placement, relaunch: Optional[Relaunch] = None) -> list[Candidate]:
    """Every candidate, in the order a launch tries them: the chosen one first (with `relaunch`, the
    recovery strategy's first), then, after each, the untried ones nearest it: other zones of the same
    region, then the same cloud's other regions, then other clouds, each in the optimizer's rank, an
    `ordered` preference's group before the next. EAGER_NEXT_REGION puts the region the job last ran in
    after everything else; FAILOVER tries its zone first, then its region."""
    ranked = list(placement.candidates)
    if not ranked:
        return []
    rank = {id(c): i for i, c in enumerate(ranked)}
    chosen = next((c for c in ranked if c is placement.chosen), None)
    if chosen is None:
        chosen = next((c for c in ranked if c == placement.chosen), ranked[0])

    def recovery(c: Candidate) -> int:
        if relaunch is None:
            return 0
        same_region = (c.cloud, c.region) == (relaunch.cloud, relaunch.region)
        if relaunch.strategy.upper() == FAILOVER:
            return 0 if same_region and relaunch.zone and c.zone == relaunch.zone else 1 if same_region else 2
        return 1 if same_region else 0

    if relaunch is None:
        first = chosen
    else:
        first = min(ranked, key=lambda c: (recovery(c), c.group, rank[id(c)]))
    order = [first]
    rest = [c for c in ranked if c is not first]
    while rest:
        anchor = order[-1]
        following = min(rest, key=lambda c: (recovery(c), c.group, _distance(anchor, c), rank[id(c)]))
        order.append(following)
        rest.remove(following)
    return order


def _distance(anchor: Candidate, c: Candidate) -> int:
    if c.cloud != anchor.cloud:
        return 2
    return 0 if c.region == anchor.region else 1


def place_label(candidate: Candidate, detailed: bool = False) -> str:
    where = f"{candidate.cloud}/{candidate.zone or candidate.region}"
    if detailed:
        what = candidate.instance_type + (f" {candidate.accelerators}" if candidate.accelerator else "")
        return f"{where} {what}" + (" [spot]" if candidate.spot else "")
    return where


def labels(order: list[Candidate]) -> list[str]:
    """One label per candidate; instance types are named only where places repeat (any_of, ordered)."""
    detailed = len({place_label(c) for c in order}) < len(order)
    return [place_label(c, detailed) for c in order]


def order_line(order: list[Candidate], limit: int = PREVIEW_LIMIT) -> Optional[str]:
    """The candidates after the chosen one, as `stix preview` lists them; None when there are none."""
    named = labels(order)[1:]
    if not named:
        return None
    more = f" (+{len(named) - limit} more)" if len(named) > limit else ""
    return f"If capacity is refused, failover tries: {', '.join(named[:limit])}{more}"


# --- the loop --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Landed:
    stack: Any
    spec: ClusterSpec
    outputs: dict[str, Any]


Apply = Callable[[Any, ClusterSpec, Any], dict[str, Any]]
"""(stack, spec, pin) -> stack outputs: record, pin and apply one candidate (flows.up owns what that means)."""


def apply_in_order(session: Session, target: Target, order: list[Candidate], opened: tuple[Any, ClusterSpec, Any],
                   apply: Apply, pinned: Optional[bytes] = None,
                   check: Optional[Callable[[Any], None]] = None) -> Landed:
    """Apply the first candidate (opened: its stack, spec and pin, already previewed and confirmed); on a
    capacity refusal destroy what it made and apply the next, without asking again. All refused: NoCapacity,
    with the stack, the cluster's index entry, keys and node directories gone, and the project's stack file
    as it was before the launch opened the stack (`pinned`: its bytes then, None: there was none);
    with request.retry_until_up, round again after a backoff (doubling, capped at 10 minutes). `check` sees each
    stack opened here before it is applied (the policy packs' preview); what it raises ends the launch, and
    leaves nothing behind, as NoCapacity does."""
    pin = opened[2]
    names = labels(order)
    backoff = _initial_backoff()
    round_ = 1
    while True:
        tried: list[str] = []
        for index, candidate in enumerate(order):
            if index == 0 and round_ == 1:
                stack, spec, attempt_pin = opened
            else:
                try:
                    stack, spec, attempt_pin = stack_at(session, target, candidate, pin)
                except (UsageError, PrerequisiteMissing) as exc:  # the task cannot run on that cloud
                    tried.append(f"{names[index]} (skipped: {exc})")
                    session.note(f"Skipping {names[index]}: {exc}", "warning")
                    continue
                if check is not None:
                    try:
                        check(stack)
                    except Exception:  # the attempts before were torn down; this one is refused before it is made
                        forget(session, target, opened[0], pinned)
                        raise
            try:
                return Landed(stack, spec, apply(stack, spec, attempt_pin))
            except CapacityError as exc:
                tried.append(f"{names[index]} ({exc})")
                then = (f"trying {names[index + 1]} ({index + 2} of {len(order)})" if index + 1 < len(order)
                        else "no candidates left")
                session.note(f"{names[index]} refused capacity ({exc}); tearing down what was made, {then}", "warning")
                _tear_down(session, stack, target.cluster)
        if not target.request.retry_until_up:
            forget(session, target, opened[0], pinned)
            raise NoCapacity(f"no capacity for cluster {target.cluster}: tried {'; '.join(tried)}; nothing was left behind")
        session.note(f"Round {round_}: every candidate refused capacity ({len(order)} tried); retrying in "
                     f"{backoff:g}s (--retry-until-up)", "warning")
        time.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_S)
        round_ += 1


def _initial_backoff() -> float:
    text = os.environ.get(BACKOFF_ENV, "").strip()
    if not text:
        return DEFAULT_BACKOFF_S
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{BACKOFF_ENV}={text!r}: expected seconds (a number)") from None
    if not value > 0:
        raise UsageError(f"{BACKOFF_ENV}={text!r}: expected a positive number of seconds")
    return min(value, MAX_BACKOFF_S)


def _tear_down(session: Session, stack: Any, cluster: str) -> None:
    """Destroy what a refused attempt made, through the same stack, so the next starts from nothing."""
    from stix.engine.calls import engine_call, interrupts_deferred, progress

    with interrupts_deferred(session.events, cluster, "teardown"):
        engine_call(lambda: stack.destroy(on_event=progress(session.events)), "tearing down a refused attempt",
                    cluster)


def forget(session: Session, target: Target, stack: Any, pinned: Optional[bytes]) -> None:
    """A new cluster that landed nowhere leaves nothing: its stack (every candidate's, one workspace), index
    entry, keys and directories go, and the project's pin file is as it was before this launch."""
    from stix import ssh_config
    from stix.engine.calls import engine_call
    from stix.lifecycle import sweep_local

    stack_file = target.stack_file
    engine_call(lambda: stack.workspace.remove_stack(target.cluster), "removing the stack")
    if stack_file is not None:
        if pinned is None:
            stack_file.unlink(missing_ok=True)
        else:
            from stix.atomic import write_atomic

            write_atomic(stack_file, pinned)
    sweep_local(session.home, target.cluster)
    ssh_config.remove_cluster_config(session.home, target.cluster)
    session.index.remove(target.cluster)
