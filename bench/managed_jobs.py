"""Managed-job figures: N jobs launched at once (`stix jobs launch -d`, a trivial run, each on its own local
cluster), the controller's memory, the longest scheduling gap, and the time until all have succeeded.

Run: .venv/bin/python bench/managed_jobs.py [--jobs 100] [--timeout 3600]
Uses a temporary STIX_HOME; every job's cluster is torn down by the controller when the job ends.

Figures:
- controller RSS: peak (VmHWM of /proc/<pid>/status) and the largest VmRSS sampled;
- scheduling gap: a job's submit to its STARTING (the store stamps `started` on the first move past PENDING),
  and the longest wait between consecutive STARTINGs; the same for RUNNING (first seen, sampled every 0.2 s:
  the controller starts every job at once and bounds the launches, so RUNNING is where the waiting shows);
- total: the first submit to the last job ending, and how many succeeded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in KiB; empty once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {key: int(value.split()[0]) for key, value in (line.split(":", 1) for line in text.splitlines())
            if key in ("VmRSS", "VmHWM")}


class MemoryWatch(threading.Thread):
    """Samples the controller (whichever pid holds the lock) until stopped."""

    def __init__(self, home) -> None:
        super().__init__(daemon=True)
        self.home = home
        self.peak_hwm_kib = 0
        self.max_rss_kib = 0
        self.pids: set[int] = set()
        self.running: dict[int, float] = {}
        """job id -> when it was first seen RUNNING."""
        self.done = threading.Event()

    def run(self) -> None:
        from stix.managed.controller import controller_pid
        from stix.managed.store import RUNNING, JobStore

        store = JobStore(self.home)
        while not self.done.is_set():
            now = time.time()
            for job in store.all(include_finished=False):
                if job.status == RUNNING:
                    self.running.setdefault(job.id, now)
            pid = controller_pid(self.home)
            if pid is not None:
                self.pids.add(pid)
                status = proc_status(pid)
                self.peak_hwm_kib = max(self.peak_hwm_kib, status.get("VmHWM", 0))
                self.max_rss_kib = max(self.max_rss_kib, status.get("VmRSS", 0))
            self.done.wait(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100, help="how many managed jobs to launch at once")
    parser.add_argument("--timeout", type=float, default=3600, help="give up (and cancel what is left) after this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stix-bench-managed-") as root:
        os.environ.update({"STIX_HOME": str(Path(root) / "home"), "STIX_CONTROLLER_IDLE_EXIT": "5", "NO_COLOR": "1"})
        run(args, Path(root))


def run(args, root: Path) -> None:
    from stix.events import discard
    from stix.home import StixHome
    from stix.managed import client
    from stix.managed.controller import controller_pid
    from stix.managed.store import JobStore
    from stix.session import Session

    home = StixHome.from_env()
    store = JobStore(home)
    task = root / "noop.yaml"
    task.write_text("name: noop\nresources:\n  infra: local\n  cpus: 0.5\nrun: echo done\n")
    session = Session(home, discard)
    watch = MemoryWatch(home)
    watch.start()
    first_submit = time.time()
    ids = []
    for n in range(args.jobs):  # what `stix jobs launch -d -y` does, without starting N Python processes
        ids.append(client.launch(session, client.load_launch(task, name=f"noop-{n}", yes=True)))
    submitted_s = time.time() - first_submit
    print(f"{args.jobs} jobs submitted in {submitted_s:.1f} s (prechecks, record, ensure_controller each)")
    deadline = time.monotonic() + args.timeout
    try:
        while not all(job.done for job in (store.get(i) for i in ids) if job):
            if time.monotonic() > deadline:
                print(f"timed out after {args.timeout:g} s; cancelling what is left")
                client.cancel(session, ids, yes=True)
                break
            time.sleep(1)
    except KeyboardInterrupt:
        client.cancel(session, [i for i in ids if not store.get(i).done], yes=True)
        raise
    jobs = [store.get(i) for i in ids]
    watch.done.set()
    watch.join()
    report(jobs, first_submit, watch)
    pid = controller_pid(home)
    while pid is not None and controller_pid(home) is not None:  # it exits when idle; the home goes next
        time.sleep(0.5)


def report(jobs, first_submit: float, watch: MemoryWatch) -> None:
    from collections import Counter

    statuses = Counter(job.status for job in jobs)
    waits = [job.started - job.submitted for job in jobs if job.started]
    starts = sorted(job.started for job in jobs if job.started)
    between = [b - a for a, b in zip(starts, starts[1:])]
    ended = [job.ended for job in jobs if job.ended]
    print(f"statuses: {dict(statuses)}")
    print(f"controller RSS: peak {watch.peak_hwm_kib / 1024:.1f} MiB (VmHWM), largest sampled VmRSS "
          f"{watch.max_rss_kib / 1024:.1f} MiB; controller pids seen: {sorted(watch.pids)}")
    if waits:
        print(f"submit -> STARTING: median {statistics.median(waits):.1f} s, longest {max(waits):.1f} s")
    if between:
        print(f"longest gap between consecutive STARTINGs: {max(between):.1f} s")
    submitted = {job.id: job.submitted for job in jobs}
    running = sorted(watch.running.items(), key=lambda item: item[1])
    if running:
        to_running = [seen - submitted[job_id] for job_id, seen in running]
        gaps = [b[1] - a[1] for a, b in zip(running, running[1:])]
        print(f"submit -> RUNNING (first seen; {len(running)}/{len(jobs)} seen): median "
              f"{statistics.median(to_running):.1f} s, longest {max(to_running):.1f} s; longest gap between "
              f"consecutive RUNNINGs {max(gaps, default=0):.1f} s")
    if ended:
        print(f"first submit -> last job ended: {max(ended) - first_submit:.1f} s "
              f"({statuses.get('SUCCEEDED', 0)}/{len(jobs)} SUCCEEDED)")


if __name__ == "__main__":
    main()
