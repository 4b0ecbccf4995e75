"""What `stix jobs` and stix.jobs do over the store: launch's prechecks and submit, queue rows and table, cancel's
messages and wait, logs in order. Store states are set directly, as the controller would leave them."""

from __future__ import annotations

import json
import time

import pytest
from rich.console import Console

from stix.errors import ConfirmationRequired, NoFeasiblePlacement, StixError, TaskError, UsageError
from stix.events import Note
from stix.home import StixHome
from stix.managed import client
from stix.managed import store as st
from stix.models.task import Task
from stix.render import managed_queue_table
from stix.session import Session

ROW_KEYS = {"job_id", "job_name", "task_id", "task_name", "tasks", "resources", "submitted_at", "start_at", "end_at",
            "duration", "job_duration", "recovery_count", "restart_count", "status", "job_status", "failure_reason",
            "cluster"}


@pytest.fixture
def home(tmp_path) -> StixHome:
    return StixHome(tmp_path / "home")


@pytest.fixture
def jobs(home) -> st.JobStore:
    return st.JobStore(home)


@pytest.fixture
def controller(monkeypatch, jobs):
    """Stands in for the detached controller: records that it was asked to run, and (when told to) cancels
    what is marked at once, as the real one does in its own time."""
    calls = {"ensured": 0, "cancels": True}

    def ensure(home) -> None:
        calls["ensured"] += 1
        if calls["cancels"]:
            for job in jobs.unfinished():
                if job.cancel_requested:
                    jobs.set_job(job.id, st.CANCELLED)

    monkeypatch.setattr(client, "_ensure_controller", ensure)
    return calls


def session(home, confirm=None) -> tuple[Session, list[Note]]:
    notes: list[Note] = []
    return Session(home, lambda event: notes.append(event), confirm), notes


def texts(notes) -> list[str]:
    return [n.text for n in notes]


def task_file(tmp_path, body: str, name: str = "task.yaml"):
    path = tmp_path / name
    path.write_text(body)
    return path


# --- launch ------------------------------------------------------------------------------------


def test_launch_prechecks_places_confirms_and_submits_a_pipeline(home, jobs, controller, tmp_path):
    path = task_file(tmp_path, "name: pipe\n---\nname: prep\nrun: echo prep\n---\nname: train\nnum_nodes: 2\n"
                               "resources:\n  infra: local\n  cpus: 1\nrun: echo train\n")
    request = client.load_launch(path, yes=True, retry_until_up=True)
    assert request.name == "pipe"
    sess, notes = session(home)
    job_id = client.launch(sess, request)
    job = jobs.get(job_id)
    assert job.status == st.PENDING and job.retry_until_up and controller["ensured"] == 1
    assert [t.name for t in job.tasks] == ["prep", "train"]
    assert job.task_id.startswith("stix-managed-") and job.task_id.endswith("_pipe")
    lines = texts(notes)
    assert lines[0].startswith("Task 0 (prep): the local cloud") and lines[0].endswith("; 4 failover candidates")
    assert lines[1].startswith("Task 1 (train): the local cloud (nodes on this machine) in local/local-a, 2 nodes")
    assert lines[-1] == f"Managed job {job_id} submitted"


def test_a_controller_that_cannot_start_is_one_line_naming_the_recorded_job(home, jobs, monkeypatch, tmp_path):
    def no_fork(home):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(client, "_ensure_controller", no_fork)
    with pytest.raises(StixError, match=r"^managed job 1 is recorded, but its controller could not be started"):
        client.launch(session(home)[0], client.load_launch(task_file(tmp_path, "run: echo\n"), yes=True))
    assert jobs.get(1).status == st.PENDING


def test_launch_name_defaults_to_the_task_then_the_file_stem_and_n_wins(tmp_path):
    named = task_file(tmp_path, "name: hello\nrun: echo\n")
    unnamed = task_file(tmp_path, "run: echo\n", "my-train.yaml")
    headerless = task_file(tmp_path, "name: a\nrun: a\n---\nname: b\nrun: b\n", "chain.yaml")
    assert client.load_launch(named).name == "hello"
    assert client.load_launch(unnamed).name == "my-train"
    assert client.load_launch(headerless).name == "chain"
    assert client.load_launch(named, name="other").name == "other"


