"""Finding a node's processes from /proc: the races a loaded machine exposes."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from stix.components.local import sshd
from tests.polling import wait_for


def test_a_process_caught_inside_execve_is_read_again_until_it_settles(tmp_path, monkeypatch):
    """Between execve swapping in the new image and laying out its arguments, /proc shows an empty
    command line and environment: a session's `nohup sleep` caught there must still count."""
    node = tmp_path / "node"
    proc = subprocess.Popen(["sleep", "30"], env={**os.environ, "STIX_NODE_DIR": str(node)},
                            start_new_session=True)
    try:
        real = sshd._proc_bytes
        empty_reads = {"cmdline": 3, "environ": 3}

        def mid_exec(pid: int, name: str) -> bytes:
            if pid == proc.pid and empty_reads.get(name, 0) > 0:
                empty_reads[name] -= 1
                return b""
            return real(pid, name)

        monkeypatch.setattr(sshd, "_proc_bytes", mid_exec)
        assert proc.pid in sshd.processes_under(node)
        assert empty_reads == {"cmdline": 0, "environ": 0}, "the settled process was read again"
    finally:
        proc.kill()
        proc.wait()


def test_zombies_do_not_make_the_scan_wait(tmp_path):
    """A zombie's /proc entries read empty forever; only live user processes are waited for."""
    zombie = subprocess.Popen(["true"])
    wait_for(lambda: sshd._is_zombie(zombie.pid), timeout=10, what="the exited child to be a zombie", interval=0.01)
    try:
        started = time.monotonic()
        assert zombie.pid not in sshd.processes_under(tmp_path)
        assert time.monotonic() - started < sshd.EXEC_SETTLE_S
    finally:
        zombie.wait()


def test_an_orphaned_session_process_is_found_by_its_environment(tmp_path):
    node = tmp_path / "node"
    out = subprocess.run(["sh", "-c", "nohup sleep 30 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True,
                         env={**os.environ, "STIX_NODE_DIR": str(node / "home")}, check=True)
    orphan = int(out.stdout)
    try:
        assert orphan in sshd.processes_under(node)
        assert orphan not in sshd.processes_under(Path(str(node) + "-other"))
    finally:
        sshd.kill_all({orphan})


def _sleeper(env: dict[str, str], uid: int | None = None) -> subprocess.Popen:
    return subprocess.Popen(["sleep", "30"], env={**os.environ, **env}, start_new_session=True,
                            user=uid)


def test_another_users_process_is_never_matched(tmp_path):
    """Process matching is per user: a node directory of the same path under another uid is not ours."""
    node = tmp_path / "node"
    mine = _sleeper({"STIX_NODE_DIR": str(node)})
    theirs = _sleeper({"STIX_NODE_DIR": str(node)}, uid=65534 if os.getuid() == 0 else None)
    try:
        found = sshd.processes_under(node)
        assert mine.pid in found
        if os.getuid() == 0:
            assert theirs.pid not in found
    finally:
        for proc in (mine, theirs):
            proc.kill()
            proc.wait()


def test_the_address_lock_is_the_users_own(tmp_path, monkeypatch):
    monkeypatch.setenv("STIX_CACHE", str(tmp_path / "cache"))
    with sshd.address_lock():
        lock = tmp_path / "cache" / "local-cloud.lock"
        assert lock.exists() and (lock.stat().st_mode & 0o777) == 0o600
    assert not (Path("/tmp") / "stix-local-cloud.lock").is_symlink()


def test_a_stale_pid_file_stops_nothing(tmp_path):
    """sshd.pid naming a process that is not this node's sshd (a reused pid): no signal to it."""
    from stix.agent import node_agent

    paths = sshd.NodePaths(tmp_path / "node")
    paths.root.mkdir()
    bystander = _sleeper({})
    try:
        paths.pid_file.write_text(str(bystander.pid))
        assert sshd.running_pid(paths) is None
        sshd.stop_listener(paths)
        paths.pid_file.write_text(str(bystander.pid))  # stop_listener removed it
        node_agent._kill_node(paths.root)  # the agent's autostop path
        with pytest.raises(subprocess.TimeoutExpired):  # a SIGKILL would end it well within this
            bystander.wait(timeout=1)
    finally:
        bystander.kill()
        bystander.wait()


def test_a_port_taken_on_every_address_is_named(monkeypatch):
    import socket

    with socket.socket() as wildcard:
        wildcard.bind(("0.0.0.0", 0))
        wildcard.listen()
        port = wildcard.getsockname()[1]
        try:
            sshd.allocate_address(port)
        except sshd.NodeProcessError as exc:
            assert f"0.0.0.0:{port}" in str(exc) and sshd.PORT_ENV in str(exc)
        else:
            raise AssertionError("an address was allocated on a port held on 0.0.0.0")


def test_the_configured_port_is_checked(monkeypatch):
    from stix.errors import UsageError

    monkeypatch.setenv(sshd.PORT_ENV, "22")
    assert sshd.configured_port() == 22
    monkeypatch.setenv(sshd.PORT_ENV, "ssh")
    try:
        sshd.configured_port()
    except UsageError as exc:
        assert str(exc) == "STIX_LOCAL_SSH_PORT='ssh': not a port number (1-65535)"
    else:
        raise AssertionError("a bad port was accepted")


def test_addresses_being_started_are_taken_until_done(tmp_path, monkeypatch):
    """The address lock is held only while an address is chosen: one whose sshd is starting (marked) is not
    chosen again, by this process or another; a mark left by a process that died counts for nothing."""
    import json

    monkeypatch.setenv("STIX_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    with sshd.address_lock():
        sshd.mark_starting(["127.0.3.7", "127.0.3.8"])
        assert sshd.starting() == {"127.0.3.7", "127.0.3.8"}
        assert sshd.allocate_address(sshd.BASE_PORT, sshd.starting()) not in {"127.0.3.7", "127.0.3.8"}
        sshd.mark_starting(["127.0.3.7"], done=True)
        assert sshd.starting() == {"127.0.3.8"}
    path = tmp_path / "cache" / sshd.STARTING_FILE
    dead = _a_dead_pid()
    path.write_text(json.dumps({"127.0.3.9": [dead, __import__("time").time()]}))
    assert sshd.starting() == frozenset()


def _a_dead_pid() -> int:
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid
