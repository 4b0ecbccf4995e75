"""`stix jobs ...` through the real command line (and, where a controller must answer, in process with the
controller stood in for): one-line errors, exit codes, json, and a queue that loads nothing heavy."""

from __future__ import annotations

import json

import pytest

from stix.home import StixHome
from stix.managed import client
from stix.managed import store as st
from stix.models.task import Task
from tests.import_probe import heavy_modules_loaded
from tests.unit.test_cli import one_line_error

PIPELINE_WITHOUT_PLACEMENT = "name: p\n---\nname: a\nrun: echo a\n---\nname: b\nresources:\n  accelerators: H100:8\nrun: echo b\n"


@pytest.fixture
def jobs(stix_home) -> st.JobStore:
    return st.JobStore(StixHome(stix_home))


def test_launch_prechecks_fail_at_once_with_file_line_and_nothing_recorded(stix, tmp_path):
    path = tmp_path / "pipe.yaml"
    path.write_text(PIPELINE_WITHOUT_PLACEMENT)
    result = stix("jobs", "launch", "-y", str(path))
    assert result.returncode == 3
    assert one_line_error(result).startswith(f"stix: error: {path}:6:1: task 1 (b): no placement for H100:8")
    queue = stix("jobs", "queue", "--format", "json")
    assert queue.returncode == 0 and json.loads(queue.stdout) == []


def test_launch_without_yes_or_terminal_is_refused(stix, tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("run: echo\n")
    result = stix("jobs", "launch", str(path))
    assert result.returncode == 2 and "pass -y" in one_line_error(result)


def test_up_of_a_pipeline_points_to_jobs_launch(stix, tmp_path):
    path = tmp_path / "pipe.yaml"
    path.write_text("name: a\nrun: a\n---\nname: b\nrun: b\n")
    result = stix("up", "-y", str(path))
    assert result.returncode == 2
    assert one_line_error(result) == (f"stix: error: {path}:1:1: a pipeline of 2 tasks runs as a managed job: "
                                      f"stix jobs launch {path}")


def test_queue_json_and_text(stix, jobs):
    single = jobs.submit("hello", [Task(run="x")], "t")
    jobs.set_job(single, st.RUNNING)
    jobs.set_task(single, 0, status=st.RUNNING, recoveries=1, cluster="hello-1")
    pipe = jobs.submit("pipe", [Task(name="a", run="a"), Task(name="b", run="b")], "t")
    result = stix("jobs", "queue", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["job_id"], r["task_id"], r["task_name"], r["status"]) for r in rows] == [
        (pipe, 0, "a", st.PENDING), (pipe, 1, "b", st.PENDING), (single, 0, "task-0", st.RUNNING)]
    assert rows[2]["recovery_count"] == 1 and rows[2]["cluster"] == "hello-1"
    text = stix("jobs", "queue")
    assert text.returncode == 0
    assert "TOT. DURATION" in text.stdout and "#RECOVERIES" in text.stdout and "↳" in text.stdout
    assert stix("jobs", "queue", "--format", "yaml").returncode == 2


def test_queue_says_what_it_hides(stix):
    assert "No managed jobs in the last 24 hours (--all lists every job)." in stix("jobs", "queue").stdout
    assert stix("jobs", "queue", "--all").stdout.strip() == "No managed jobs."


@pytest.mark.parametrize("argv", [["jobs", "queue"], ["jobs", "queue", "--format", "json"],
                                  ["jobs", "logs", "1", "--no-follow"], ["jobs", "--help"]])
def test_queue_and_logs_import_no_engine_ssh_planner_or_cloud_sdk(stix, jobs, argv):
    job = jobs.submit("hello", [Task(run="x")], "t")
    jobs.set_job(job, st.SUCCEEDED)
    heavy = ("pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_kubernetes", "paramiko", "boto3",
             "stix.engine", "stix.ssh", "stix.placement", "stix.optimizer", "stix.catalog", "stix.flows")
    assert heavy_modules_loaded(stix, argv, heavy) == []


