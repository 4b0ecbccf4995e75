"""Setup as the job's first phase on the node agent (SETTING_UP, then RUNNING), end to end on the local cloud."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.polling import wait_for

pytestmark = pytest.mark.e2e

TASK = """
name: {name}
num_nodes: 2
resources:
  infra: local
setup: |
  echo "setup-begins-$SKYPILOT_SETUP_NODE_RANK"
  {wait}
  echo "setup-done-$SKYPILOT_SETUP_NODE_RANK"
{run}
"""


def write_task(tmp_path: Path, name: str, run: str | None = 'run: echo "run-$SKYPILOT_NODE_RANK"',
               wait: bool = True) -> Path:
    """Setup waits for the file `go` in each node's home (wait), or goes straight on."""
    path = tmp_path / f"{name}-{'run' if run else 'setup'}.yaml"
    waiting = 'while [ ! -f "$HOME/go" ]; do sleep 0.05; done' if wait else "true"
    path.write_text(TASK.format(name=name, run=run or "", wait=waiting))
    return path


def homes(stix_home: Path, name: str) -> list[Path]:
    return [stix_home / "clusters" / name / "nodes" / node / "home" for node in (f"{name}-head", f"{name}-worker1")]


def job_status(stix, name: str) -> str:
    listed = stix("queue", name)
    return listed.stdout if listed.returncode == 0 else ""


def test_a_client_killed_during_setup_loses_nothing(stix, stix_home, tmp_path, engine):
    name = "e2e-setupjob"
    proc = stix.popen("up", "-y", str(write_task(tmp_path, name)))
    try:
        wait_for(lambda: "SETTING_UP" in job_status(stix, name), timeout=180, what="the job to be SETTING_UP", interval=0.2)
        os.killpg(proc.pid, signal.SIGKILL)  # the client (and its SSH connections) gone mid-setup
        proc.communicate(timeout=30)
        assert "SETTING_UP" in job_status(stix, name), "setup goes on without the client"
        for home in homes(stix_home, name):
            (home / "go").touch()
        wait_for(lambda: "SUCCEEDED" in job_status(stix, name), timeout=60, what="the job to succeed", interval=0.2)
        logs = stix("logs", name, "1")
        assert logs.returncode == 0, logs.stdout + logs.stderr
        lines = logs.stdout.splitlines()
        for rank, role in ((0, "head"), (1, "worker1")):
            expected = [f"({role}, rank={rank}) setup-begins-{rank}", f"({role}, rank={rank}) setup-done-{rank}",
                        f"({role}, rank={rank}) run-{rank}"]
            assert [line for line in lines if line.startswith(f"({role}, rank={rank}) ")] == expected, logs.stdout
        assert max(lines.index(f"({r}, rank={i}) setup-done-{i}") for i, r in enumerate(("head", "worker1"))) < \
            min(lines.index(f"({r}, rank={i}) run-{i}") for i, r in enumerate(("head", "worker1"))), "setup's output first"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
        assert stix("destroy", "-y", name).returncode == 0


def test_detached_up_waits_for_setup_and_a_task_of_setup_alone_is_a_succeeded_job(stix, stix_home, tmp_path, engine):
    name = "e2e-setupdet"
    try:
        detached = stix("up", "-y", "-d", str(write_task(tmp_path, name, 'run: sleep 30; echo "run-$SKYPILOT_NODE_RANK"',
                                                         wait=False)))
        assert detached.returncode == 0, detached.stdout + detached.stderr
        assert "(worker1, rank=1) setup-done-1" in detached.stdout, "-d streams setup and waits for it, as sky launch -d"
        assert "Job 1 submitted" in detached.stdout and "run-" not in detached.stdout
        queued = job_status(stix, name)
        assert "RUNNING" in queued and "SETTING_UP" not in queued
        assert stix("cancel", name, "1").returncode == 0

        alone = stix("up", "-y", str(write_task(tmp_path, name, None, wait=False)))
        assert alone.returncode == 0, alone.stdout + alone.stderr
        assert "(head, rank=0) setup-done-0" in alone.stdout and f"Cluster {name} is up." in alone.stdout
        rows = [line for line in job_status(stix, name).splitlines() if line.startswith("│ 2 ")]
        assert rows and name in rows[0] and "SUCCEEDED" in rows[0], job_status(stix, name)
    finally:
        assert stix("destroy", "-y", name).returncode == 0


def test_setup_and_run_reach_the_worker_over_one_connection(stix, stix_home, tmp_path, engine):
    """The head's agent runs the setup phase and the run phase of the job on the worker over one master connection
    (one sshd process serves both), and later jobs too."""
    from tests.e2e.test_jobs import connection, masters
    from tests.e2e.test_local_cluster import field, lines_of

    name = "e2e-setupconn"
    task = tmp_path / "conn.yaml"
    task.write_text(f"name: {name}\nnum_nodes: 2\nresources:\n  infra: local\n"
                    f"setup: {json.dumps(connection('SCONN'))}\nrun: {json.dumps(connection('RCONN'))}\n")
    try:
        up = stix("up", "-y", str(task))
        assert up.returncode == 0, up.stdout + up.stderr
        worker = lines_of(up.stdout, 1)
        setup, run = field(worker, "SCONN"), field(worker, "RCONN")
        assert setup == run != "1", (setup, run)
        again = stix("exec", name, str(task))
        assert again.returncode == 0, again.stdout + again.stderr
        assert field(lines_of(again.stdout, 1), "RCONN") == run
        assert len(masters(stix_home, name)) == 1
    finally:
        assert stix("destroy", "-y", name).returncode == 0
