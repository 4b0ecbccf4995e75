"""stix.jobs, the managed-jobs SDK: SkyPilot's names, the same code as `stix jobs`, reachable as stix.jobs."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from stix.home import StixHome
from stix.managed import client
from stix.managed import store as st


@pytest.fixture
def jobs(stix_home) -> st.JobStore:
    return st.JobStore(StixHome(stix_home))


@pytest.fixture
def submitted(monkeypatch):
    calls: list = []
    monkeypatch.setattr(client, "_ensure_controller", calls.append)
    return calls


def test_stix_jobs_loads_lazily_with_skypilots_names_and_arguments(stix):
    code = ("import sys, stix\nassert 'stix.jobs' not in sys.modules\njobs = stix.jobs\n"
            "print(sorted(n for n in ('launch', 'queue', 'cancel', 'tail_logs') if callable(getattr(jobs, n))))")
    out = subprocess.run([sys.executable, "-c", code], env=stix.env(), capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "['cancel', 'launch', 'queue', 'tail_logs']", out.stderr
    import stix as package
    from stix import jobs as module

    assert package.jobs is module and "jobs" in package.__all__
    params = lambda f: list(inspect.signature(f).parameters)  # noqa: E731
    assert params(module.launch) == ["task", "name", "detach", "retry_until_up", "envs", "secrets"]
    assert params(module.queue) == ["refresh", "skip_finished", "all_users", "job_ids", "all"]
    assert params(module.cancel)[:3] == ["name", "job_ids", "all"]
    assert params(module.tail_logs) == ["name", "job_id", "follow", "controller"]


def test_launch_a_task_a_pipeline_or_a_file_then_queue_cancel_and_logs(jobs, submitted, tmp_path):
    import stix

    task = stix.Task(name="hello", run="echo $WHO", envs={"WHO": None})
    task.set_resources(stix.Resources(infra="local"))
    first, handle = stix.get(stix.jobs.launch(task, envs={"WHO": "me"}, secrets={"TOKEN": "s3cret"}))
    assert handle is None
    assert jobs.get(first).name == "hello" and task.envs == {"WHO": None}  # the caller's task is left as it was
    assert jobs.tasks_of(first)[0].env_values() == {"WHO": "me"}
    pipe, _ = stix.get(stix.jobs.launch([stix.Task(name="a", run="a"), stix.Task(name="b", run="b")], name="ab",
                                        retry_until_up=True))
    assert [t.name for t in jobs.get(pipe).tasks] == ["a", "b"] and jobs.get(pipe).retry_until_up
    path = tmp_path / "t.yaml"
    path.write_text("name: from-file\nrun: echo\n")
    third, _ = stix.get(stix.jobs.launch(str(path)))
    assert jobs.get(third).name == "from-file" and len(submitted) == 3
    assert stix.jobs.queue() == client.queue_rows(jobs)
    assert [r["job_id"] for r in stix.jobs.queue()] == [third, pipe, pipe, first]
    assert [r["job_id"] for r in stix.get(stix.jobs.queue(job_ids=[first, third]))] == [third, first]
    assert stix.jobs.cancel(job_ids=[first], wait=False) == [first] and jobs.get(first).cancel_requested
    assert stix.jobs.tail_logs(job_id=99) == client.NOT_FOUND_EXIT
    assert stix.jobs.tail_logs(name="hello", follow=False) == client.NOT_FINISHED_EXIT


def test_launch_refuses_what_is_not_a_task(submitted):
    import stix
    from stix.errors import UsageError

    with pytest.raises(UsageError, match="takes a Task, a list of Tasks"):
        stix.jobs.launch([])
    with pytest.raises(UsageError, match="nothing to run"):
        stix.jobs.launch(stix.Task(name="idle"))
    assert submitted == []