def test_logs_of_an_unknown_job_exit_102(stix, jobs):
    result = stix("jobs", "logs", "7")
    assert result.returncode == 102
    assert one_line_error(result) == "stix: error: no managed job 7 (stix jobs queue lists them)"
    assert stix("jobs", "logs", "-n", "nope").returncode == 102


def test_logs_of_a_finished_job_print_its_attempts_and_exit_by_status(stix, jobs):
    job = jobs.submit("hello", [Task(name="hello", run="x")], "t")
    first = jobs.start_attempt(job, 0, "hello-1")
    jobs.log_path(job, 0, first.attempt).write_text("hi\n")
    jobs.set_attempt(job, 0, first.attempt, location="local/local/local-a", outcome="CANCELLED")
    jobs.set_job(job, st.CANCELLED)
    result = stix("jobs", "logs", str(job))
    assert result.returncode == 103
    assert result.stdout.splitlines() == ["── task 0 (hello), attempt 1 on hello-1 (local/local/local-a): CANCELLED",
                                          "hi", f"── managed job {job} (hello): CANCELLED"]


def test_cancel_of_nothing_cancellable_exits_non_zero_naming_each(stix, jobs):
    done = jobs.submit("d", [Task(run="x")], "t")
    jobs.set_job(done, st.SUCCEEDED)
    result = stix("jobs", "cancel", "-y", str(done), "42")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"managed job {done} already ended: SUCCEEDED", "no managed job 42"]
    assert "name the managed jobs to cancel" in one_line_error(stix("jobs", "cancel", "-y"))


# --- in process, with the controller stood in for ----------------------------------------------------


@pytest.fixture
def controller(monkeypatch, jobs):
    """Runs what it is asked to at once: the job's one attempt prints a line and ends as `outcome` says."""
    state = {"outcome": st.SUCCEEDED}

    def ensure(home) -> None:
        for job in jobs.unfinished():
            if job.cancel_requested:
                jobs.set_job(job.id, st.CANCELLED)
                continue
            attempt = jobs.start_attempt(job.id, 0, f"{job.name}-{job.id}")
            jobs.log_path(job.id, 0, attempt.attempt).write_text(f"ran {job.name}\n")
            jobs.set_attempt(job.id, 0, attempt.attempt, location="local/local/local-a", outcome=state["outcome"])
            jobs.set_task(job.id, 0, status=state["outcome"])
            jobs.set_job(job.id, state["outcome"])

    monkeypatch.setattr(client, "_ensure_controller", ensure)
    return state


def invoke(*args: str):
    from typer.testing import CliRunner

    from stix import cli

    return CliRunner().invoke(cli.app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.mark.parametrize("outcome, code", [(st.SUCCEEDED, 0), (st.FAILED, 100)])
def test_launch_follows_the_logs_and_exits_by_the_jobs_status(jobs, controller, tmp_path, outcome, code):
    controller["outcome"] = outcome
    path = tmp_path / "hello.yaml"
    path.write_text("name: hello\nresources:\n  infra: local\nrun: echo hi\n")
    result = invoke("jobs", "launch", "-y", str(path))
    assert result.exit_code == code, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Placement: the local cloud") and lines[0].endswith("; 4 failover candidates")
    assert lines[1:] == ["Managed job 1 submitted", f"── task 0 (hello), attempt 1 on hello-1 (local/local/local-a): {outcome}",
                         "ran hello", f"── managed job 1 (hello): {outcome}"]


def test_launch_detached_then_cancel(jobs, controller, tmp_path, monkeypatch):
    path = tmp_path / "long.yaml"
    path.write_text("run: sleep 1000\n")
    monkeypatch.setattr(client, "_ensure_controller", lambda home: None)  # submitted, not yet run
    result = invoke("jobs", "launch", "-d", "-y", "-n", "long", str(path))
    assert result.exit_code == 0 and "Managed job 1 submitted" in result.output
    assert jobs.get(1).name == "long" and jobs.get(1).status == st.PENDING
    controller_cancels = lambda home: jobs.set_job(1, st.CANCELLED)  # noqa: E731
    monkeypatch.setattr(client, "_ensure_controller", controller_cancels)
    result = invoke("jobs", "cancel", "-y", "1")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["Cancelling managed job(s) 1", "Managed job 1: CANCELLED"]
