"""Managed-job recovery on the local cloud: time from a node's loss to the job RUNNING again.

Run: .venv/bin/python bench/managed_recovery.py [--repeat N]
Each round submits a job to the real controller in a temporary STIX_HOME, kills the head node's sshd and
everything on it once the job runs, and times detection (RECOVERING) and recovery (RUNNING again on a new
cluster); the job is then cancelled, which tears its cluster down.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

TASK = "name: bench-rec\nresources:\n  infra: local\nrun: |\n  for i in $(seq 1 3000); do echo tick $i; sleep 0.1; done\n"


def wait(predicate, timeout: float = 180.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("timed out")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stix-bench-") as root:
        os.environ.update({"STIX_HOME": str(Path(root) / "home"), "STIX_CONTROLLER_IDLE_EXIT": "2"})
        os.chdir(root)
        print(json.dumps(run(args.repeat), indent=1))


def run(repeat: int) -> dict:
    from stix.components.local import sshd
    from stix.home import StixHome
    from stix.loader import load_pipeline_text
    from stix.managed import store as st
    from stix.managed.controller import controller_pid, ensure_controller

    home = StixHome.from_env()
    jobs = st.JobStore(home)
    detected, recovered = [], []
    for _ in range(repeat):
        job_id = jobs.submit("bench-rec", load_pipeline_text(TASK).tasks, "stix-bench-rec")
        ensure_controller(home)
        running = wait(lambda: (job := jobs.get(job_id)) is not None and job.status == st.RUNNING and job)
        wait(lambda: "tick 2" in jobs.log_path(job_id, 0, 1).read_text())
        cluster = running.tasks[0].cluster
        head = next(p for p in (home.root / "clusters" / cluster / "nodes").iterdir() if p.name.endswith("-head"))
        lost = time.monotonic()
        sshd.kill_all(sshd.processes_under(head))
        wait(lambda: jobs.get(job_id).status == st.RECOVERING, interval=0.01)
        detected.append(time.monotonic() - lost)
        wait(lambda: (job := jobs.get(job_id)).status == st.RUNNING and job.recoveries == 1, interval=0.01)
        recovered.append(time.monotonic() - lost)
        jobs.request_cancel([job_id])
        wait(lambda: jobs.get(job_id).done)
    wait(lambda: controller_pid(home) is None, timeout=60)
    left = sorted(str(p) for p in home.root.glob("clusters/*/nodes/*"))
    return {"node_loss_to_recovering_s": [round(x, 2) for x in detected],
            "node_loss_to_running_again_s": [round(x, 2) for x in recovered],
            "median_to_running_again_s": round(statistics.median(recovered), 2),
            "clusters_left": left}


if __name__ == "__main__":
    main()
