"""End to end: managed jobs through the real controller process, the real engine and real sshd nodes.

Jobs go in as the CLI puts them (JobStore.submit, then ensure_controller); everything is read back from
the store, the attempt logs and the home (index, state, node directories).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from stix.components.local import sshd
from stix.home import StixHome
from stix.loader import load_pipeline_text
from stix.managed import store as st
from stix.managed.controller import controller_pid, ensure_controller
from tests.controller_exit import until_controller_exits
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

LAUNCH_S = 120.0


@pytest.fixture
def home(stix_home, engine, monkeypatch) -> StixHome:
    """The test's home; the controller exits a second after its last job, and is gone before the test ends."""
    monkeypatch.setenv("STIX_CONTROLLER_IDLE_EXIT", "1")
    home = StixHome(stix_home)
    yield home
    until_controller_exits(home, timeout=30)


def submit(home: StixHome, text: str, name: str = "mj", **kwargs) -> int:
    tasks = load_pipeline_text(text).tasks
    job_id = st.JobStore(home).submit(name, tasks, f"stix-managed-{name}", **kwargs)
    ensure_controller(home)
    return job_id


def job(home: StixHome, job_id: int) -> st.ManagedJob:
    found = st.JobStore(home).get(job_id)
    assert found is not None
    return found


def wait_status(home: StixHome, job_id: int, *statuses: str, timeout: float = LAUNCH_S) -> st.ManagedJob:
    return wait_for(lambda: (found := job(home, job_id)).status in statuses and found, timeout=timeout, interval=0.2,
                    what=f"job {job_id} to be {'/'.join(statuses)} (last {job(home, job_id).status}; "
                         f"controller log: {controller_log(home)[-1500:]})")


def controller_log(home: StixHome) -> str:
    path = st.JobStore(home).controller_log
    return path.read_text() if path.exists() else ""


def attempt_logs(home: StixHome, job_id: int) -> list[str]:
    jobs = st.JobStore(home)
    return [jobs.log_path(job_id, a.index, a.attempt).read_text() for a in jobs.attempts(job_id)]


def assert_no_cluster_left(home: StixHome) -> None:
    from stix import index as idx

    assert idx.ClusterIndex(home.index_db).all() == [], "the index still lists a cluster"
    assert not list(home.root.glob("clusters/*/nodes/*")), "node directories left"
    assert not sshd.processes_under(home.root / "clusters"), "node processes left"
    stacks = [p.name for p in (home.state_dir / ".pulumi" / "stacks").rglob("*.json")] \
        if (home.state_dir / ".pulumi" / "stacks").exists() else []
    assert stacks == [], f"stack state left: {stacks}"


def node_dir(home: StixHome, cluster: str, rank: int = 0) -> Path:
    nodes = sorted((home.root / "clusters" / cluster / "nodes").iterdir())
    return next(n for n in nodes if n.name.endswith("-head" if rank == 0 else f"-worker{rank}"))


def kill_node(home: StixHome, cluster: str, rank: int = 0) -> None:
    """The node dies: its sshd and everything on it (until the local cloud can preempt a node itself)."""
    sshd.kill_all(sshd.processes_under(node_dir(home, cluster, rank)))


def wait_log(home: StixHome, job_id: int, text: str, timeout: float = LAUNCH_S) -> None:
    wait_for(lambda: any(text in log for log in attempt_logs(home, job_id)), timeout=timeout, interval=0.2,
             what=f"{text!r} in job {job_id}'s log")


LOCAL = "resources:\n  infra: local\n"


def test_a_job_runs_to_success_with_its_log_kept_and_no_cluster_left(home):
    job_id = submit(home, f"name: hello\n{LOCAL}secrets:\n  HF_TOKEN: hf-managed-secret-value\nsetup: echo set-up-here\n"
                          "run: echo \"hi from $SKYPILOT_TASK_ID\"; test \"$HF_TOKEN\" = hf-managed-secret-value\n")
    done = wait_status(home, job_id, *st.TERMINAL)
    assert done.status == st.SUCCEEDED, controller_log(home)
    assert done.tasks[0].status == st.SUCCEEDED and done.started and done.ended
    logs = attempt_logs(home, job_id)
    assert len(logs) == 1
    assert "set-up-here" in logs[0] and "hi from stix-managed-mj" in logs[0], logs[0]
    assert st.JobStore(home).attempts(job_id)[0].location == "local/local/local-a", "where it ran is recorded"
    assert f"job {job_id}: SUCCEEDED" in controller_log(home)
    assert "hf-managed-secret-value" not in controller_log(home) + logs[0], "the secret reached the run, not a log"
    assert_no_cluster_left(home)