def test_launch_without_a_terminal_or_yes_records_nothing(home, jobs, controller, tmp_path):
    request = client.load_launch(task_file(tmp_path, "run: echo\n"))
    with pytest.raises(ConfirmationRequired):
        client.launch(session(home)[0], request)
    declined, _ = session(home, confirm=lambda question: False)
    with pytest.raises(Exception, match="cancelled"):
        client.launch(declined, request)
    assert jobs.all() == [] and controller["ensured"] == 0


@pytest.mark.parametrize("body, error, message", [
    ("name: p\n---\nname: a\nrun: echo a\n---\nname: b\nresources:\n  accelerators: H100:8\nrun: echo b\n",
     NoFeasiblePlacement, ":6:1: task 1 (b): no placement for H100:8"),
    ("name: a\nrun: echo a\n---\n\nname: b\n", UsageError, ":5:1: task 1 (b): nothing to run (no `run`)"),
    ("run: echo $X\nenvs:\n  X: null\n", TaskError, ":3:3: envs.X: required but not set; pass --env X=VALUE"),
    ("resources:\n  infra: aws/us-east-1\nrun: x\n", NoFeasiblePlacement, ":1:1: no placement"),
    ("file_mounts:\n  ~/d:\n    name: Bad_Name\nrun: x\n", UsageError,
     ":1:1: file_mounts['~/d']: only lowercase letters"),
    ("workdir:\n  url: git://127.0.0.1:9/nothing.git\nrun: x\n", UsageError, ":1:1: workdir.url"),
])
def test_prechecks_fail_at_once_naming_the_file_line_and_task(home, jobs, controller, tmp_path, body, error, message):
    path = task_file(tmp_path, body)
    with pytest.raises(error) as caught:
        client.launch(session(home)[0], client.load_launch(path, yes=True))
    assert str(caught.value).startswith(f"{path}{message}")
    assert jobs.all() == [] and controller["ensured"] == 0


def test_a_located_error_keeps_its_type_and_exit_code():
    located = client.located(NoFeasiblePlacement("no placement"), "f.yaml:3:1")
    assert isinstance(located, NoFeasiblePlacement) and located.exit_code == 3
    assert located.message == str(located) == "f.yaml:3:1: no placement"


# --- queue -------------------------------------------------------------------------------------


def at(monkeypatch, moment: float):
    """Make the store stamp this time (a job that ended days ago)."""
    monkeypatch.setattr(st.time, "time", lambda: moment)


@pytest.fixture
def history(jobs, monkeypatch):
    """An old job (ended 2 days ago), a failed one, a recovered one and a pipeline half way."""
    now = time.time()
    at(monkeypatch, now - 3 * 86400)
    old = jobs.submit("old", [Task(run="true")], "t-old")
    at(monkeypatch, now - 2 * 86400)
    jobs.set_task(old, 0, status=st.SUCCEEDED)
    jobs.set_job(old, st.SUCCEEDED)
    at(monkeypatch, now - 600)
    failed = jobs.submit("bad", [Task.model_validate({"run": "x", "resources": {"accelerators": "A100:8",
                                                                                  "use_spot": True}})], "t-bad")
    jobs.set_job(failed, st.STARTING)
    jobs.set_task(failed, 0, status=st.FAILED_SETUP, failure="setup exited 3")
    jobs.set_job(failed, st.FAILED_SETUP, failure="setup exited 3")
    at(monkeypatch, now - 300)
    recovered = jobs.submit("train", [Task.model_validate({"run": "x", "num_nodes": 2,
                                                             "resources": {"cpus": "4+"}})], "t-rec")
    jobs.set_job(recovered, st.RUNNING)
    jobs.set_task(recovered, 0, status=st.RUNNING, cluster="train-3-2", recoveries=2)
    pipe = jobs.submit("pipe", [Task(name="prep", run="a"), Task(name="fit", run="b")], "t-pipe")
    jobs.set_job(pipe, st.RUNNING)
    jobs.set_task(pipe, 0, status=st.SUCCEEDED)
    jobs.set_task(pipe, 1, status=st.RUNNING, cluster="pipe-4-1", recoveries=1)
    monkeypatch.undo()
    return {"old": old, "failed": failed, "recovered": recovered, "pipe": pipe, "now": now}


