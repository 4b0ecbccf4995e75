"""What a managed task does when its job on the cluster ends: a pure decision, SkyPilot's rules.

A lost node (preemption, a node that died) is recovered on a new cluster, as is an exit code the task
lists in recover_on_exit_codes; neither counts against max_restarts_on_errors. Any other failure of the
task's own code is restarted while its restarts are below max_restarts_on_errors (default 0), then fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from stix.models.task import Task

DEFAULT_STRATEGY = "EAGER_NEXT_REGION"

DONE = "done"
RECOVER = "recover"
"""Tear down, relaunch; recoveries + 1."""
RESTART = "restart"
"""Tear down, relaunch; restarts + 1."""
FAIL = "fail"


@dataclass(frozen=True)
class Policy:
    strategy: str = DEFAULT_STRATEGY
    max_restarts_on_errors: int = 0
    recover_on_exit_codes: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Ended:
    """How an attempt's job ended, as the controller saw it."""

    succeeded: bool
    healthy: bool
    """False when the cluster lost a node (the refresh found one stopped or gone) or could not be reached."""
    exit_code: Optional[int] = None
    """The job's exit code, when the agent reported one."""


def policy_of(task: Task) -> Policy:
    """job_recovery (or its legacy name spot_recovery): a strategy name or a mapping."""
    setting = task.resources.job_recovery or task.resources.spot_recovery
    if setting is None:
        return Policy()
    if isinstance(setting, str):
        return Policy(strategy=setting)
    codes = setting.recover_on_exit_codes
    listed = [codes] if isinstance(codes, int) else list(codes or ())
    return Policy(strategy=setting.strategy or DEFAULT_STRATEGY,
                  max_restarts_on_errors=setting.max_restarts_on_errors or 0,
                  recover_on_exit_codes=frozenset(listed))


def decide(ended: Ended, restarts: int, policy: Policy) -> str:
    """DONE, RECOVER, RESTART or FAIL for a task that has been restarted `restarts` times already."""
    if ended.succeeded:
        return DONE
    if not ended.healthy:
        return RECOVER
    if ended.exit_code is not None and ended.exit_code in policy.recover_on_exit_codes:
        return RECOVER
    if restarts < policy.max_restarts_on_errors:
        return RESTART
    return FAIL


def for_launch(task: Task) -> Task:
    """The task as its cluster runs it: job_recovery is the controller's to carry out, not the cluster's
    (a plain launch refuses it as not supported)."""
    resources = task.resources
    if resources.job_recovery is None and resources.spot_recovery is None:
        return task
    return task.model_copy(update={"resources": resources.model_copy(update={"job_recovery": None,
                                                                             "spot_recovery": None})})
