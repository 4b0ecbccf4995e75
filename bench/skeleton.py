"""Wall times of the walking skeleton's commands, and peak memory of `stix status`.

Run: .venv/bin/python bench/skeleton.py [--repeat N]
Uses a temporary STIX_HOME; the engine cache is shared (build it first with scripts/setup.sh).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STIX = [sys.executable, "-m", "stix"]


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(STIX + args, env=env, cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"bench: stix {' '.join(args)} failed: {done.stderr.strip()}")
    return elapsed


def peak_rss_mib(args: list[str], env: dict[str, str]) -> float:
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *STIX, *args], env=env, cwd=REPO,
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def report(label: str, samples: list[float]) -> None:
    median = statistics.median(samples)
    print(f"{label:42} median {median:6.3f}s  min {min(samples):6.3f}s  max {max(samples):6.3f}s  (n={len(samples)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stix-bench-") as home:
        env = {**os.environ, "STIX_HOME": home, "NO_COLOR": "1"}
        report("stix --help", [timed(["--help"], env) for _ in range(args.repeat)])

        from stix.index import UP, ClusterIndex

        index = ClusterIndex(Path(home) / "index.db")
        for i in range(20):
            index.upsert(f"bench-{i}", "local", 2, UP, None)
        report("stix status (20 clusters in the index)", [timed(["status"], env) for _ in range(args.repeat)])
        print(f"{'stix status peak RSS':42} {peak_rss_mib(['status'], env):.1f} MiB")
        for i in range(20):
            index.remove(f"bench-{i}")

        ups, reruns, destroys = [], [], []
        for i in range(max(1, args.repeat // 2)):
            name = f"bench-hello-{i}"
            ups.append(timed(["up", "-y", "-c", name, "examples/hello.yaml"], env))
            reruns.append(timed(["up", "-y", "-c", name, "examples/hello.yaml"], env))
            destroys.append(timed(["destroy", "-y", name], env))
        report("stix up -y examples/hello.yaml (from nothing)", ups)
        report("stix up -y (again, unchanged)", reruns)
        report("stix destroy -y", destroys)


if __name__ == "__main__":
    main()
