"""Ending processes on this machine: a signal to each, a grace period, then SIGKILL. A zombie counts as gone."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Optional


def signal_all(pids: set[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stat_fields(pid: int) -> Optional[list[str]]:
    """/proc/PID/stat from the state field on (the command name before it may hold spaces or any bytes)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes().decode(errors="replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split() if ")" in stat else None


def alive(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def terminate(pids: set[int], grace_s: float) -> None:
    """SIGTERM, up to grace_s for them to end, then SIGKILL for what is left."""
    signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        pids = {pid for pid in pids if alive(pid)}
        if not pids:
            return
        time.sleep(0.05)
    signal_all({pid for pid in pids if alive(pid)}, signal.SIGKILL)


def kill_now(pids: set[int], wait_s: float) -> None:
    """SIGKILL at once, no grace (a machine taken away); wait up to wait_s until they are gone."""
    signal_all(pids, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
