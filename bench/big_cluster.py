"""A big local cluster: cold `up -y` of 64 nodes against a 1-node one, `stix exec` on every node, destroy.

Run: .venv/bin/python bench/big_cluster.py [--nodes N]
In a private stix home (real engine, real sshd nodes): a 1-node `up -y`, then an N-node `up -y` (each with
`setup: "true"`, `run: "true"` on every node), then `stix exec` of a task on all N nodes, then `down -y`.
Prints each whole-process time and the N-node up's step breakdown (STIX_TIMINGS=1). Goal: N-node up <= 2x
the 1-node up.
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
