"""`stix up` step by step: a cold 1-node up and an unchanged 2-node up, whole process and broken down.

Run: .venv/bin/python bench/up_steps.py [--repeat N] [--nodes N] [--no-steps]
In a private stix home (real engine, real sshd nodes, a small workdir, `setup: "true"`, `run: "true"`): brings
up a 1-node cluster from nothing N times (each destroyed after), and re-runs `up -y` of an unchanged N-node
cluster N times; then one run of each with STIX_TIMINGS=1 (the step breakdown: each stage, each engine
invocation; setup and the run's submit/follow timed here too). Destroys everything and removes the home.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASK = """num_nodes: {nodes}
resources:
  infra: local
workdir: {workdir}
setup: "true"
run: "true"
"""

TIMED_MAIN = """
import sys
from stix import cluster_jobs, timings
cluster_jobs.submit = timings.timed("job: submit (setup and run, one job)")(cluster_jobs.submit)
cluster_jobs.follow = timings.timed("job: follow (setup's phase, then the run's)")(cluster_jobs.follow)
cluster_jobs.job = timings.timed("job: read its row")(cluster_jobs.job)
sys.argv = ["stix", *sys.argv[1:]]
from stix.cli import main
main()
"""


def stix(env: dict[str, str], cwd: Path, *args: str, timed_steps: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", TIMED_MAIN, *args] if timed_steps else [sys.executable, "-m", "stix", *args]
    run_env = {**env, "STIX_TIMINGS": "1"} if timed_steps else env
    result = subprocess.run(command, cwd=cwd, env=run_env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise SystemExit(f"stix {' '.join(args)}: exit {result.returncode}\n{result.stdout}{result.stderr}")
    return result


def timed(env: dict[str, str], cwd: Path, *args: str) -> float:
    started = time.perf_counter()
    stix(env, cwd, *args)
    return time.perf_counter() - started


def breakdown(env: dict[str, str], cwd: Path, *args: str) -> None:
    started = time.perf_counter()
    result = stix(env, cwd, *args, timed_steps=True)
    whole = time.perf_counter() - started
    for line in result.stderr.splitlines():
        if line.startswith("stix-timings "):
            print("   " + line[len("stix-timings "):])
    print(f"   {'whole process (measured outside)':44} {1000 * whole:7.0f} ms")


def report(what: str, samples: list[float]) -> None:
    print(f"{what:44} median {statistics.median(samples):5.2f} s  min {min(samples):5.2f} s  "
          f"max {max(samples):5.2f} s  (n={len(samples)})")


def load() -> str:
    return open("/proc/loadavg").read().split(" ")[0] if os.path.exists("/proc/loadavg") else "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--no-steps", action="store_true", help="whole-process times only (a stix without timings)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="stix-bench-up-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "STIX_"))}
    env.update(STIX_HOME=str(scratch / "home"), STIX_SSH_CONFIG=str(scratch / "ssh" / "config"), NO_COLOR="1")
    (scratch / "code").mkdir()
    (scratch / "code" / "train.py").write_text("print('hi')\n")
    one, many = scratch / "one.yaml", scratch / "many.yaml"
    one.write_text(TASK.format(nodes=1, workdir=scratch / "code"))
    many.write_text(TASK.format(nodes=args.nodes, workdir=scratch / "code"))
    print(f"load average at start: {load()}")
    try:
        cold = []
        for _ in range(args.repeat):
            cold.append(timed(env, scratch, "up", "-y", "-c", "cold", str(one)))
            stix(env, scratch, "down", "-y", "cold")
        report("cold `up -y` (1 node)", cold)
        print(f"first `up -y` ({args.nodes} nodes): {timed(env, scratch, 'up', '-y', '-c', 'warm', str(many)):.2f} s")
        unchanged = [timed(env, scratch, "up", "-y", "-c", "warm", str(many)) for _ in range(args.repeat)]
        report(f"unchanged `up -y` ({args.nodes} nodes)", unchanged)
        print(f"load average: {load()}")
        if args.no_steps:
            return
        print("cold `up -y` (1 node), step by step:")
        breakdown(env, scratch, "up", "-y", "-c", "cold", str(one))
        print(f"unchanged `up -y` ({args.nodes} nodes), step by step:")
        breakdown(env, scratch, "up", "-y", "-c", "warm", str(many))
    finally:
        for cluster in ("cold", "warm"):
            subprocess.run([sys.executable, "-m", "stix", "down", "-y", cluster], cwd=scratch, env=env,
                           capture_output=True, stdin=subprocess.DEVNULL)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
