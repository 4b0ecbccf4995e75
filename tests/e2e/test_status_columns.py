"""End to end on the local cloud: what the read commands show of a real cluster (status columns and JSON,
--ip, queue -s, logs --sync-down)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

TASK = """
name: cols
num_nodes: 2
resources:
  infra: local
run: |
  echo "hello-$SKYPILOT_NODE_RANK"
"""


def test_status_queue_and_logs_of_an_up_cluster(stix, stix_home, tmp_path, engine):
    task = tmp_path / "cols.yaml"
    task.write_text(TASK)
    up = stix("up", "-y", "-i", "30", "--down", str(task))
    try:
        assert up.returncode == 0, up.stdout + up.stderr

        rows = json.loads(stix("status", "--format", "json").stdout)
        assert [r["name"] for r in rows] == ["cols"]
        row = rows[0]
        assert row["resources_str"].startswith("2x local(local, cpus=")
        assert (row["hourly_cost"], row["status"], row["autostop"], row["to_down"]) == (0.0, "UP", 30, True)
        table = stix("status").stdout
        assert "2x local(local, cpus=" in table and "30m (down)" in table and "$0.00" in table

        info = json.loads((stix_home / "clusters" / "cols" / "info.json").read_text())
        head_ip = next(node["ip"] for node in info["nodes"] if node["rank"] == 0)
        ip = stix("status", "--ip", "cols")
        assert ip.returncode == 0 and ip.stdout == f"{head_ip}\n" and head_ip.startswith("127.0.0.")

        running = stix("exec", "-d", "cols", "sleep 600")
        assert running.returncode == 0, running.stdout + running.stderr
        every = json.loads(stix("queue", "cols", "--format", "json").stdout)
        assert [(j["job_id"], j["status"]) for j in every[0]["jobs"]][0] == (1, "SUCCEEDED")
        unfinished = json.loads(stix("queue", "cols", "-s", "--format", "json").stdout)
        assert [j["job_id"] for j in unfinished[0]["jobs"]] == [2]
        assert json.loads(stix("queue", "--format", "json").stdout)[0]["cluster"] == "cols"  # no name: every UP cluster
        assert "SUCCEEDED" in stix("queue", "cols").stdout and "SUCCEEDED" not in stix("queue", "-s").stdout

        synced = stix("logs", "cols", "1", "--sync-down")
        assert synced.returncode == 0, synced.stderr
        directory = Path(synced.stdout.strip())
        assert directory.is_relative_to(stix_home)
        assert sorted(p.name for p in directory.iterdir()) == ["rank-0.log", "rank-1.log"]
        assert "hello-0" in (directory / "rank-0.log").read_text()
        assert "hello-1" in (directory / "rank-1.log").read_text()
        missing = stix("logs", "cols", "99", "--sync-down")
        assert missing.returncode == 1 and "job 99 not found on cluster 'cols'" in missing.stderr
    finally:
        down = stix("destroy", "-y", "cols")
        assert down.returncode == 0, down.stdout + down.stderr
