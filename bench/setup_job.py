"""The setup-and-run part of `stix up`, step by step, on an UP 2-node local cluster: setup from the client over its
SSH connections then the run as a job (before issue 23), against setup as the job's first phase on the agent.

Run: .venv/bin/python bench/setup_job.py [--repeat N]
Brings a cluster up in a private stix home (real engine, real sshd nodes), installs the agent, then times each way
with a trivial setup and run (`true`), and destroys the cluster.
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

TASK = """name: bsetup
num_nodes: 2
resources:
  infra: local
setup: "true"
run: "true"
"""


def report(what: str, samples: list[float]) -> None:
    print(f"{what:44} median {statistics.median(samples) * 1000:6.0f} ms  min {min(samples) * 1000:6.0f} ms  "
          f"max {max(samples) * 1000:6.0f} ms  (n={len(samples)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    root = Path(tempfile.mkdtemp(prefix="stix-bench-setup-"))
    for key in [key for key in os.environ if key.startswith(("PULUMI_", "STIX_"))]:
        del os.environ[key]
    os.environ.update(STIX_HOME=str(root / "home"), STIX_SSH_CONFIG=str(root / "ssh" / "config"), NO_COLOR="1")
    (root / "task.yaml").write_text(TASK)
    os.chdir(root)
    stix = [sys.executable, "-m", "stix"]
    try:
        launched = subprocess.run([*stix, "up", "-y", str(root / "task.yaml")], capture_output=True, text=True)
        if launched.returncode != 0:
            raise SystemExit(f"stix up: exit {launched.returncode}\n{launched.stdout}{launched.stderr}")
        measure(repeat)
    finally:
        subprocess.run([*stix, "destroy", "-y", "bsetup"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def measure(repeat: int) -> None:
    from stix import cluster_jobs
    from stix.home import StixHome
    from stix.hooks import JobContext, job_ranks, node_env, remote_workdir, setup_keys, setup_timeout, shell_command
    from stix.loader import load_task
    from stix.ssh.runner import ClusterConnections

    home = StixHome.from_env()
    info = cluster_jobs.load_info(home, "bsetup")
    task = load_task(Path(os.environ["STIX_HOME"]).parent / "task.yaml")
    context = JobContext("bench", 0.0)
    steps: dict[str, list[float]] = {}

    def step(name: str, started: float) -> float:
        now = time.perf_counter()
        steps.setdefault(name, []).append(now - started)
        return now

    with ClusterConnections(info) as conns:
        head = conns.connections[0]
        env = {**task.env_values(), **task.secret_values()}
        for _ in range(repeat):
            t0 = t = time.perf_counter()
            conns.run_scripts(lambda node: shell_command(task.setup, {**env, **node_env(info, node, context, "setup")},
                                                         remote_workdir(node)), lambda node, line: None, setup_timeout())
            t = step("before: setup over the client's SSH", t)
            job_id = cluster_jobs.submit(head, task.name, task.run, job_ranks(info, task, context), 0.5, 0)
            t = step("before: submit the run", t)
            cluster_jobs.follow(head, job_id, lambda line: None)
            t = step("before: follow the run to its end", t)
            cluster_jobs.job(head, job_id)
            step("before: read its row", t)
            step("before: total", t0)

            t0 = t = time.perf_counter()
            job_id = cluster_jobs.submit(head, task.name, task.run, job_ranks(info, task, context), 0.5, 0,
                                         setup_keys(info, task, context))
            t = step("after: submit setup + run (one job)", t)
            code = cluster_jobs.follow(head, job_id, lambda line: None, phase="setup")
            assert code == 0, code  # past setup: the row is read only when it is not
            t = step("after: follow setup to its end", t)
            cluster_jobs.follow(head, job_id, lambda line: None, phase="run")
            t = step("after: follow the run to its end", t)
            cluster_jobs.job(head, job_id)
            step("after: read its row", t)
            step("after: total", t0)
    for name, samples in steps.items():
        report(name, samples)


if __name__ == "__main__":
    main()