def test_queue_rows_one_per_task_newest_first_and_last_24_hours_by_default(jobs, history):
    rows = client.queue_rows(jobs)
    assert all(set(row) == ROW_KEYS for row in rows)
    assert [(r["job_id"], r["task_id"]) for r in rows] == [
        (history["pipe"], 0), (history["pipe"], 1), (history["recovered"], 0), (history["failed"], 0)]
    pipe_fit, recovered, failed = rows[1], rows[2], rows[3]
    assert (pipe_fit["task_name"], pipe_fit["status"], pipe_fit["job_status"], pipe_fit["tasks"]) == ("fit", st.RUNNING,
                                                                                                     st.RUNNING, 2)
    assert (recovered["recovery_count"], recovered["cluster"], recovered["resources"]) == (2, "train-3-2", "2x[CPU:4+]")
    assert 290 <= recovered["duration"] <= 400 and recovered["end_at"] is None
    assert (failed["status"], failed["failure_reason"], failed["resources"]) == (st.FAILED_SETUP, "setup exited 3",
                                                                                 "1x[A100:8][Spot]")
    assert [r["job_id"] for r in client.queue_rows(jobs, all_jobs=True)][-1] == history["old"]
    assert {r["job_id"] for r in client.queue_rows(jobs, all_jobs=True, skip_finished=True)} == {
        history["pipe"], history["recovered"]}
    json.dumps(rows)  # json as it is


def cells(line: str) -> list[str]:
    import re

    return [cell.strip() for cell in re.split("[┃│]", line)[1:-1]]


def test_queue_table_has_skypilots_columns_a_pipeline_under_its_job_and_failures(jobs, history):
    console = Console(record=True, width=220, color_system=None)
    console.print(managed_queue_table(client.queue_rows(jobs)))
    rows = [cells(line) for line in console.export_text().splitlines() if cells(line)]
    assert rows[0] == ["ID", "TASK", "NAME", "RESOURCES", "SUBMITTED", "TOT. DURATION", "JOB DURATION", "#RECOVERIES",
                       "STATUS", "FAILURE"]
    pipe, recovered, failed = str(history["pipe"]), str(history["recovered"]), str(history["failed"])
    assert [row[:4] + row[7:9] for row in rows[1:]] == [
        [pipe, "-", "pipe", "-", "1", "RUNNING"],
        ["↳", "0", "prep", "1x[CPU]", "0", "SUCCEEDED"],
        ["↳", "1", "fit", "1x[CPU]", "1", "RUNNING"],
        [recovered, "-", "train", "2x[CPU:4+]", "2", "RUNNING"],
        [failed, "-", "bad", "1x[A100:8][Spot]", "0", "FAILED_SETUP"],
    ]
    assert rows[4][4:6] == ["5m ago", "5m"] and rows[5][9] == "setup exited 3"


# --- cancel ------------------------------------------------------------------------------------


def test_cancel_names_unknown_and_finished_ids_and_waits_for_the_end(home, jobs, controller):
    live = jobs.submit("live", [Task(run="sleep 1000")], "t1")
    done = jobs.submit("done", [Task(run="true")], "t2")
    jobs.set_job(done, st.SUCCEEDED)
    sess, notes = session(home)
    result = client.cancel(sess, [live, done, 99], yes=True, poll=0.01)
    assert result.requested == [live] and result.final == {live: st.CANCELLED} and result.settled
    assert texts(notes) == [f"managed job {done} already ended: SUCCEEDED", "no managed job 99",
                            f"Cancelling managed job(s) {live}", f"Managed job {live}: CANCELLED"]
    assert controller["ensured"] == 1


