"""End to end: a bigger local cluster with a small SSH fan-out bound, and what an unchanged `up` asks the engine."""

from __future__ import annotations

import json

import pytest

from stix.components.local import sshd
from tests.e2e.test_jobs import connection, masters
from tests.e2e.test_local_cluster import field, lines_of, node_dirs

pytestmark = pytest.mark.e2e

NODES = 16
BIG = """
name: e2e-big
num_nodes: {nodes}
resources:
  infra: local
setup: |
  echo "setup-$SKYPILOT_NODE_RANK" > "$HOME/setup.txt"
  {setup_connection}
run: |
  echo "RANK=$SKYPILOT_NODE_RANK N=$SKYPILOT_NUM_NODES SETUP=$(cat "$HOME/setup.txt")"
  {run_connection}
"""


def test_a_sixteen_node_cluster_runs_its_job_on_every_node_through_a_small_fan_out(stix, stix_home, tmp_path, engine):
    """STIX_SSH_PARALLEL=4: connections, sync, setup and the job's ranks reach all 16 nodes, 4 at a time. The head's
    agent reaches each worker over one master connection: its setup, its run and the next job's rank there are
    served by one sshd process, and the head holds one master per worker."""
    task = tmp_path / "big.yaml"
    task.write_text(BIG.format(nodes=NODES, setup_connection=connection("SCONN"), run_connection=connection("RCONN")))
    up = stix("up", "-y", str(task), timeout=600, STIX_SSH_PARALLEL="4")
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"Plan: {NODES + 1} to create" in up.stdout
    for rank in range(NODES):
        lines = lines_of(up.stdout, rank)
        assert field(lines, "RANK") == str(rank) and field(lines, "N") == str(NODES)
        assert field(lines, "SETUP") == f"setup-{rank}"
        if rank:
            assert field(lines, "SCONN") == field(lines, "RCONN") != "1", lines
    assert len(node_dirs(stix_home, "e2e-big")) == NODES
    info = json.loads((stix_home / "clusters" / "e2e-big" / "info.json").read_text())
    assert len({node["ip"] for node in info["nodes"]}) == NODES, "every node on its own address"

    again = stix("exec", "e2e-big", str(task), timeout=300, STIX_SSH_PARALLEL="4")
    assert again.returncode == 0, again.stdout + again.stderr
    assert {field(lines_of(again.stdout, rank), "RANK") for rank in range(NODES)} == {str(r) for r in range(NODES)}
    for rank in range(1, NODES):
        assert field(lines_of(again.stdout, rank), "RCONN") == field(lines_of(up.stdout, rank), "RCONN")
    assert len(masters(stix_home, "e2e-big")) == NODES - 1

    gone = stix("down", "-y", "e2e-big", timeout=600)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert not sshd.processes_under(stix_home)


TWO = """
name: e2e-quiet
num_nodes: 2
resources:
  infra: local
run: echo "RANK=$SKYPILOT_NODE_RANK"
"""


def test_an_unchanged_up_asks_the_engine_for_one_preview_only(stix, stix_home, tmp_path, engine):
    """Made with the engine's own provider processes (STIX_PROVIDER_PROCESS=1), re-run with the providers served
    from stix's process: no change either way. The unchanged `up` starts one engine process, the preview: no
    `stack select` (its state file is there), no `stack output` (the program saw the outputs); the node list it
    records is the one the apply recorded."""
    task = tmp_path / "quiet.yaml"
    task.write_text(TWO)
    first = stix("up", "-y", str(task), STIX_PROVIDER_PROCESS="1", STIX_TIMINGS="1")
    assert first.returncode == 0, first.stdout + first.stderr
    engine_calls = [line.split()[2:4] for line in first.stderr.splitlines() if line.startswith("stix-timings engine: ")]
    assert ["stack", "output"] not in engine_calls and ["stack", "history"] not in engine_calls, engine_calls
    info_path = stix_home / "clusters" / "e2e-quiet" / "info.json"
    applied = json.loads(info_path.read_text())
    info_path.unlink()

    again = stix("up", "-y", str(task), STIX_TIMINGS="1")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No infrastructure changes (3 unchanged)." in again.stdout
    engine_calls = [line.split()[2:4] for line in again.stderr.splitlines() if line.startswith("stix-timings engine: ")]
    assert [call[0] for call in engine_calls] == ["preview"], engine_calls  # no stack select, no stack output
    assert json.loads(info_path.read_text()) == applied
    assert field(lines_of(again.stdout, 1), "RANK") == "1"
    assert stix("down", "-y", "e2e-quiet").returncode == 0
