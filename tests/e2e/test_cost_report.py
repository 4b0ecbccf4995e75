"""End to end on the local cloud: the cost report follows a real cluster's up, stop, start and down, and an
autostop the node agent does by itself counts from the agent's time (local prices are 0: times and statuses
are checked here, the $ arithmetic in tests/unit/test_cluster_costs.py)."""

from __future__ import annotations

import json
import time

import pytest

from stix.components.local import sshd
from stix.home import StixHome
from stix.index import STOPPED, UP, ClusterIndex
from tests.polling import wait_for

pytestmark = pytest.mark.e2e


def _report(stix, *args) -> dict:
    result = stix("cost-report", "--format", "json", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_up_stop_start_down_are_the_reports_intervals(stix, stix_home, tmp_path, engine):
    task = tmp_path / "e2e-cost.yaml"
    task.write_text("name: e2e-cost\nresources:\n  infra: local\n")
    marks = [time.time()]
    try:
        for command in (("up", "-y", str(task)), ("stop", "-y", "e2e-cost"), ("start", "-y", "e2e-cost")):
            result = stix(*command, timeout=300)
            assert result.returncode == 0, result.stdout + result.stderr
            marks.append(time.time())
        (live,) = _report(stix)["clusters"]
        assert (live["name"], live["status"], live["ended_at"]) == ("e2e-cost", UP, None)
    finally:
        down = stix("down", "-y", "e2e-cost")
        marks.append(time.time())
    assert down.returncode == 0, down.stdout + down.stderr
    intervals = ClusterIndex(StixHome(stix_home).index_db).intervals()
    assert [i.state for i in intervals] == [UP, STOPPED, UP]
    for i, interval in enumerate(intervals):  # each transition happened during the command that made it
        assert marks[i] <= interval.started_at <= marks[i + 1]
        assert interval.ended_at is not None and marks[i + 1] <= interval.ended_at <= marks[i + 2]
    report = _report(stix)  # the history outlives the cluster
    (row,) = report["clusters"]
    assert (row["name"], row["status"], row["lives"], row["total_cost"]) == ("e2e-cost", "TERMINATED", 1, 0.0)
    up = sum(i.ended_at - i.started_at for i in intervals if i.state == UP)
    assert row["up_s"] == pytest.approx(up) and row["stopped_s"] == pytest.approx(
        intervals[1].ended_at - intervals[1].started_at)
    assert row["ended_at"] == pytest.approx(intervals[-1].ended_at)
    assert report["total"]["up_s"] == pytest.approx(up)


def test_an_autostop_counts_from_when_the_agent_stopped(stix, stix_home, tmp_path, engine):
    from stix.agent.node_agent import REMOTE_DIR, STOPPED_AT_FILE

    task = tmp_path / "e2e-idle.yaml"
    task.write_text("name: e2e-idle\nresources:\n  infra: local\n")
    up = stix("up", "-y", str(task), "-i", "0.05")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        root = stix_home / "clusters" / "e2e-idle"
        wait_for(lambda: not sshd.processes_under(root), 60, "autostop to stop the idle cluster")
        stamp = root / "nodes" / "e2e-idle-head" / "home" / REMOTE_DIR / STOPPED_AT_FILE
        agent_time = float(stamp.read_text())
        assert ClusterIndex(StixHome(stix_home).index_db).get("e2e-idle").status == UP  # nobody has looked yet
        noticed = time.time()
        refreshed = stix("status", "--refresh")
        assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
        assert agent_time < noticed
        first, stopped = ClusterIndex(StixHome(stix_home).index_db).intervals()
        assert (first.state, first.ended_at, stopped.state, stopped.started_at) == (UP, agent_time, STOPPED,
                                                                                  agent_time)
        (row,) = _report(stix)["clusters"]
        assert row["status"] == STOPPED
        assert row["up_s"] == pytest.approx(agent_time - first.started_at)
        assert row["stopped_s"] >= time.time() - agent_time - 5 and row["stopped_s"] > 0
    finally:
        assert stix("destroy", "-y", "e2e-idle").returncode == 0


def test_an_autodown_ends_the_clusters_cost_when_the_agent_tore_it_down(stix, stix_home, tmp_path, engine):
    from stix.agent.node_agent import STOPPED_AT_FILE

    task = tmp_path / "e2e-gone.yaml"
    task.write_text("name: e2e-gone\nresources:\n  infra: local\n")
    up = stix("up", "-y", str(task), "-i", "0.05", "--down")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        root = stix_home / "clusters" / "e2e-gone"
        head = root / "nodes" / "e2e-gone-head"
        wait_for(lambda: not sshd.processes_under(root) and not head.exists(), 60, "autodown to remove the cluster")
        agent_time = float((root / STOPPED_AT_FILE).read_text())
        assert not list((root / "nodes").glob("*"))  # the stamp is beside nodes/, which ends empty
        refreshed = stix("status", "--refresh")
        assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
        (row,) = _report(stix)["clusters"]
        assert (row["status"], row["ended_at"]) == ("TERMINATED", agent_time)
        (interval,) = ClusterIndex(StixHome(stix_home).index_db).intervals()
        assert (interval.state, interval.ended_at) == (UP, agent_time)
    finally:
        assert stix("destroy", "-y", "e2e-gone").returncode == 0
    (row,) = _report(stix)["clusters"]
    assert (row["status"], row["ended_at"]) == ("TERMINATED", agent_time)