def test_cancel_of_nothing_cancellable_asks_nothing_and_requests_nothing(home, jobs, controller):
    done = jobs.submit("done", [Task(run="true")], "t")
    jobs.set_job(done, st.FAILED)
    sess, notes = session(home)  # no terminal, no yes: would raise if it asked
    assert client.cancel(sess, [done]).requested == []
    assert client.cancel(sess, name="nope").skipped == ["no managed job named 'nope'"]
    assert client.cancel(sess, all_jobs=True).requested == []
    assert texts(notes)[-1] == "no unfinished managed jobs" and controller["ensured"] == 0


def test_cancel_by_name_or_all_and_confirmation(home, jobs, controller):
    a = jobs.submit("train", [Task(run="x")], "t")
    b = jobs.submit("train", [Task(run="x")], "t")
    other = jobs.submit("eval", [Task(run="x")], "t")
    with pytest.raises(ConfirmationRequired):
        client.cancel(session(home)[0], name="train")
    assert not jobs.get(a).cancel_requested
    assert client.cancel(session(home)[0], name="train", yes=True, poll=0.01).requested == [a, b]
    assert client.cancel(session(home)[0], all_jobs=True, yes=True, poll=0.01).requested == [other]
    for selection in ({}, {"job_ids": [a], "all_jobs": True}):
        with pytest.raises(UsageError, match="name the managed jobs to cancel"):
            client.cancel(session(home)[0], yes=True, **selection)


def test_cancel_wait_is_bounded_and_no_wait_returns_at_once(home, jobs, controller):
    controller["cancels"] = False
    job = jobs.submit("slow", [Task(run="x")], "t")
    jobs.set_job(job, st.RUNNING)
    sess, notes = session(home)
    result = client.cancel(sess, [job], yes=True, wait_s=0.2, poll=0.01)
    assert result.final == {job: st.RUNNING} and not result.settled and jobs.get(job).cancel_requested
    assert "still cancelling after 0.2s" in texts(notes)[-1]
    assert client.cancel(session(home)[0], [job], yes=True, wait_s=None).final == {job: st.RUNNING}


# --- logs --------------------------------------------------------------------------------------


def attempt(jobs, job_id, index, cluster, lines, location="local/local/local-a", outcome=None):
    a = jobs.start_attempt(job_id, index, cluster)
    jobs.set_attempt(job_id, index, a.attempt, location=location, outcome=outcome)
    jobs.log_path(job_id, index, a.attempt).write_text("".join(f"{line}\n" for line in lines))
    return a.attempt


def test_logs_print_every_attempt_of_every_task_in_order_behind_headers(jobs):
    job = jobs.submit("pipe", [Task(name="prep", run="a"), Task(name="train", run="b")], "t")
    attempt(jobs, job, 0, "pipe-1-0", ["prep 1"], outcome="SUCCEEDED")
    attempt(jobs, job, 1, "pipe-1-1", ["epoch 1", "epoch 2"], outcome="RECOVERED")
    attempt(jobs, job, 1, "pipe-1-1b", ["epoch 3"], location="local/local/local-b", outcome="SUCCEEDED")
    jobs.set_job(job, st.SUCCEEDED)
    out: list[str] = []
    assert client.tail_logs(jobs, job, out.append) == 0
    assert out == [
        "── task 0 (prep), attempt 1 on pipe-1-0 (local/local/local-a): SUCCEEDED", "prep 1",
        "── task 1 (train), attempt 1 on pipe-1-1 (local/local/local-a): RECOVERED", "epoch 1", "epoch 2",
        "── task 1 (train), attempt 2 on pipe-1-1b (local/local/local-b): SUCCEEDED", "epoch 3",
        f"── managed job {job} (pipe): SUCCEEDED",
    ]


