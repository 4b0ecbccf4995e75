"""Finding a node's processes from /proc: the races a loaded machine exposes."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

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
