"""The controller process: one per home (its lock), started by ensure_controller, gone when idle."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stix import processes
from stix.home import StixHome
from stix.managed import controller as c
from tests.polling import wait_for


@pytest.fixture
def home(tmp_path, monkeypatch) -> StixHome:
    home = StixHome(tmp_path / "home")
    monkeypatch.setenv("STIX_HOME", str(home.root))
    return home


def test_ensure_controller_starts_one_which_exits_when_idle(home, monkeypatch):
    monkeypatch.setenv(c.IDLE_EXIT_ENV, "2")
    c.ensure_controller(home)
    pid = wait_for(lambda: c.controller_pid(home), timeout=20, what="the controller to take its lock")
    c.ensure_controller(home)  # running: nothing new
    c.ensure_controller(home)
    assert c.controller_pid(home) == pid
    log = c.JobStore(home).controller_log
    wait_for(lambda: c.controller_pid(home) is None, timeout=30, what="the idle controller to exit")
    text = log.read_text()
    assert text.count("started") == 1 and f"controller {pid} idle, exiting" in text, text
    assert oct(os.stat(log).st_mode & 0o777) == "0o600"


def test_a_second_controller_leaves_the_home_to_the_first(home):
    held = c._try_lock(c.lock_path(home))
    assert held is not None
    try:
        assert c.main() == 0, "returns at once, lock not taken"
        assert c._try_lock(c.lock_path(home)) is None, "the first still holds it"
    finally:
        held.close()
    assert c.controller_pid(home) is None


def test_a_new_controller_ends_what_its_killed_predecessor_left_in_its_group_but_never_a_node(home):
    import signal
    import subprocess

    env = {**os.environ, "STIX_HOME": str(home.root)}
    group = subprocess.Popen(["sh", "-c", "STIX_NODE_DIR=/n sleep 60 & echo $!; exec sleep 60"], env=env,
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    node_pid = int(group.stdout.readline())
    _until_exec(node_pid)
    other_home = subprocess.Popen(["sleep", "60"], env={**env, "STIX_HOME": "/elsewhere"})
    try:
        c.pid_path(home).parent.mkdir(parents=True, exist_ok=True)
        c.pid_path(home).write_text(f"{group.pid}\n")
        assert c._group_members(group.pid, home) == {group.pid}
        lines: list[str] = []
        c._end_predecessor(home, lines.append)
        assert group.wait(timeout=10) == -signal.SIGTERM
        assert processes.alive(node_pid), "a node process is never the controller's to end"
        assert other_home.poll() is None
        assert lines and "previous controller" in lines[0]
    finally:
        for pid in (node_pid, other_home.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        other_home.wait()


def test_a_controller_on_a_controller_clusters_node_counts_its_own_nodes_processes(home, monkeypatch):
    """Every process on the controller cluster's node carries that node's STIX_NODE_DIR; only other nodes' are spared."""
    import signal
    import subprocess

    monkeypatch.setenv("STIX_NODE_DIR", "/own")
    env = {**os.environ, "STIX_HOME": str(home.root)}
    group = subprocess.Popen(["sh", "-c", "STIX_NODE_DIR=/n sleep 60 & echo $!; exec sleep 60"], env=env,
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    nested = int(group.stdout.readline())
    _until_exec(nested)
    try:
        assert c._group_members(group.pid, home) == {group.pid}
    finally:
        for pid in (nested, group.pid):
            os.kill(pid, signal.SIGKILL)
        group.wait()


def test_engine_calls_on_a_job_thread_leave_signal_handling_alone():
    """The controller applies on job threads, where signal.signal would raise: interrupts are not deferred there."""
    import signal
    import threading

    from stix.engine.calls import interrupts_deferred

    before = signal.getsignal(signal.SIGINT)
    outcome: list[object] = []

    def apply() -> None:
        try:
            with interrupts_deferred(lambda event: None, "c", "apply"):
                outcome.append(signal.getsignal(signal.SIGINT))
        except Exception as exc:  # noqa: BLE001 - the assertion names it
            outcome.append(exc)

    thread = threading.Thread(target=apply)
    thread.start()
    thread.join(10)
    assert outcome == [before]
    assert signal.getsignal(signal.SIGINT) is before


def _until_exec(pid: int) -> None:
    """`$!` names the forked shell before it has exec'd `sleep` with its own environment."""
    def sleeping() -> bool:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep")
        except OSError:
            return False

    wait_for(sleeping, timeout=10, what=f"process {pid} to exec sleep", interval=0.01)
