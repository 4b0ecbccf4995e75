"""Reused SSH connections: `stix queue` cold (no master) vs warm, and `logs --tail 100` of a 1 GiB log, with the
breakdown (whole process, then the steps in-process).

Run: .venv/bin/python bench/ssh_reuse.py [--repeat N]
Brings up a 1-node local cluster in a temporary STIX_HOME and destroys it afterwards. Goal: logs --tail 100 of
1 GiB <= 0.2 s warm. Note the machine's load (printed) with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLUSTER = "bench-reuse"


def stix(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stix", *args], env=env, cwd=REPO, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def timed(argv: tuple[str, ...], env: dict, repeat: int, before=None) -> float:
    samples = []
    for _ in range(repeat):
        if before:
            before()
        started = time.perf_counter()
        done = stix(*argv, env=env)
        samples.append(time.perf_counter() - started)
        assert done.returncode == 0, done.stdout + done.stderr
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
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
    from stix import cluster_jobs
    from stix.home import StixHome
    from stix.ssh import mux

    stix_home = StixHome.from_env()
    info = cluster_jobs.load_info(stix_home, CLUSTER)
    release = lambda: cluster_jobs.release_connections(stix_home, CLUSTER, info)  # noqa: E731
    with cluster_jobs.connect_head(info) as head:
        ranks = [{"env": {}, "cwd": info.head.home}]
        job_id = cluster_jobs.submit(head, "log", "true", ranks, 0.01, 0)
        while cluster_jobs.job(head, job_id)["status"] not in ("SUCCEEDED", "FAILED"):
            time.sleep(0.05)
    log = Path(info.head.home) / f".stix-agent/jobs/{job_id}/rank-0.log"
    with open(log, "wb") as handle:
        chunk = b"".join(b"%09d log line of a long training run\n" % i for i in range(100_000))
        for _ in range(1024 * 1024 * 1024 // len(chunk) + 1):
            handle.write(chunk)
    size = log.stat().st_size
    try:
        print(f"load: {os.getloadavg()[0]:.2f} (1 min); median of {args.repeat}; whole process")
        queue = ("queue", CLUSTER)
        logs = ("logs", CLUSTER, str(job_id), "--no-follow", "--tail", "100")
        paramiko = {**env, "STIX_SSH_REUSE": "0"}
        print(f"  stix queue, paramiko (no reuse)        {timed(queue, paramiko, args.repeat) * 1000:6.0f} ms")
        print(f"  stix queue, cold (opens the master)    {timed(queue, env, args.repeat, release) * 1000:6.0f} ms")
        print(f"  stix queue, warm (reuses it)           {timed(queue, env, args.repeat) * 1000:6.0f} ms")
        print(f"  logs --tail 100 of {size / 2**30:.2f} GiB, paramiko    {timed(logs, paramiko, args.repeat) * 1000:6.0f} ms")
        print(f"  logs --tail 100 of {size / 2**30:.2f} GiB, cold        {timed(logs, env, args.repeat, release) * 1000:6.0f} ms")
        print(f"  logs --tail 100 of {size / 2**30:.2f} GiB, warm        {timed(logs, env, args.repeat) * 1000:6.0f} ms")
        print("breakdown (in-process):")
        code = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"
        for module in ("stix.cli", "paramiko"):
            seconds = statistics.median(float(subprocess.run([sys.executable, "-c", code.format(module)], env=env,
                                                             capture_output=True, text=True).stdout)
                                        for _ in range(args.repeat))
            print(f"  import {module:33} {seconds * 1000:6.1f} ms")
        steps: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            release()
            for label in ("first command (starts the master)", "next command (reuses it)"):
                conn = mux.connect(info.head, info.ssh_private_key_path)
                assert conn is not None
                started = time.perf_counter()
                conn.run("true")
                steps.setdefault(f"ssh round trip, {label}", []).append(time.perf_counter() - started)
            with cluster_jobs.connect_head(info) as head:
                started = time.perf_counter()
                cluster_jobs.queue(head)
                steps.setdefault("agent `queue` call, warm", []).append(time.perf_counter() - started)
                started = time.perf_counter()
                cluster_jobs.follow(head, job_id, lambda line: None, tail=100, follow_=False)
                steps.setdefault("agent `logs --tail 100` call, warm", []).append(time.perf_counter() - started)
        from stix.ssh.runner import NodeConnection

        started = time.perf_counter()
        direct = NodeConnection(info.head, info.ssh_private_key_path)
        steps["paramiko connect (handshake, auth)"] = [time.perf_counter() - started]
        direct.close()
        for label, samples in steps.items():
            print(f"  {label:40} {statistics.median(samples) * 1000:6.1f} ms")
    finally:
        release()
        log.unlink()


if __name__ == "__main__":
    main()
