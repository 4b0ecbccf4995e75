"""`stix launch --fast`: its check compiles the cluster once, and neither way after it (the fast one, or the long
one when the cluster would change) compiles, plans or reads that again."""

from __future__ import annotations

import pytest

from stix import flows, stages
from stix import index as idx
from stix.engine.changes import ChangeSet
from stix.failover import failover_order
from stix.home import StixHome
from stix.models.task import Task
from stix.session import Session
from stix.spec import ClusterSpec


class Stop(Exception):
    """Ends the launch where the test has seen enough."""


def counted(monkeypatch, owner, name: str) -> list:
    calls: list = []
    real = getattr(owner, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


def stop(*_args, **_kwargs):
    raise Stop


@pytest.fixture
def launch(stix_home, tmp_path, monkeypatch, engine):
    monkeypatch.chdir(tmp_path)  # outside any stix project
    session = Session(StixHome(stix_home))
    task = Task.model_validate({"run": "true", "resources": {"infra": "local"}})
    return session, task


def record_up(session: Session, spec: ClusterSpec) -> None:
    stages.save_spec(session.home, spec)
    session.index.upsert(spec.cluster, spec.cloud, spec.num_nodes, idx.UP, None)


def test_fast_falling_back_compiles_the_cluster_once(launch, monkeypatch):
    import stix.inputs

    session, task = launch
    record_up(session, ClusterSpec("c", "local", 3, "another key", "/elsewhere"))  # the task would change it
    compiles = counted(monkeypatch, stages, "compile_spec")
    inputs = counted(monkeypatch, stix.inputs, "cluster_inputs")
    planned = counted(monkeypatch, flows, "plan_mounts")
    monkeypatch.setattr(flows, "preview_stack", lambda *a: ChangeSet())
    monkeypatch.setattr(flows.storage, "bucket_notes", stop)  # the first use of the planned mounts
    with pytest.raises(Stop):
        flows.up(session, flows.LaunchRequest(task, "c", yes=True, fast=True))
    assert (len(compiles), len(inputs), len(planned)) == (1, 1, 1)


def test_fast_reads_the_saved_mounts_once(launch, monkeypatch):
    session, task = launch
    target = stages.target_of(flows.LaunchRequest(task, "c"))
    placement, pin = stages.launch_plan(session, target)
    spec, _ = stages.spec_at(session, target, failover_order(placement)[0], pin)
    record_up(session, spec)
    compiles = counted(monkeypatch, stages, "compile_spec")
    reads = counted(monkeypatch, flows.storage, "load_mounts")
    monkeypatch.setattr(flows.storage, "remotes_for", stop)  # the fast way's first step after the mounts
    monkeypatch.setattr(flows, "stack_at", lambda *a, **k: pytest.fail("an unchanged cluster opens no stack"))
    with pytest.raises(Stop):
        flows.up(session, flows.LaunchRequest(task, "c", yes=True, fast=True))
    assert (len(compiles), len(reads)) == (1, 1)
