"""Failover at launch end to end: the real engine and real sshd nodes, zones refusing capacity through
STIX_LOCAL_FAULTS (read by the node provider on every create)."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
import yaml

from stix.components.local.faults import preempt
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

TASK = """
name: {name}
num_nodes: 2
resources:
  infra: local
run: echo "landed-$SKYPILOT_NODE_RANK"
"""
REFUSED = "refused capacity (InsufficientCapacity: zone {zone} has no capacity (STIX_LOCAL_FAULTS))"


def write_task(directory: Path, name: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(TASK.format(name=name))
    return path


def faults(path: Path, **settings) -> dict[str, str]:
    path.write_text(json.dumps(settings))
    return {"STIX_LOCAL_FAULTS": str(path)}


def saved_zone(home: Path, cluster: str) -> str:
    return json.loads((home / "clusters" / cluster / "spec.json").read_text())["zone"]


def nothing_left(stix, home: Path, cluster: str) -> None:
    assert "No clusters." in stix("status").stdout
    assert not (home / "clusters" / cluster).exists(), "no node directories, saved plan or node list"
    assert not (home / "keys" / cluster).exists(), "no cluster key"
    assert not list((home / "state").glob(f".pulumi/stacks/*/{cluster}.json")), "no stack in state (the engine keeps a .bak)"


def test_two_refusing_zones_land_in_the_third_saying_each_step(stix, stix_home, tmp_path, engine):
    task = write_task(tmp_path, "fo")
    # local-a has room for the head only (a cluster half made, then refused); local-b has none.
    env = faults(tmp_path / "faults.json", room={"local-a": 1}, refuse=["local-b"])
    up = stix("up", "-y", str(task), **env)
    assert up.returncode == 0, up.stdout + up.stderr
    out = up.stdout
    steps = [out.index(f"local/local-a {REFUSED.format(zone='local-a')}; tearing down what was made, "
                       "trying local/local-b (2 of 5)"),
             out.index("delete: vms-node-0"),  # the head local-a did grant is torn down before moving on
             out.index(f"local/local-b {REFUSED.format(zone='local-b')}; tearing down what was made, "
                       "trying local/local-c (3 of 5)"),
             out.index("(head, rank=0) landed-0")]
    assert steps == sorted(steps), out
    assert "(worker1, rank=1) landed-1" in out
    assert saved_zone(stix_home, "fo") == "local-c"
    status = stix("status").stdout
    assert "fo" in status and "UP" in status
    nodes = sorted(p.name for p in (stix_home / "clusters" / "fo" / "nodes").iterdir())
    assert nodes == ["fo-head", "fo-worker1"], "nothing else from the refused attempts"
    assert stix("drift", "fo").returncode == 0, "state holds exactly what runs"

    again = stix("up", "-y", str(task), **env)  # local-a and local-b still refuse: the cluster stays where it is
    assert again.returncode == 0 and "No infrastructure changes" in again.stdout and "refused" not in again.stdout
    assert saved_zone(stix_home, "fo") == "local-c"

    # Its worker is lost and local-c now refuses too: an existing cluster is repaired in place or not at all.
    worker = stix_home / "clusters" / "fo" / "nodes" / "fo-worker1"
    preempt(worker)
    shutil.rmtree(worker)
    repair = stix("up", "-y", str(task), **faults(tmp_path / "faults.json", refuse=["local-c"]))
    assert repair.returncode == 1
    assert repair.stderr.strip() == (
        "stix: error: local/local-c refused capacity for cluster fo (InsufficientCapacity: zone local-c has no "
        "capacity (STIX_LOCAL_FAULTS)); an existing cluster is not moved: `stix destroy fo`, then `stix up`, "
        "places it elsewhere")
    assert "tearing down" not in repair.stdout
    assert (stix_home / "clusters" / "fo" / "nodes" / "fo-head").exists(), "the head was not torn down"
    assert stix("destroy", "-y", "fo").returncode == 0


def test_every_zone_refused_fails_in_one_line_and_leaves_nothing(stix, stix_home, tmp_path, engine):
    task = write_task(tmp_path, "none")
    up = stix("up", "-y", str(task), **faults(tmp_path / "faults.json", refuse=["local", "local-west"]))
    assert up.returncode == 1
    error = up.stderr.strip()
    assert "\n" not in error and error.startswith("stix: error: no capacity for cluster none: tried ")
    places = [error.index(f"local/{zone} (InsufficientCapacity: zone {zone} has no capacity")
              for zone in ("local-a", "local-b", "local-c", "local-west-a", "local-west-b")]
    assert places == sorted(places)
    nothing_left(stix, stix_home, "none")


def test_retry_until_up_cycles_with_backoff_until_a_zone_frees(stix, stix_home, tmp_path, engine):
    task = write_task(tmp_path, "retry")
    fault_file = tmp_path / "faults.json"
    env = faults(fault_file, refuse=["local", "local-west"])
    process = stix.popen("up", "-y", "--retry-until-up", str(task), STIX_RETRY_BACKOFF="0.5", **env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any(line.startswith("Round 1: every candidate refused capacity (5 tried); retrying in 0.5s")
                             for line in lines), 120, "the first round to be refused")
        fault_file.write_text(json.dumps({}))  # capacity comes back
        assert process.wait(timeout=180) == 0, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=10)
    out = "".join(lines)
    assert "(head, rank=0) landed-0" in out
    assert saved_zone(stix_home, "retry") in {"local-a", "local-b", "local-c", "local-west-a", "local-west-b"}
    assert stix("destroy", "-y", "retry").returncode == 0


def test_preview_lists_the_failover_order(stix, stix_home, tmp_path, engine):
    task = write_task(tmp_path, "pv")
    text = stix("preview", str(task))
    assert text.returncode == 0, text.stderr
    assert ("If capacity is refused, failover tries: local/local-b, local/local-c, local/local-west-a, "
            "local/local-west-b") in text.stdout
    report = json.loads(stix("preview", str(task), "--format", "json").stdout)
    assert [entry["zone"] for entry in report["failover"]] == ["local-b", "local-c", "local-west-a", "local-west-b"]
    assert "Failover order if capacity is refused: `local/local-b`" in stix("preview", str(task), "--format",
                                                                             "markdown").stdout


def test_a_projects_pin_records_where_failover_landed_and_an_all_refused_launch_leaves_no_pin(
        stix, stix_home, tmp_path, engine):
    assert stix("init", "infra").returncode == 0
    project = tmp_path / "infra"
    write_task(project, "pinned")
    up = stix("up", "-y", "pinned.yaml", cwd=project, **faults(tmp_path / "faults.json", refuse=["local-a"]))
    assert up.returncode == 0, up.stdout + up.stderr
    placement = yaml.safe_load((project / "stacks" / "Pulumi.pinned.yaml").read_text())["config"]["stix:placement"]
    assert (placement["region"], placement["zone"]) == ("local", "local-b")
    assert stix("destroy", "-y", "pinned", cwd=project).returncode == 0

    write_task(project, "nowhere")
    refused = stix("up", "-y", "nowhere.yaml", cwd=project,
                   **faults(tmp_path / "faults.json", refuse=["local", "local-west"]))
    assert refused.returncode == 1 and "no capacity for cluster nowhere" in refused.stderr
    assert not (project / "stacks" / "Pulumi.nowhere.yaml").exists(), "a new cluster that landed nowhere is not pinned"
    nothing_left(stix, stix_home, "nowhere")
