"""A service's runner, one tick at a time, with the clouds, the probes and the balancer faked."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pytest

from stix.errors import ProvisionError
from stix.home import StixHome
from stix.loader import load_pipeline_text
from stix.serve import replica_ops
from stix.serve import service_runner as sr
from stix.serve import store as st
from stix.serve.probe import ProbeResult
from stix.serve.spec import service_spec
from stix.serve.store import ServiceStore

TEXT = "name: svc\nresources: {ports: 8080}\nservice: {readiness_probe: /h}\nrun: x\n"


class Clouds:
    """What the fakes were asked, and what they answer."""

    def __init__(self) -> None:
        self.launched: list[str] = []
        self.torn_down: list[str] = []
        self.existing: set[str] = set()
        self.launch_error: Optional[Exception] = None
        self.teardown_error: Optional[Exception] = None

    def launch(self, home, cluster, task, log):
        self.launched.append(cluster)
        if self.launch_error is not None:
            raise self.launch_error
        return replica_ops.Launched(ip="127.0.0.1", agent_job=1)

    def teardown(self, home, cluster, log):
        self.torn_down.append(cluster)
        if self.teardown_error is not None:
            raise self.teardown_error


class FakeBalancer:
    def set_backends(self, backends) -> None:
        pass

    def requests_total(self) -> int:
        return 0


@pytest.fixture
def clouds(monkeypatch) -> Clouds:
    clouds = Clouds()
    monkeypatch.setattr(replica_ops, "launch", clouds.launch)
    monkeypatch.setattr(replica_ops, "teardown", clouds.teardown)
    monkeypatch.setattr(replica_ops, "exists", lambda home, cluster: cluster in clouds.existing)
    monkeypatch.setattr(replica_ops, "head_reachable", lambda home, cluster: True)
    monkeypatch.setattr(sr, "probe", lambda url, spec: ProbeResult(False, "HTTP 503"))
    return clouds


@pytest.fixture
def store(tmp_path) -> ServiceStore:
    return ServiceStore(StixHome(tmp_path / "home"))


def add(store: ServiceStore, **policy) -> None:
    task = load_pipeline_text(TEXT).tasks[0]
    spec = service_spec(task)
    if policy:
        spec = dataclasses.replace(spec, use_spot=True, policy=dataclasses.replace(spec.policy, **policy))
    store.add_service("svc", task, spec)


def runner(store: ServiceStore) -> sr.ServiceRunner:
    import threading

    lines: list[str] = []
    r = sr.ServiceRunner(store.home, "svc", lines.append, threading.Semaphore(4), sr.Knobs(tick_s=0.01, backoff_s=60))
    r._balancer = FakeBalancer()  # type: ignore[assignment]
    r.lines = lines  # type: ignore[attr-defined]
    return r


def tick(r: sr.ServiceRunner) -> None:
    record = r.store.get("svc")
    assert record is not None
    r.tick(record)
    for thread in list(r.workers.values()):
        thread.join(10)


def test_an_update_brings_a_failed_service_back(store, clouds):
    add(store)
    for _ in range(3):
        replica = store.new_replica("svc", 1)
        store.set_replica("svc", replica.replica_id, status=st.FAILED, ended=1.0)
    store.set_service("svc", status=st.FAILED)
    r = runner(store)
    tick(r)
    assert clouds.launched == [] and store.get("svc").status == st.FAILED, "v1 failed for good: nothing launches"
    r.no_launch_before, r.launch_failures = 1e12, 5  # and a long backoff from v1's failed launches
    task = load_pipeline_text(TEXT).tasks[0]
    store.add_version("svc", task, service_spec(task), st.ROLLING)
    tick(r)
    assert clouds.launched == ["svc-4"], "the new version is launched at once"
    assert store.get("svc").status == st.REPLICA_INIT and store.get("svc").failure is None


def test_a_replica_left_provisioning_without_a_thread_is_launched_again(store, clouds):
    add(store)
    replica = store.new_replica("svc", 1)
    store.set_replica("svc", replica.replica_id, status=st.PROVISIONING)
    tick(runner(store))
    assert clouds.launched == ["svc-1"] and store.replica("svc", 1).status == st.STARTING


def test_a_launch_that_hits_a_bug_leaves_the_replica_failed_not_provisioning(store, clouds):
    add(store)
    clouds.launch_error = RuntimeError("a bug")
    tick(runner(store))
    replica = store.replicas("svc", include_ended=True)[0]
    assert (replica.status, replica.ended is not None) == (st.FAILED, True)
    assert "RuntimeError: a bug" in (replica.failure or "") and clouds.torn_down == ["svc-1"]


def test_a_teardown_that_failed_is_tried_again_later(store, clouds):
    add(store, min_replicas=0, max_replicas=0)
    replica = store.new_replica("svc", 1)
    store.set_replica("svc", replica.replica_id, status=st.SHUTTING_DOWN)
    clouds.teardown_error = ProvisionError("the cloud said no")
    r = runner(store)
    tick(r)
    tick(r)
    assert clouds.torn_down == ["svc-1"], "not again at once"
    r.retry_at[1] = 0.0  # RESUME_S later
    clouds.teardown_error = None
    tick(r)
    assert clouds.torn_down == ["svc-1", "svc-1"] and store.replicas("svc") == []


def test_dynamic_ondemand_fallback_covers_spot_replicas_not_yet_ready(store, clouds):
    add(store, min_replicas=2, max_replicas=2, dynamic_ondemand_fallback=True)
    r = runner(store)
    tick(r)
    tick(r)
    spot = {c.replica_id: c.use_spot for c in store.replicas("svc")}
    assert spot == {1: True, 2: True, 3: False, 4: False}
    for replica_id in (1, 2):
        store.set_replica("svc", replica_id, status=st.READY, ready_at=1.0)
    r.next_probe = {1: 1e12, 2: 1e12, 3: 1e12, 4: 1e12}
    tick(r)
    left = store.replicas("svc")
    assert [(c.replica_id, c.status) for c in left] == [(1, st.READY), (2, st.READY)], "the on-demand ones retire"


def test_without_the_fallback_spot_replicas_alone(store, clouds):
    add(store, min_replicas=2, max_replicas=2)
    r = runner(store)
    tick(r)
    tick(r)
    assert [c.use_spot for c in store.replicas("svc")] == [True, True]


def test_a_tick_does_not_overwrite_a_down_requested_meanwhile(store, clouds, monkeypatch):
    add(store)
    r = runner(store)
    target = r._target

    def down_meanwhile(spec, now):
        store.request_down(["svc"])
        return target(spec, now)

    monkeypatch.setattr(r, "_target", down_meanwhile)
    tick(r)
    assert store.get("svc").status == st.SHUTTING_DOWN


def test_a_teardown_that_fails_at_down_ends_the_thread_quietly(store, clouds):
    add(store)
    store.new_replica("svc", 1)
    clouds.existing.add("svc-1")
    store.request_down(["svc"])
    r = runner(store)
    r.run()  # no exception: the controller takes the service up again
    assert any("could not be torn down" in line for line in r.lines)  # type: ignore[attr-defined]
    assert not any("Traceback" in line for line in r.lines)  # type: ignore[attr-defined]
    assert store.get("svc").status == st.SHUTTING_DOWN