RECOVERABLE = (f"name: rec\n{LOCAL}run: |\n  echo \"attempt of $SKYPILOT_TASK_ID\"\n"
               "  if [ -e /tmp/never ]; then :; fi\n  for i in $(seq 1 300); do echo tick $i; sleep 0.1; done\n")


def test_a_node_killed_mid_run_recovers_with_the_same_task_id_and_both_logs(home):
    job_id = submit(home, RECOVERABLE, name="rec")
    running = wait_status(home, job_id, st.RUNNING)
    wait_log(home, job_id, "tick 3")
    cluster = running.tasks[0].cluster
    lost = time.monotonic()
    kill_node(home, cluster)
    wait_status(home, job_id, st.RECOVERING, timeout=60)
    again = wait_for(lambda: (found := job(home, job_id)).status == st.RUNNING and found.recoveries == 1 and found,
                     timeout=LAUNCH_S, interval=0.1, what="the job RUNNING again after recovery")
    print(f"node loss to RUNNING again: {time.monotonic() - lost:.1f}s")
    assert again.tasks[0].restarts == 0
    done = wait_status(home, job_id, *st.TERMINAL, timeout=LAUNCH_S)
    assert done.status == st.SUCCEEDED, controller_log(home)
    attempts = st.JobStore(home).attempts(job_id)
    assert [a.attempt for a in attempts] == [1, 2] and attempts[0].outcome == "PREEMPTED"
    first, second = attempt_logs(home, job_id)
    assert "attempt of stix-managed-rec" in first and "tick 3" in first
    assert "attempt of stix-managed-rec" in second and "tick 300" in second
    assert_no_cluster_left(home)


def test_a_killed_controller_is_replaced_and_adopts_the_running_job(home):
    job_id = submit(home, f"name: adopt\n{LOCAL}run: |\n  for i in $(seq 1 60); do echo tick $i; sleep 0.1; done\n")
    running = wait_status(home, job_id, st.RUNNING)
    wait_log(home, job_id, "tick 2")
    first_pid = controller_pid(home)
    assert first_pid is not None
    os.kill(first_pid, signal.SIGKILL)
    wait_for(lambda: controller_pid(home) is None, timeout=10, what="the killed controller's lock to be released")
    assert job(home, job_id).status == st.RUNNING, "the record still says RUNNING"
    ensure_controller(home)
    done = wait_status(home, job_id, *st.TERMINAL)
    assert done.status == st.SUCCEEDED, controller_log(home)
    assert len(st.JobStore(home).attempts(job_id)) == 1, "adopted, not relaunched"
    assert running.tasks[0].agent_job == done.tasks[0].agent_job
    (log,) = attempt_logs(home, job_id)
    assert log.count("tick 1\n") == 1 and "tick 60" in log, "the adopted attempt's log is whole, once"
    assert f"job {job_id}: adopted (RUNNING)" in controller_log(home)
    assert_no_cluster_left(home)


def test_a_listed_exit_code_recovers_and_other_failures_respect_max_restarts(home, tmp_path):
    marker = tmp_path / "exited-once"
    listed = submit(home, f"name: listed\nresources:\n  infra: local\n  job_recovery:\n    recover_on_exit_codes: [33]\n"
                          f"run: |\n  if [ ! -e {marker} ]; then touch {marker}; exit 33; fi\n  echo second time\n",
                    name="listed")
    failing = submit(home, "name: failing\nresources:\n  infra: local\n  job_recovery:\n    max_restarts_on_errors: 1\n"
                           "run: echo failing; exit 5\n", name="failing")
    done = wait_status(home, listed, *st.TERMINAL, timeout=2 * LAUNCH_S)
    assert done.status == st.SUCCEEDED, controller_log(home)
    assert (done.tasks[0].recoveries, done.tasks[0].restarts) == (1, 0), "a listed code recovers, uncounted"
    assert "second time" in attempt_logs(home, listed)[1]
    failed = wait_status(home, failing, *st.TERMINAL, timeout=2 * LAUNCH_S)
    assert failed.status == st.FAILED, controller_log(home)
    assert (failed.tasks[0].restarts, failed.tasks[0].recoveries) == (1, 0)
    assert [a.outcome for a in st.JobStore(home).attempts(failing)] == [st.FAILED, st.FAILED]
    assert "exit code 5" in (failed.tasks[0].failure or "")
    assert_no_cluster_left(home)


