"""The local cloud's faults against real sshd processes: zones that refuse capacity, nodes taken away."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stix.components.local import faults, sshd
from stix.components.local.node import LocalNodeProvider
from stix.errors import CapacityError
from stix.home import StixHome
from stix.spec import NodeInfo
from stix.ssh.runner import NodeConnection
from tests.polling import wait_for


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""  # gone meanwhile (a session's own sshd exits with it)


@pytest.fixture
def fault_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "faults.json"
    monkeypatch.setenv(faults.FAULTS_ENV, str(path))
    return path


def in_zone(props: dict, region: str, zone: str) -> dict:
    return {**props, "region": region, "zone": zone}


@pytest.mark.parametrize("refuse, region, zone", [
    (["local-a"], "local", "local-a"),
    (["local-west"], "local-west", "local-west-b"),
])
def test_create_in_a_refused_zone_or_region_fails_with_the_capacity_message_and_makes_nothing(
        node_props, fault_file, refuse, region, zone):
    props, _ = node_props
    fault_file.write_text(json.dumps({"refuse": refuse}))
    with pytest.raises(CapacityError, match=rf"^InsufficientCapacity: zone {zone} has no capacity \(STIX_LOCAL_FAULTS\)$"):
        LocalNodeProvider().create(in_zone(props, region, zone))
    assert not (Path(props["root"]) / props["node_name"]).exists()


def test_the_fault_file_is_read_on_every_create_and_places_are_recorded_not_diffed(node_props, fault_file):
    props, _ = node_props
    provider = LocalNodeProvider()
    fault_file.write_text(json.dumps({"refuse": ["local-b"]}))
    with pytest.raises(CapacityError):
        provider.create(in_zone(props, "local", "local-b"))
    fault_file.write_text(json.dumps({"refuse": []}))  # changed while "stix runs": the next create reads it
    created = provider.create(in_zone(props, "local", "local-b"))
    try:
        assert (created.outs["region"], created.outs["zone"]) == ("local", "local-b")
        read = provider.read(created.id, created.outs)
        assert read.inputs["zone"] == "local-b"
        before_zones = {k: v for k, v in read.inputs.items() if k not in ("region", "zone")}
        assert not provider.diff(created.id, before_zones, read.inputs).changes, \
            "a node recorded before zones existed is not replaced or updated for them"
        assert not provider.diff(created.id, read.inputs, {**read.inputs, "zone": "local-c"}).changes
    finally:
        provider.delete(created.id, created.outs)


def test_a_zone_with_room_for_one_node_refuses_the_second(fault_file):
    fault_file.write_text(json.dumps({"room": {"local-b": 1}}))
    assert faults.refused("local", "local-b", rank=0) is None
    assert faults.refused("local", "local-b", rank=1) == "InsufficientCapacity: zone local-b has no capacity (STIX_LOCAL_FAULTS)"
    assert faults.refused("local", "local-a", rank=1) is None


def test_a_refusal_for_room_comes_after_a_while_and_an_outright_one_at_once(fault_file, monkeypatch):
    """So the ranks a zone has room for have begun before the engine sees the refusal (test_failover's half-made
    cluster); a zone that refuses everything has nothing begun to wait for."""
    import time

    from stix.errors import CapacityError

    fault_file.write_text(json.dumps({"room": {"local-b": 1}, "refuse": ["local-c"]}))
    monkeypatch.setattr(faults, "ROOM_REFUSAL_DELAY_S", 0.3)
    for zone, rank, least, most in (("local-b", 1, 0.3, 5), ("local-c", 0, 0, 0.2), ("local-c", 1, 0, 0.2)):
        started = time.monotonic()
        with pytest.raises(CapacityError, match=f"zone {zone} has no capacity"):
            faults.check_capacity("local", zone, rank)
        assert least <= time.monotonic() - started < most, (zone, rank)
    faults.check_capacity("local", "local-b", 0)  # within the room: granted


def test_a_missing_fault_file_refuses_nothing_and_a_malformed_one_says_so(node_props, fault_file):
    assert faults.refused("local", "local-a") is None
    fault_file.write_text("{not json")
    with pytest.raises(ValueError, match="STIX_LOCAL_FAULTS=.*not a readable JSON file"):
        faults.refused("local", "local-a")


def test_preempt_kills_the_nodes_sshd_and_its_sessions_and_the_node_reads_back_stopped(node_props, stix_home):
    props, key = node_props
    provider = LocalNodeProvider()
    created = provider.create(in_zone(props, "local", "local-a"))
    try:
        conn = NodeConnection(NodeInfo.from_dict({**created.outs, "name": created.outs["node_name"]}), str(key))
        assert conn.run("nohup sleep 300 >/dev/null 2>&1 & echo started") == 0
        conn.close()
        root = Path(created.id)
        wait_for(lambda: any(b"sleep" in cmdline(pid) for pid in sshd.processes_under(root)), 10,
                 "the session's background job to run under the node")

        killed = faults.preempt_cluster(StixHome(stix_home), "t")
        assert killed >= 2
        assert not sshd.processes_under(root), "sshd and every process its sessions started are gone"
        assert root.exists(), "a reclaim leaves the node's directory"
        assert provider.read(created.id, created.outs).inputs["state"] == "stopped"
    finally:
        provider.delete(created.id, created.outs)


def test_preempt_cluster_takes_only_the_ranks_asked(stix_home, node_props):
    props, _ = node_props
    provider = LocalNodeProvider()
    head = provider.create(props)
    worker = provider.create({**props, "node_name": "t-worker1", "rank": 1})
    try:
        assert faults.preempt_cluster(StixHome(stix_home), "t", ranks=[1]) >= 1
        assert provider.read(head.id, head.outs).inputs["state"] == "running"
        assert provider.read(worker.id, worker.outs).inputs["state"] == "stopped"
    finally:
        provider.delete(head.id, head.outs)
        provider.delete(worker.id, worker.outs)
