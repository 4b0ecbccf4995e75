"""The recovery decision: SkyPilot's rules for preemption, listed exit codes and max_restarts_on_errors."""

from __future__ import annotations

import pytest

from stix.managed import recovery as r
from stix.models.task import Task

POLICY = r.Policy(max_restarts_on_errors=2, recover_on_exit_codes=frozenset({33, 34}))


def test_success_is_done_whatever_the_counts():
    assert r.decide(r.Ended(succeeded=True, healthy=True, exit_code=0), restarts=9, policy=POLICY) == r.DONE


@pytest.mark.parametrize("exit_code", [None, 1, 33])
def test_a_lost_node_always_recovers_uncounted(exit_code):
    assert r.decide(r.Ended(False, healthy=False, exit_code=exit_code), restarts=2, policy=POLICY) == r.RECOVER


def test_a_listed_exit_code_recovers_even_past_max_restarts():
    assert r.decide(r.Ended(False, True, 34), restarts=2, policy=POLICY) == r.RECOVER


def test_other_failures_restart_until_max_restarts_then_fail():
    assert r.decide(r.Ended(False, True, 1), restarts=0, policy=POLICY) == r.RESTART
    assert r.decide(r.Ended(False, True, 1), restarts=1, policy=POLICY) == r.RESTART
    assert r.decide(r.Ended(False, True, 1), restarts=2, policy=POLICY) == r.FAIL
    assert r.decide(r.Ended(False, True, 1), restarts=0, policy=r.Policy()) == r.FAIL, "default: no restarts"


def _task(resources: dict) -> Task:
    return Task.model_validate({"run": "true", "resources": resources})


def test_policy_reads_job_recovery_its_legacy_name_and_defaults():
    assert r.policy_of(_task({})) == r.Policy("EAGER_NEXT_REGION", 0, frozenset())
    assert r.policy_of(_task({"job_recovery": "FAILOVER"})).strategy == "FAILOVER"
    assert r.policy_of(_task({"spot_recovery": "failover"})).strategy == "FAILOVER"
    mapping = r.policy_of(_task({"job_recovery": {"max_restarts_on_errors": 3, "recover_on_exit_codes": 7}}))
    assert mapping == r.Policy("EAGER_NEXT_REGION", 3, frozenset({7}))
    listed = r.policy_of(_task({"job_recovery": {"strategy": "FAILOVER", "recover_on_exit_codes": [7, 8]}}))
    assert listed == r.Policy("FAILOVER", 0, frozenset({7, 8}))


def test_the_launched_task_leaves_recovery_to_the_controller():
    from stix.compile import unsupported_fields

    task = _task({"infra": "local", "cpus": 1, "job_recovery": {"max_restarts_on_errors": 1}})
    launched = r.for_launch(task)
    assert launched.resources.job_recovery is None and launched.resources.cpus == task.resources.cpus
    assert unsupported_fields(launched, "local") == []
    assert task.resources.job_recovery is not None, "the submitted task is left as it was"


def test_a_strategy_in_any_case_is_read_as_skypilot_spells_it_and_dynamic_node_set_is_refused():
    from stix.compile import unsupported_fields
    from stix.models.task import Task

    for spelling in ("dynamic_node_set", {"strategy": "dynamic_node_set"}):
        task = Task.model_validate({"run": "x", "resources": {"job_recovery": spelling}})
        assert any("DYNAMIC_NODE_SET" in field for field in unsupported_fields(task)), spelling
    assert r.policy_of(Task.model_validate({"run": "x", "resources": {"job_recovery": "failover"}})).strategy \
        == "FAILOVER"
