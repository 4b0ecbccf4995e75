"""A real node agent in a temp STIX_AGENT_HOME (a one-node cluster), run as stix runs it, for the agent's tests."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

from stix.agent import AGENT_SOURCE
from stix.agent import node_agent as na


def agent_cli(tmp_path: Path, cpus: float, check: bool) -> Iterator:
    """Yields a runner of the agent's verbs (stdin: text; `check`: its default, assert exit 0) with .home, .env
    and .daemons (pids to kill). Kills every job's process group and every daemon afterwards."""
    home = tmp_path / "agent"
    home.mkdir()
    (home / na.CLUSTER_FILE).write_text(json.dumps({
        "cloud": "local", "cpus": cpus, "gpus": 0, "key": "", "known_hosts": "",
        "nodes": [{"rank": 0, "name": "n", "ip": "127.0.0.1", "port": 22, "user": "u", "home": str(tmp_path)}]}))
    env = {**os.environ, "STIX_AGENT_HOME": str(home)}
    daemons: list[int] = []

    def cli(*args, stdin=None, check=check):
        result = subprocess.run([sys.executable, str(AGENT_SOURCE), *args], env=env, input=stdin,
                                capture_output=True, text=True, timeout=60)
        assert not check or result.returncode == 0, result.stderr
        return result

    cli.home, cli.env, cli.daemons = home, env, daemons  # type: ignore[attr-defined]
    yield cli
    for pid_file in home.glob(f"{na.JOBS_DIR}/*/rank-*.pid"):
        pgid = int(pid_file.read_text().split()[0])
        for member in group_members(pgid):
            try:
                os.kill(member, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it ended meanwhile
    current = daemon_in(home)
    for pid in daemons + ([current] if current else []):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def cmdlines() -> dict[int, bytes]:
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = Path(f"/proc/{entry.name}/cmdline").read_bytes()
            except OSError:
                pass
    return found


def group_members(pgid: int) -> list[int]:
    members = []
    for pid in cmdlines():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(pid)
    return members


def daemon_in(home: Path) -> int | None:
    """daemon_pid() for another agent home."""
    saved = na.ROOT
    try:
        na.ROOT = home
        return na.daemon_pid()
    finally:
        na.ROOT = saved


def kill_started(scheduler: "na.Scheduler") -> None:
    """Kill every job an in-process scheduler started (its groups, then the rank processes themselves)."""
    for job_id, ranks in scheduler.running.items():
        na.kill_job(job_id, 1)
        for rank in ranks:
            if rank.process is not None:
                rank.process.kill()
                rank.process.wait(timeout=10)
