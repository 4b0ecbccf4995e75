"""Failover past two refusing zones: `stix up -y` of a new local cluster when local-a and local-b refuse capacity
(STIX_LOCAL_FAULTS) and it lands in local-c, against the same `up` landing in local-a at once.

Run: .venv/bin/python bench/failover.py [--repeat N] [--nodes N]
Each sample is a whole `stix up -y` process in a private stix home (real engine, real sshd nodes), followed by
`stix destroy -y` (not timed). Prints the medians and what failing over past two zones adds.
"""

from __future__ import annotations

import argparse
import json
import os
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
"""


def stix(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stix", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def up_times(env: dict[str, str], cwd: Path, repeat: int, zone: str) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = stix(env, cwd, "up", "-y", "bench.yaml")
        samples.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise SystemExit(f"up failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        landed = json.loads((Path(env["STIX_HOME"]) / "clusters" / "bench" / "spec.json").read_text())["zone"]
        if landed != zone:
            raise SystemExit(f"landed in {landed}, expected {zone}:\n{result.stdout}")
        down = stix(env, cwd, "destroy", "-y", "bench")
        if down.returncode != 0:
            raise SystemExit(f"destroy failed:\n{down.stdout}{down.stderr}")
    return samples


def report(what: str, samples: list[float]) -> None:
    print(f"{what:44} median {statistics.median(samples):5.2f} s  min {min(samples):5.2f} s  "
          f"max {max(samples):5.2f} s  (n={len(samples)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=2)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="stix-bench-failover-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "STIX_"))}
    env.update(STIX_HOME=str(scratch / "home"), STIX_SSH_CONFIG=str(scratch / "ssh" / "config"), NO_COLOR="1")
    (scratch / "bench.yaml").write_text(TASK.format(nodes=args.nodes))
    faults = scratch / "faults.json"
    try:
        direct = up_times(env, scratch, args.repeat, "local-a")
        faults.write_text(json.dumps({"refuse": ["local-a", "local-b"]}))
        failover = up_times({**env, "STIX_LOCAL_FAULTS": str(faults)}, scratch, args.repeat, "local-c")
    finally:
        stix(env, scratch, "destroy", "-y", "bench")
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"stix up -y, {args.nodes} local node(s), whole process:")
    report("lands in local-a (no refusal)", direct)
    report("local-a, local-b refuse; lands in local-c", failover)
    print(f"failing over past two refusing zones adds {statistics.median(failover) - statistics.median(direct):.2f} s "
          f"(median); {(statistics.median(failover) - statistics.median(direct)) / 2:.2f} s per refused zone")


if __name__ == "__main__":
    main()