def test_follow_reads_the_live_attempt_then_the_next_until_the_job_ends(jobs):
    """The writer (the controller's part) moves one step each time the reader prints a line it waits for."""
    job = jobs.submit("train", [Task(name="train", run="b")], "t")
    first = jobs.start_attempt(job, 0, "train-1")
    log1 = jobs.log_path(job, 0, first.attempt)
    log1.write_text("step 1\nstep 2 (no newline yet)")

    def step(line: str) -> None:
        if line == "step 1":  # the live attempt grows, then is preempted; a second attempt starts
            with open(log1, "a") as handle:
                handle.write(", done\nstep 3\n")
            jobs.set_attempt(job, 0, first.attempt, outcome="PREEMPTED")
            second = jobs.start_attempt(job, 0, "train-2")
            jobs.log_path(job, 0, second.attempt).write_text("resumed\n")
        elif line == "resumed":
            jobs.set_attempt(job, 0, 2, outcome="FAILED")
            jobs.set_job(job, st.FAILED, failure="exit 1")

    out: list[str] = []
    code = client.tail_logs(jobs, job, lambda line: (out.append(line), step(line)), poll=0.01)
    assert code == client.FAILED_EXIT
    assert out == ["── task 0 (train), attempt 1 on train-1", "step 1", "step 2 (no newline yet), done", "step 3",
                   "── task 0 (train), attempt 1: PREEMPTED", "── task 0 (train), attempt 2 on train-2", "resumed",
                   "── task 0 (train), attempt 2: FAILED", f"── managed job {job} (train): FAILED: exit 1"]


@pytest.mark.parametrize("status, code", [(st.SUCCEEDED, 0), (st.FAILED, 100), (st.FAILED_SETUP, 100),
                                          (st.FAILED_NO_RESOURCE, 100), (st.CANCELLED, 103), (st.RUNNING, 101)])
def test_logs_exit_codes_as_stix_logs_status(jobs, status, code):
    job = jobs.submit("j", [Task(run="x")], "t")
    jobs.set_job(job, status)
    assert client.tail_logs(jobs, job, lambda line: None, follow=False) == code
    assert client.tail_logs(jobs, job + 1, lambda line: None) == client.NOT_FOUND_EXIT


def test_controller_logs_are_this_jobs_lines_only(jobs):
    job = jobs.submit("j", [Task(run="x")], "t")
    for _ in range(10):
        jobs.submit("other", [Task(run="x")], "t")
    jobs.set_job(job, st.SUCCEEDED)
    jobs.controller_log.write_text(f"12:00:01 job {job}: launching\njob {job + 10}: launching\n"
                                   f"job {job}: SUCCEEDED")
    out: list[str] = []
    assert client.controller_logs(jobs, job, out.append, follow=True) == 0
    assert out == [f"12:00:01 job {job}: launching", f"job {job}: SUCCEEDED"]


def test_resolve_by_id_name_or_newest(jobs):
    a = jobs.submit("a", [Task(run="x")], "t")
    b = jobs.submit("b", [Task(run="x")], "t")
    assert client.resolve(jobs).id == b and client.resolve(jobs, name="a").id == a
    assert client.resolve(jobs, a).id == a and client.resolve(jobs, 99) is None and client.resolve(jobs, name="z") is None


def test_a_log_cut_back_by_a_restarted_controller_is_read_on_from_the_cut(tmp_path):
    path = tmp_path / "attempt.log"
    path.write_text("stix: launching\nrun line 1\nrun line 2\n")
    tail = client._Tail(path)
    assert tail.lines() == ["stix: launching", "run line 1", "run line 2"]
    path.write_text("stix: launching\n")  # rewound to the run's start, then streamed again whole
    assert tail.lines() == []
    with open(path, "a") as handle:
        handle.write("run line 1\nrun line 2\nrun line 3\n")
    assert tail.lines() == ["run line 1", "run line 2", "run line 3"]


def test_header_names_task_attempt_cluster_where_and_how_it_ended():
    job = st.ManagedJob(1, "j", st.RUNNING, 0.0, None, None, "t", False, False, None,
                        (st.ManagedTask(1, 0, "train", st.RUNNING, "c", None, 0, 1, None, None, None),))
    zoned = st.Attempt(1, 0, 2, "train-7", "local/local/local-b", 0.0, 1.0, "RECOVERED")
    assert client.header(job, zoned) == "── task 0 (train), attempt 2 on train-7 (local/local/local-b): RECOVERED"
    zoneless = st.Attempt(1, 0, 3, "train-8", "local/local/", 0.0, None, None)
    assert client.header(job, zoneless) == "── task 0 (train), attempt 3 on train-8 (local/local)"
