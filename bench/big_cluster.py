"""A big local cluster: cold `up -y` of 64 nodes against a 1-node one, `stix exec` on every node, destroy.

Run: .venv/bin/python bench/big_cluster.py [--nodes N]
In a private stix home (real engine, real sshd nodes): a 1-node `up -y`, then an N-node `up -y` (each with
`setup: "true"`, `run: "true"` on every node), then `stix exec` of a task on all N nodes, then `down -y`.
Prints each whole-process time, the N-node up's step breakdown (STIX_TIMINGS=1) and the head agent's timeline of the
first job (its phases, the master connections it opened to the workers). Goal: N-node up <= 2x the 1-node up.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASK = """num_nodes: {nodes}
resources:
  infra: local
setup: "true"
run: "true"
"""


def stix(env: dict[str, str], cwd: Path, *args: str, timings: bool = False) -> float:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "stix", *args], cwd=cwd, capture_output=True, text=True,
                            env={**env, "STIX_TIMINGS": "1"} if timings else env, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"stix {' '.join(args)}: exit {result.returncode}\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    if timings:
        for line in result.stderr.splitlines():
            if line.startswith("stix-timings "):
                print("   " + line[len("stix-timings "):])
    return seconds


def first_job(home: Path, cluster: str) -> None:
    """The head agent's own record of the cluster's first job (local cloud: the head's directory is here): when its
    setup and run ranks started and ended, and how many master connections to the workers it opened."""
    import sqlite3

    agent = home / "clusters" / cluster / "nodes" / f"{cluster}-head" / "home" / ".stix-agent"
    with sqlite3.connect(agent / "jobs.db") as db:
        submitted = db.execute("SELECT submitted FROM jobs WHERE id = 1").fetchone()[0]
    job = agent / "jobs" / "1"
    for phase, prefix in (("setup", "setup-"), ("run", "rank-")):
        starts = sorted(path.stat().st_mtime - submitted for path in job.glob(f"{prefix}*.pid"))
        ends = sorted(path.stat().st_mtime - submitted for path in job.glob(f"{prefix}*.exit"))
        if starts and ends:
            print(f"   first job, {phase}: ranks started {starts[0]:.2f}-{starts[-1]:.2f} s after the submit, "
                  f"ended by {ends[-1]:.2f} s")
    sockets = sorted(path.lstat().st_mtime - submitted for path in (agent / "mux").glob("*.sock"))
    if sockets:
        print(f"   first job: {len(sockets)} master connection(s) opened {sockets[0]:.2f}-{sockets[-1]:.2f} s after "
              f"the submit")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=64)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="stix-bench-big-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "STIX_"))}
    env.update(STIX_HOME=str(scratch / "home"), STIX_SSH_CONFIG=str(scratch / "ssh" / "config"), NO_COLOR="1")
    (scratch / "one.yaml").write_text(TASK.format(nodes=1))
    (scratch / "big.yaml").write_text(TASK.format(nodes=args.nodes))
    print(f"load average at start: {open('/proc/loadavg').read().split()[0]}")
    try:
        one = stix(env, scratch, "up", "-y", "-c", "one", "one.yaml")
        print(f"cold `up -y`, 1 node: {one:.2f} s")
        stix(env, scratch, "down", "-y", "one")
        print(f"cold `up -y`, {args.nodes} nodes, step by step:")
        big = stix(env, scratch, "up", "-y", "-c", "big", "big.yaml", timings=True)
        print(f"cold `up -y`, {args.nodes} nodes: {big:.2f} s ({big / one:.1f}x the 1-node up)")
        first_job(scratch / "home", "big")
        print(f"`stix exec` on {args.nodes} nodes: {stix(env, scratch, 'exec', 'big', 'big.yaml'):.2f} s")
        print(f"unchanged `up -y`, {args.nodes} nodes: {stix(env, scratch, 'up', '-y', '-c', 'big', 'big.yaml'):.2f} s")
        print(f"`down -y`, {args.nodes} nodes: {stix(env, scratch, 'down', '-y', 'big'):.2f} s")
        print(f"load average at end: {open('/proc/loadavg').read().split()[0]}")
    finally:
        for cluster in ("one", "big"):
            subprocess.run([sys.executable, "-m", "stix", "down", "-y", cluster], cwd=scratch, env=env,
                           capture_output=True, stdin=subprocess.DEVNULL)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
