"""End to end: `stix jobs ...` as a user types it, with the real controller, the real engine and real sshd nodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stix.components.local import sshd
from stix.home import StixHome
from tests.controller_exit import until_controller_exits
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

LAUNCH_S = 180.0
QUICK_EXIT = {"STIX_CONTROLLER_IDLE_EXIT": "1"}
"""The controller exits a second after its last job, so none outlives the test."""


@pytest.fixture
def jobs_cli(stix, stix_home, engine):
    """`stix jobs ...` in the test's home; afterwards no controller, cluster, node or stack is left."""

    home = StixHome(stix_home)

    def run(*args: str, timeout: float = 300):
        return stix("jobs", *args, timeout=timeout, **QUICK_EXIT)

    yield run
    until_controller_exits(home, timeout=60)
    assert_no_cluster_left(home)


def assert_no_cluster_left(home: StixHome) -> None:
    from stix import index as idx

    assert idx.ClusterIndex(home.index_db).all() == [], "the index still lists a cluster"
    assert not list(home.root.glob("clusters/*/nodes/*")), "node directories left"
    assert not sshd.processes_under(home.root / "clusters"), "node processes left"


def task(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(body)
    return str(path)


HELLO = "name: hello\nresources:\n  infra: local\n  cpus: 1\nrun: echo \"hello from $SKYPILOT_TASK_ID\"\n"


def queue(jobs_cli) -> list[dict]:
    result = jobs_cli("queue", "--all", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def status_of(jobs_cli, job_id: int) -> str:
    return next(row["job_status"] for row in queue(jobs_cli) if row["job_id"] == job_id)


def test_launch_follows_the_job_to_succeeded(jobs_cli, tmp_path):
    result = jobs_cli("launch", "-y", task(tmp_path, "hello", HELLO))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Managed job 1 submitted" in out
    assert "── task 0 (hello), attempt 1 on " in out
    assert "hello from stix-managed-" in out, out
    assert out.rstrip().endswith("── managed job 1 (hello): SUCCEEDED")
    assert jobs_cli("logs", "1", "--no-follow").returncode == 0
    assert any(line.startswith("job 1:") or " job 1:" in line for line in jobs_cli("logs", "1", "--controller").stdout.splitlines())


def test_detached_launch_shows_in_the_queue(jobs_cli, tmp_path):
    result = jobs_cli("launch", "-d", "-y", "-n", "greet", task(tmp_path, "hello", HELLO))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Managed job 1 submitted" in result.stdout
    rows = queue(jobs_cli)
    assert [(r["job_id"], r["job_name"], r["task_name"]) for r in rows] == [(1, "greet", "hello")]
    assert rows[0]["job_status"] in ("PENDING", "STARTING", "RUNNING", "SUCCEEDED")
    assert wait_for(lambda: status_of(jobs_cli, 1) == "SUCCEEDED", timeout=LAUNCH_S, interval=0.5,
                    what="the detached job to succeed")
    assert jobs_cli("logs", "1").returncode == 0


def test_cancel_of_a_long_job_ends_cancelled_with_no_cluster_left(jobs_cli, stix_home, tmp_path):
    long = task(tmp_path, "long", "name: long\nresources:\n  infra: local\n  cpus: 1\nrun: echo started; sleep 1000\n")
    assert jobs_cli("launch", "-d", "-y", long).returncode == 0
    wait_for(lambda: status_of(jobs_cli, 1) == "RUNNING", timeout=LAUNCH_S, interval=0.5, what="the job to run")
    result = jobs_cli("cancel", "-y", "1", timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "Managed job 1: CANCELLED"
    assert jobs_cli("logs", "1", "--no-follow").returncode == 103
    assert_no_cluster_left(StixHome(stix_home))
    again = jobs_cli("cancel", "-y", "1")
    assert again.returncode == 1 and "managed job 1 already ended: CANCELLED" in again.stdout


def test_a_two_task_pipeline_runs_both_in_order(jobs_cli, tmp_path):
    pipeline = task(tmp_path, "pipe", "name: chain\n---\nname: first\nresources:\n  infra: local\n  cpus: 1\n"
                                      "run: echo first-done\n---\nname: second\nresources:\n  infra: local\n  cpus: 1\n"
                                      "run: echo second-done\n")
    result = jobs_cli("launch", "-y", pipeline)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.index("── task 0 (first), attempt 1") < out.index("first-done") < out.index("── task 1 (second), attempt 1") \
        < out.index("second-done")
    rows = queue(jobs_cli)
    assert [(r["task_id"], r["task_name"], r["status"]) for r in rows] == [(0, "first", "SUCCEEDED"),
                                                                           (1, "second", "SUCCEEDED")]
    assert rows[0]["end_at"] <= rows[1]["start_at"]


def test_skypilots_own_retry_test_file_restarts_once_then_fails_and_skips_the_second_task(jobs_cli):
    """SkyPilot's tests/test_yamls/test_managed_jobs_retry.yaml, unchanged: max_restarts_on_errors 1, task 1 always fails."""
    from tests.unit.test_compat import COMPAT

    result = jobs_cli("launch", "-y", str(COMPAT / "tests__test_yamls__test_managed_jobs_retry.yaml"))
    assert result.returncode == 100, result.stdout + result.stderr
    assert result.stdout.count("Task 1 starting") == 2, result.stdout
    assert "Task 2 starting" not in result.stdout
    rows = queue(jobs_cli)
    assert [(r["task_id"], r["status"], r["restart_count"]) for r in rows] == [(0, "FAILED", 1), (1, "CANCELLED", 0)]
    assert rows[0]["job_status"] == "FAILED"