def test_cancel_during_recovering_leaves_no_cluster(home):
    job_id = submit(home, RECOVERABLE, name="rec")
    running = wait_status(home, job_id, st.RUNNING)
    wait_log(home, job_id, "tick 2")
    kill_node(home, running.tasks[0].cluster)
    wait_status(home, job_id, st.RECOVERING, timeout=60)
    assert st.JobStore(home).request_cancel([job_id]) == [job_id]
    done = wait_status(home, job_id, *st.TERMINAL)
    assert done.status == st.CANCELLED, controller_log(home)
    assert done.tasks[0].status == st.CANCELLED
    assert_no_cluster_left(home)


def test_a_pipeline_whose_second_task_fails_keeps_the_first_and_fails(home):
    text = (f"name: pipe\n---\nname: prep\n{LOCAL}run: echo prepared-output\n---\n"
            f"name: train\n{LOCAL}run: echo training; exit 3\n---\nname: never\n{LOCAL}run: echo never\n")
    job_id = submit(home, text, name="pipe")
    done = wait_status(home, job_id, *st.TERMINAL, timeout=2 * LAUNCH_S)
    assert done.status == st.FAILED, controller_log(home)
    assert [t.status for t in done.tasks] == [st.SUCCEEDED, st.FAILED, st.CANCELLED]
    attempts = st.JobStore(home).attempts(job_id)
    assert [(a.index, a.cluster) for a in attempts] == [(0, f"pipe-{job_id}-0"), (1, f"pipe-{job_id}-1")], \
        "the third task's cluster is never made"
    first, second = attempt_logs(home, job_id)
    assert "prepared-output" in first and "training" in second
    assert_no_cluster_left(home)


def test_a_setup_failure_is_failed_setup(home):
    job_id = submit(home, f"name: bad-setup\n{LOCAL}setup: echo setting-up; exit 4\nrun: echo never\n", name="bad-setup")
    done = wait_status(home, job_id, *st.TERMINAL)
    assert done.status == st.FAILED_SETUP, controller_log(home)
    (log,) = attempt_logs(home, job_id)
    assert "setting-up" in log, "the failed attempt's log keeps what it printed"
    assert_no_cluster_left(home)


def test_a_dead_worker_fails_the_job_and_the_refresh_makes_it_a_recovery(home):
    text = (f"name: two\nnum_nodes: 2\n{LOCAL}run: |\n  echo \"rank $SKYPILOT_NODE_RANK\"\n"
            "  for i in $(seq 1 150); do echo tick $i; sleep 0.1; done\n")
    job_id = submit(home, text, name="two")
    running = wait_status(home, job_id, st.RUNNING)
    wait_log(home, job_id, "tick 3")
    kill_node(home, running.tasks[0].cluster, rank=1)
    again = wait_for(lambda: (found := job(home, job_id)).status == st.RUNNING and found.recoveries == 1 and found,
                     timeout=LAUNCH_S, interval=0.1, what=f"the job RUNNING again: {controller_log(home)[-1500:]}")
    assert again.tasks[0].restarts == 0, "a lost worker is not the task's own failure"
    assert "lost a node: recover" in controller_log(home)
    done = wait_status(home, job_id, *st.TERMINAL)
    assert done.status == st.SUCCEEDED, controller_log(home)
    assert "rank 1" in attempt_logs(home, job_id)[1]
    assert_no_cluster_left(home)


def _cluster_record(home: StixHome, cluster: str):
    from stix import index as idx

    return idx.ClusterIndex(home.index_db).get(cluster)


@pytest.mark.parametrize("moment", ["applying", "setting-up"])
def test_a_controller_killed_while_starting_is_replaced_and_the_job_runs_once(home, moment):
    job_id = submit(home, f"name: start\n{LOCAL}setup: echo setting-up; sleep 2\nrun: echo ran-once\n", name="start")
    cluster = f"start-{job_id}"
    if moment == "applying":
        wait_for(lambda: (record := _cluster_record(home, cluster)) is not None and record.status == "INIT",
                 timeout=LAUNCH_S, interval=0.02, what="the apply to begin")
    else:
        wait_log(home, job_id, "setting-up")
    pid = controller_pid(home)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: controller_pid(home) is None, timeout=10, what="the killed controller's lock to be released")
    assert job(home, job_id).status == st.STARTING
    ensure_controller(home)
    done = wait_status(home, job_id, *st.TERMINAL)
    assert done.status == st.SUCCEEDED, controller_log(home)
    (log,) = attempt_logs(home, job_id)
    assert log.count("ran-once") == 1, log
    if moment == "setting-up":  # setup is the agent job's first phase: adopted with it, not run again
        assert log.count("setting-up") == 1, log
        assert f"job {job_id}: adopted" in controller_log(home)
    assert_no_cluster_left(home)
