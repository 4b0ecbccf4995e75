"""Ending processes: grace, then SIGKILL; a zombie counts as gone."""

from __future__ import annotations

import signal
import subprocess
import time

from stix import processes


def test_terminate_kills_what_ignores_sigterm_after_the_grace_and_a_zombie_is_gone():
    stubborn = subprocess.Popen(["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"],
                                stdout=subprocess.PIPE, text=True)
    polite = subprocess.Popen(["sleep", "60"])
    try:
        assert stubborn.stdout.readline().strip() == "ready"  # its trap is in place
        started = time.monotonic()
        processes.terminate({stubborn.pid, polite.pid}, grace_s=0.5)
        assert polite.wait(timeout=5) == -signal.SIGTERM
        assert stubborn.wait(timeout=5) == -signal.SIGKILL
        assert time.monotonic() - started >= 0.5
    finally:
        for child in (stubborn, polite):
            if child.poll() is None:
                child.kill()
                child.wait()


def test_alive_is_false_for_a_zombie_and_for_a_pid_that_is_gone():
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 5
    while processes.alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not processes.alive(child.pid), "an exited, unreaped child (a zombie) is not alive"
    child.wait()
    assert not processes.alive(child.pid)


def test_a_process_whose_name_is_not_utf8_reads_alive(tmp_path):
    import os

    odd = os.path.join(os.fsencode(tmp_path), b"x\xff\xfe")
    os.symlink("/bin/sleep", odd)
    child = subprocess.Popen([odd, b"60"])
    try:
        fields = processes.stat_fields(child.pid)
        assert fields is not None and processes.alive(child.pid)
    finally:
        child.kill()
        child.wait()
