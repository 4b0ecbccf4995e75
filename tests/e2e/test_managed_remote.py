"""End to end: STIX_JOBS_CONTROLLER=cluster. `stix jobs ...` as a user types it, the controller on the cluster
stix-jobs-controller (real engine, real sshd nodes), every verb over SSH; nothing of the controller on this side."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stix.components.local import sshd
from stix.home import StixHome
from stix.managed.controller import pid_path
from stix.managed.store import TERMINAL
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

LAUNCH_S = 240.0
ON_CLUSTER = {"STIX_JOBS_CONTROLLER": "cluster", "STIX_CONTROLLER_IDLE_EXIT": "1"}
CONTROLLER = "stix-jobs-controller"


@pytest.fixture
def remote_jobs(stix, stix_home, engine):
    """`stix jobs ...` with the controller on its cluster; at the end the controller cluster is destroyed as a user
    would, and nothing is left (the stix_home fixture checks processes and node directories too)."""

    def run(*args: str, timeout: float = 400):
        return stix("jobs", *args, timeout=timeout, **ON_CLUSTER)

    yield run
    result = stix("destroy", "-y", CONTROLLER, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    home = StixHome(stix_home)
    from stix import index as idx

    assert idx.ClusterIndex(home.index_db).all() == []
    assert not list(home.root.glob("clusters/*/nodes/*")), "node directories left"
    assert not sshd.processes_under(home.root), "processes left"


def rows(remote_jobs) -> list[dict]:
    result = remote_jobs("queue", "--all", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def status_of(remote_jobs, job_id: int) -> str:
    return next((row["job_status"] for row in rows(remote_jobs) if row["job_id"] == job_id), "ABSENT")


def test_a_detached_job_runs_to_succeeded_on_the_controller_cluster(remote_jobs, stix, stix_home, tmp_path: Path,
                                                                    monkeypatch):
    workdir = tmp_path / "project"
    workdir.mkdir()
    (workdir / "data.txt").write_text("payload-from-the-laptop\n")
    mounted = tmp_path / "extra.txt"
    mounted.write_text("mounted-file-content\n")
    task = tmp_path / "remote.yaml"
    task.write_text(f"name: remote\nworkdir: {workdir}\nfile_mounts:\n  ~/extra.txt: {mounted}\n"
                    "resources:\n  infra: local\n  cpus: 1\n"
                    "run: cat data.txt; cat ~/extra.txt; echo \"task $SKYPILOT_TASK_ID\"\n")

    result = remote_jobs("launch", "-d", "-y", str(task))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Managed job 1 submitted" in result.stdout
    # The laptop's copies go away at once: the job can only get its files from the controller node's copies.
    shutil.rmtree(workdir)
    mounted.unlink()
    home = StixHome(stix_home)
    assert not pid_path(home).exists(), "a controller was started on the laptop side"
    listed = stix("status", timeout=60)
    assert CONTROLLER in listed.stdout, listed.stdout

    # The CLI has returned: the job goes on by itself on the controller cluster.
    wait_for(lambda: status_of(remote_jobs, 1) in TERMINAL, timeout=LAUNCH_S, interval=1.0,
             what="the job to end on the controller cluster")
    assert status_of(remote_jobs, 1) == "SUCCEEDED", remote_jobs("logs", "1", "--no-follow").stdout
    [row] = rows(remote_jobs)
    assert (row["job_name"], row["task_name"], row["resources"]) == ("remote", "remote", "1x[CPU:1]")
    logs = remote_jobs("logs", "1", "--no-follow")
    assert logs.returncode == 0, logs.stdout + logs.stderr
    assert "payload-from-the-laptop" in logs.stdout and "mounted-file-content" in logs.stdout, logs.stdout
    assert "── task 0 (remote), attempt 1 on " in logs.stdout
    assert logs.stdout.rstrip().endswith("── managed job 1 (remote): SUCCEEDED")
    assert remote_jobs("logs", "7", "--no-follow").returncode == 102
    controller_lines = remote_jobs("logs", "1", "--controller")
    assert controller_lines.returncode == 0 and " job 1: " in controller_lines.stdout, controller_lines.stdout
    table = remote_jobs("queue")
    assert table.returncode == 0 and "remote" in table.stdout and "SUCCEEDED" in table.stdout, table.stdout

    # Without -d the CLI follows the job's logs, streamed over SSH, to its end; the SDK reads the same queue.
    hello = tmp_path / "hello.yaml"
    hello.write_text("name: hello\nresources:\n  infra: local\n  cpus: 1\nrun: echo hello-over-ssh\n")
    followed = remote_jobs("launch", "-y", str(hello))
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert "hello-over-ssh" in followed.stdout
    assert followed.stdout.rstrip().endswith("── managed job 2 (hello): SUCCEEDED")
    import stix.jobs

    monkeypatch.setenv("STIX_JOBS_CONTROLLER", "cluster")
    assert [(r["job_id"], r["job_status"]) for r in stix.jobs.queue(all=True)] == [(2, "SUCCEEDED"), (1, "SUCCEEDED")]
    assert not pid_path(home).exists() and not (home.root / "managed").exists()


def test_cancel_over_ssh_ends_cancelled(remote_jobs, tmp_path: Path):
    task = tmp_path / "long.yaml"
    task.write_text("name: long\nresources:\n  infra: local\n  cpus: 1\nrun: echo started; sleep 1000\n")
    assert remote_jobs("launch", "-d", "-y", str(task)).returncode == 0
    wait_for(lambda: status_of(remote_jobs, 1) == "RUNNING", timeout=LAUNCH_S, interval=1.0, what="the job to run")
    asked = remote_jobs("cancel", "1")  # no terminal to ask: refused here, before anything is marked there
    assert asked.returncode == 2 and "pass -y" in asked.stderr, asked.stdout + asked.stderr
    assert status_of(remote_jobs, 1) == "RUNNING"
    result = remote_jobs("cancel", "-y", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Cancelling managed job(s) 1" in result.stdout
    assert result.stdout.splitlines()[-1] == "Managed job 1: CANCELLED", result.stdout
    assert status_of(remote_jobs, 1) == "CANCELLED"
    assert remote_jobs("logs", "1", "--no-follow").returncode == 103
    again = remote_jobs("cancel", "-y", "1")
    assert again.returncode == 1 and "managed job 1 already ended: CANCELLED" in again.stdout
