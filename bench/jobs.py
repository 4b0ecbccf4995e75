"""Job figures on a local cluster: `stix exec -d` latency to RUNNING, queue throughput, `logs --tail` on 1 GB.

Run: .venv/bin/python bench/jobs.py [--jobs N] [--repeat N]
Brings up a 1-node local cluster in a temporary STIX_HOME and destroys it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLUSTER = "bench-jobs"


def stix(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stix", *args], env=env, cwd=REPO, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stix-bench-") as home:
        env = {**os.environ, "STIX_HOME": home}
        task = Path(home) / "cluster.yaml"
        task.write_text(f"name: {CLUSTER}\nresources:\n  infra: local\n")
        assert stix("up", "-y", str(task), env=env).returncode == 0
        try:
            run(args, env, Path(home))
        finally:
            stix("destroy", "-y", CLUSTER, env=env)


def run(args, env: dict, home: Path) -> None:
    os.environ["STIX_HOME"] = str(home)
    from stix.home import StixHome
    from stix.cluster_jobs import load_info, queue, submit
    from stix.ssh.runner import NodeConnection

    info = load_info(StixHome.from_env(), CLUSTER)
    head = NodeConnection(info.head, info.ssh_private_key_path)
    try:
        latencies = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            done = stix("exec", "-d", CLUSTER, "sleep 0.5", env=env)
            assert done.returncode == 0, done.stderr
            job_id = int(done.stdout.split()[1])
            while next(r for r in queue(head) if r["id"] == job_id)["status"] == "PENDING":
                time.sleep(0.01)
            latencies.append(time.perf_counter() - started)
        print(f"stix exec -d, submit to RUNNING (whole process): median {statistics.median(latencies) * 1000:.0f} ms, "
              f"min {min(latencies) * 1000:.0f} ms (n={len(latencies)})")
        while any(r["status"] in ("PENDING", "RUNNING") for r in queue(head)):
            time.sleep(0.1)

        ranks = [{"env": {}, "cwd": info.head.home}]
        started = time.perf_counter()
        ids = [submit(head, "noop", "true", ranks, 0.01, 0) for _ in range(args.jobs)]
        queued = time.perf_counter() - started
        while True:
            rows = {r["id"]: r for r in queue(head)}
            if all(rows[i]["status"] in ("SUCCEEDED", "FAILED") for i in ids):
                break
            time.sleep(0.2)
        drained = time.perf_counter() - started
        failed = sum(rows[i]["status"] != "SUCCEEDED" for i in ids)
        print(f"{args.jobs} jobs: queued in {queued:.1f} s ({args.jobs / queued:.0f} submits/s over one SSH connection), "
              f"all finished after {drained:.1f} s ({args.jobs / drained:.1f} jobs/s end to end), {failed} failed")

        log = info.head.home + f"/.stix-agent/jobs/{ids[-1]}/rank-0.log"
        with open(log, "wb") as handle:
            chunk = b"".join(b"%09d log line of a long training run\n" % i for i in range(100_000))
            for _ in range(1024 * 1024 * 1024 // len(chunk) + 1):
                handle.write(chunk)
        size = os.path.getsize(log)
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            done = stix("logs", CLUSTER, str(ids[-1]), "--no-follow", "--tail", "100", env=env)
            samples.append(time.perf_counter() - started)
            assert done.returncode == 0 and len(done.stdout.splitlines()) == 100, done.stdout[-300:]
        print(f"stix logs --tail 100 on a {size / 2**30:.2f} GiB log (whole process): "
              f"median {statistics.median(samples) * 1000:.0f} ms")
    finally:
        head.close()


if __name__ == "__main__":
    main()
