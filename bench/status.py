"""`stix status` with 1,000 clusters in the index: whole-process time and peak RSS, with a breakdown.

Run: .venv/bin/python bench/status.py [--clusters 1000] [--repeat 7]
The index is filled through stix.index's API in a temporary home. Goal: <= 0.2 s and <= 60 MiB.
Figures are medians; note the machine's load (printed) with them.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def fill(home: Path, count: int) -> None:
    from stix.index import ClusterIndex

    index = ClusterIndex(home / "index.db")
    for i in range(count):
        name = f"bench-{i:04d}"
        index.upsert(name, "local", 1 + i % 4, "UP" if i % 3 else "STOPPED", f"/work/tasks/{name}.yaml",
                     resources_str=f"{1 + i % 4}x local(-, cpus=4, mem=8)", hourly_cost=0.0)
        if i % 5 == 0:
            index.set_autostop(name, "30m" + (" (down)" if i % 10 == 0 else ""))


def run(argv: list[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    times, peaks = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        while proc.stdout.read(65536):
            pass
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - started)
        peaks.append(usage.ru_maxrss / 1024)
        assert status == 0, f"{argv} failed"
    return statistics.median(times), max(peaks)


def breakdown(home: Path) -> list[tuple[str, float]]:
    """In-process steps of `stix status` (this interpreter has stix imported already: index read and render)."""
    os.environ["STIX_HOME"] = str(home)
    from rich.console import Console

    from stix.home import StixHome
    from stix.index import ClusterIndex
    from stix.render import status_table, status_text

    steps = []
    started = time.perf_counter()
    records = ClusterIndex(StixHome.from_env().index_db).all()
    steps.append(("read the index (1 query)", time.perf_counter() - started))
    started = time.perf_counter()
    console = Console(file=io.StringIO(), width=200)
    console.print(status_text(records, 200), no_wrap=True, overflow="ignore", crop=False, markup=False)
    steps.append(("draw the table (status_text)", time.perf_counter() - started))
    started = time.perf_counter()
    Console(file=io.StringIO(), width=200).print(status_table(records))
    steps.append(("(before: rich Table, for comparison)", time.perf_counter() - started))
    return steps


def import_time(module: str, env: dict[str, str], repeat: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return statistics.median(float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                                  text=True, check=True).stdout) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="stix-bench-status-"))
    try:
        fill(home, args.clusters)
        env = {**os.environ, "STIX_HOME": str(home), "COLUMNS": "200"}
        print(f"load: {os.getloadavg()[0]:.2f} (1 min); {args.clusters} clusters; median of {args.repeat}")
        bare, bare_mib = run([sys.executable, "-c", "pass"], env, args.repeat)
        print(f"  bare python                          {bare * 1000:6.0f} ms  {bare_mib:5.1f} MiB")
        for label, argv in (("stix status", ["status"]), ("stix status --format json", ["status", "--format", "json"])):
            seconds, mib = run([sys.executable, "-m", "stix", *argv], env, args.repeat)
            print(f"  {label:36} {seconds * 1000:6.0f} ms  {mib:5.1f} MiB (peak RSS)")
        print("breakdown:")
        for module in ("rich.console", "stix.cli"):
            print(f"  import {module:29} {import_time(module, env, args.repeat) * 1000:6.0f} ms")
        for label, seconds in breakdown(home):
            print(f"  {label:36} {seconds * 1000:6.0f} ms")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
