"""`stix drift` on a 4-node local cluster with no drift, and `stix preview` on it unchanged: whole process.

Run: .venv/bin/python bench/drift.py [--repeat N] [--nodes N]
Brings a cluster up in a private stix home (real engine, real sshd nodes), times each command as a
user runs it (a fresh `stix` process each time), then destroys the cluster and removes the home.
Also times plain `pulumi preview -s` in a stix project on the same cluster, for comparison.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASK = """name: bench
num_nodes: {nodes}
resources:
  infra: local
run: "true"
"""


def stix(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stix", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def timed(fn, repeat: int, expect_rc: int = 0) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - started)
        if result.returncode != expect_rc:
            raise SystemExit(f"exit {result.returncode}, expected {expect_rc}:\n{result.stdout}{result.stderr}")
    return samples


def report(what: str, samples: list[float]) -> None:
    print(f"{what:48} median {statistics.median(samples):5.2f} s  min {min(samples):5.2f} s  "
          f"max {max(samples):5.2f} s  (n={len(samples)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=4)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="stix-bench-drift-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "STIX_"))}
    env.update(STIX_HOME=str(scratch / "home"), STIX_SSH_CONFIG=str(scratch / "ssh" / "config"), NO_COLOR="1")
    project = scratch / "project"
    try:
        if stix(env, scratch, "init", str(project)).returncode != 0:
            raise SystemExit("stix init failed")
        (project / "bench.yaml").write_text(TASK.format(nodes=args.nodes))
        started = time.perf_counter()
        up = stix(env, project, "up", "-y", "bench.yaml")
        if up.returncode != 0:
            raise SystemExit(up.stdout + up.stderr)
        print(f"stix up ({args.nodes} local nodes, cold stack): {time.perf_counter() - started:.2f} s")
        report(f"stix drift bench ({args.nodes} nodes, no drift)",
               timed(lambda: stix(env, project, "drift", "bench"), args.repeat))
        report("stix preview bench.yaml (unchanged)",
               timed(lambda: stix(env, project, "preview", "bench.yaml"), args.repeat))
        plain = dict(env)
        for line in stix(env, project, "env").stdout.splitlines():
            key, value = line[len("export "):].split("=", 1)
            plain[key] = shlex.split(value)[0]
        pulumi = shutil.which("pulumi", path=plain["PATH"])
        report("pulumi preview -s bench (plain CLI, unchanged)",
               timed(lambda: subprocess.run([pulumi, "preview", "-s", "bench"], cwd=project, env=plain,
                                            capture_output=True, text=True), args.repeat))
    finally:
        stix(env, project, "destroy", "-y", "bench")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
