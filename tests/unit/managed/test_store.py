"""The managed-job store: what the CLI writes, the controller reads back, and a restart finds."""

from __future__ import annotations

import stat

import pytest

from stix.home import StixHome
from stix.managed import store as st
from stix.models.task import Task


@pytest.fixture
def jobs(tmp_path) -> st.JobStore:
    return st.JobStore(StixHome(tmp_path / "home"))


def test_a_submitted_pipeline_reads_back_pending_with_its_tasks_as_submitted(jobs):
    first = Task.model_validate({"name": "prep", "run": "echo prep", "envs": {"A": "1"},
                                 "resources": {"infra": "local"}})
    second = Task.model_validate({"name": "train", "run": "echo train", "num_nodes": 2})
    job_id = jobs.submit("pipe", [first, second], "stix-task-1")
    job = jobs.get(job_id)
    assert job is not None and job.status == st.PENDING and job.name == "pipe" and not job.done
    assert [(t.index, t.name, t.status) for t in job.tasks] == [(0, "prep", st.PENDING), (1, "train", st.PENDING)]
    assert job.current is not None and job.current.name == "prep"
    rebuilt = jobs.tasks_of(job_id)
    assert rebuilt[0].env_values() == {"A": "1"} and rebuilt[0].resources.infra == first.resources.infra
    assert rebuilt[1].num_nodes == 2 and rebuilt[1].run == "echo train"


def test_secrets_are_sealed_at_rest_and_come_back_for_the_controller(jobs):
    task = Task.model_validate({"run": "echo", "secrets": {"HF_TOKEN": "hf-very-secret-value"}})
    job_id = jobs.submit("s", [task], "tid")
    assert b"hf-very-secret-value" not in jobs.path.read_bytes()
    wal = jobs.path.with_name(jobs.path.name + "-wal")
    assert not wal.exists() or b"hf-very-secret-value" not in wal.read_bytes()
    assert jobs.tasks_of(job_id)[0].secret_values() == {"HF_TOKEN": "hf-very-secret-value"}
    assert stat.S_IMODE(jobs.root.stat().st_mode) == 0o700


def test_statuses_stamp_start_and_end_and_cancel_marks_only_unfinished_jobs(jobs):
    done = jobs.submit("a", [Task(run="true")], "t1")
    live = jobs.submit("b", [Task(run="true")], "t2")
    jobs.set_job(done, st.STARTING)
    jobs.set_task(done, 0, status=st.RUNNING, cluster="a-1", agent_job=1)
    jobs.set_task(done, 0, status=st.SUCCEEDED)
    jobs.set_job(done, st.SUCCEEDED)
    job = jobs.get(done)
    assert job.started is not None and job.ended is not None and job.done
    assert job.tasks[0].cluster == "a-1" and job.tasks[0].ended is not None
    assert jobs.request_cancel([done, live]) == [live]
    assert jobs.get(live).cancel_requested and not jobs.get(done).cancel_requested
    assert [j.id for j in jobs.unfinished()] == [live]
    assert [j.id for j in jobs.all()] == [live, done]
    with pytest.raises(ValueError):
        jobs.set_task(live, 0, nonsense=1)


def test_attempts_are_numbered_in_order_with_a_log_file_each(jobs):
    job_id = jobs.submit("a", [Task(run="true")], "t")
    first = jobs.start_attempt(job_id, 0, "a-1")
    jobs.set_attempt(job_id, 0, first.attempt, location="local/local/local-a")
    jobs.set_attempt(job_id, 0, first.attempt, outcome="PREEMPTED")
    second = jobs.start_attempt(job_id, 0, "a-1")
    assert (first.attempt, second.attempt) == (1, 2)
    attempts = jobs.attempts(job_id)
    assert [(a.attempt, a.location, a.outcome) for a in attempts] == [
        (1, "local/local/local-a", "PREEMPTED"), (2, None, None)]
    assert attempts[0].ended is not None and attempts[1].ended is None
    assert jobs.log_path(job_id, 0, 2).exists()


def test_the_cost_report_reads_every_jobs_attempts_in_one_connection(jobs, monkeypatch):
    from stix.cluster_costs import managed_jobs

    ids = [jobs.submit(f"j{n}", [Task(run="true")], "t") for n in range(4)]
    for job_id in ids[:3]:
        jobs.start_attempt(job_id, 0, f"c-{job_id}")
    jobs.start_attempt(ids[0], 0, f"c-{ids[0]}")
    assert jobs.attempts_by_job() == {job_id: jobs.attempts(job_id) for job_id in ids[:3]}
    opened = []
    connect = st.JobStore._connect
    monkeypatch.setattr(st.JobStore, "_connect", lambda self: opened.append(1) or connect(self))
    pairs = managed_jobs(jobs.home)
    assert {job.id: [a.attempt for a in attempts] for job, attempts in pairs} == {
        ids[0]: [1, 2], ids[1]: [1], ids[2]: [1], ids[3]: []}
    assert len(opened) == 2, "one connection for the jobs, one for all their attempts"


def test_finishing_an_attempt_moves_its_task_in_the_same_transaction(jobs):
    job_id = jobs.submit("a", [Task(run="true")], "t")
    first = jobs.start_attempt(job_id, 0, "a-1")
    jobs.set_task(job_id, 0, status=st.RUNNING, agent_job=3)
    jobs.finish_attempt(job_id, 0, first.attempt, "PREEMPTED", status=st.RECOVERING, agent_job=None, recoveries=1)
    (attempt,) = jobs.attempts(job_id)
    task = jobs.get(job_id).tasks[0]
    assert attempt.outcome == "PREEMPTED" and attempt.ended is not None
    assert (task.status, task.agent_job, task.recoveries, task.ended) == (st.RECOVERING, None, 1, None)
    with pytest.raises(ValueError):
        jobs.finish_attempt(job_id, 0, first.attempt, st.FAILED, nonsense=1)
    jobs.finish_attempt(job_id, 0, first.attempt, st.FAILED, status=st.FAILED, failure="exit 5")
    task = jobs.get(job_id).tasks[0]
    assert task.status == st.FAILED and task.failure == "exit 5" and task.ended is not None
