"""The service's status from its replicas (SkyPilot's ServiceStatus)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from stix.serve import store as st
from stix.serve.service_status import derive


@dataclass(frozen=True)
class R:
    status: str
    ready_at: Optional[float] = None
    ended: Optional[float] = None


def test_controller_init_until_a_replica_is_launched():
    assert derive([], target=2, down_requested=False) == st.CONTROLLER_INIT


def test_replica_init_while_none_is_ready():
    assert derive([R(st.PROVISIONING), R(st.STARTING)], 2, False) == st.REPLICA_INIT


def test_ready_once_one_is():
    assert derive([R(st.READY, ready_at=1.0), R(st.STARTING)], 2, False) == st.READY


def test_not_ready_replicas_do_not_make_it_ready():
    assert derive([R(st.NOT_READY, ready_at=1.0)], 1, False) == st.REPLICA_INIT


def test_no_replica_when_min_is_zero_and_none_runs():
    assert derive([], 0, False) == st.NO_REPLICA
    assert derive([R(st.FAILED, ready_at=1.0, ended=2.0)], 0, False) == st.NO_REPLICA


def test_failed_after_three_failures_before_any_was_ready():
    failed = [R(st.FAILED, ended=1.0)] * 3
    assert derive(failed[:2] + [R(st.STARTING)], 1, False) == st.REPLICA_INIT
    assert derive(failed + [R(st.STARTING)], 1, False) == st.FAILED
    assert derive(failed + [R(st.READY, ready_at=5.0)], 1, False) == st.READY


def test_shutting_down_wins():
    assert derive([R(st.READY, ready_at=1.0)], 1, True) == st.SHUTTING_DOWN
