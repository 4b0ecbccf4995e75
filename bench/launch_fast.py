"""`stix launch --fast` against a plain re-launch of an UP, unchanged cluster: whole process, as a user runs it.

Run: .venv/bin/python bench/launch_fast.py [--repeat N] [--nodes N]
Brings a cluster up in a private stix home (real engine, real sshd nodes), then alternates
`stix launch -y -c bench task.yaml` (preview with refresh, no changes, setup, run) and the same with
--fast (no engine call, no setup; sync and run), then destroys the cluster and removes the home.
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


def stix(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stix", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def timed(env: dict[str, str], cwd: Path, *args: str) -> float:
    started = time.perf_counter()
    result = stix(env, cwd, *args)
    if result.returncode != 0:
        raise SystemExit(f"stix {' '.join(args)}: exit {result.returncode}\n{result.stdout}{result.stderr}")
    return time.perf_counter() - started


def report(what: str, samples: list[float]) -> None:
    print(f"{what:52} median {statistics.median(samples):5.2f} s  min {min(samples):5.2f} s  "
          f"max {max(samples):5.2f} s  (n={len(samples)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=2)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="stix-bench-fast-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "STIX_"))}
    env.update(STIX_HOME=str(scratch / "home"), STIX_SSH_CONFIG=str(scratch / "ssh" / "config"), NO_COLOR="1")
    (scratch / "code").mkdir()
    (scratch / "code" / "train.py").write_text("print('hi')\n")
    task = scratch / "task.yaml"
    task.write_text(TASK.format(nodes=args.nodes, workdir=scratch / "code"))
    try:
        print(f"first launch ({args.nodes} local nodes): {timed(env, scratch, 'launch', '-y', '-c', 'bench', str(task)):.2f} s")
        plain, fast = [], []
        for _ in range(args.repeat):
            plain.append(timed(env, scratch, "launch", "-y", "-c", "bench", str(task)))
            fast.append(timed(env, scratch, "launch", "-y", "-c", "bench", "--fast", str(task)))
        report(f"stix launch (re-launch, unchanged, {args.nodes} nodes)", plain)
        report(f"stix launch --fast (re-launch, unchanged, {args.nodes} nodes)", fast)
        print(f"--fast saves {statistics.median(plain) - statistics.median(fast):.2f} s "
              f"({statistics.median(plain) / statistics.median(fast):.1f}x faster, medians)")
    finally:
        stix(env, scratch, "down", "-y", "bench")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
