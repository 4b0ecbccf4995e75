"""The controller's naming and attempt logs (what an adopting controller rewrites)."""

from __future__ import annotations

from stix.managed import attempt as a
from stix.managed import store as st
from stix.naming import validate_cluster_name


def _job(name: str, tasks: int, job_id: int = 12) -> st.ManagedJob:
    managed = tuple(st.ManagedTask(job_id, i, f"t{i}", st.PENDING, None, None, 0, 0, None, None, None)
                    for i in range(tasks))
    return st.ManagedJob(job_id, name, st.PENDING, 0.0, None, None, "stix-x", False, False, None, managed)


def test_clusters_and_task_ids_are_named_from_the_job():
    assert a.cluster_name(_job("train", 1), 0) == "train-12"
    assert [a.cluster_name(_job("train", 3), i) for i in range(3)] == ["train-12-0", "train-12-1", "train-12-2"]
    assert a.task_id(_job("train", 1), 0) == "stix-x" and a.task_id(_job("train", 2), 1) == "stix-x-1"


def test_any_job_name_gives_a_valid_cluster_name():
    for name in ("My Job_v2!", "9lives", "x" * 80, "---", "Über"):
        for tasks in (1, 12):
            validate_cluster_name(a.cluster_name(_job(name, tasks, job_id=123456), tasks - 1))


def test_rewinding_keeps_the_launch_and_drops_the_streamed_run(tmp_path):
    log = a.AttemptLog(tmp_path / "attempt.log")
    log.line("(head, rank=0) setup output")
    log.line(f"{a.RUN_MARK}1 on c")
    log.line("(head, rank=0) tick 1")
    log.rewind_to_run()
    log.line(f"{a.RUN_MARK}1 on c")
    log.line("(head, rank=0) tick 1")
    text = (tmp_path / "attempt.log").read_text()
    assert text == f"(head, rank=0) setup output\n{a.RUN_MARK}1 on c\n(head, rank=0) tick 1\n"


def test_launch_errors_map_to_skypilots_failure_statuses():
    from stix import errors as e

    assert a._launch_failure(e.NoCapacity("every zone refused")) == st.FAILED_NO_RESOURCE
    assert a._launch_failure(e.SetupFailed("setup exited 4", 4)) == st.FAILED_SETUP
    for error in (e.TaskError("bad"), e.UsageError("not supported yet: x"), e.NoFeasiblePlacement("none")):
        assert a._launch_failure(error) == st.FAILED_PRECHECKS
    assert a._launch_failure(e.ProvisionError("engine failed")) == st.FAILED_CONTROLLER
