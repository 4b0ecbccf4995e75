"""Job figures on a local cluster: `stix exec -d` to RUNNING (whole process, and step by step), submit rates (one
job per round trip, a batch through submit_many, `stix exec` of many task files), the agent's finish rate for
trivial jobs, and `logs --tail 100` of a 1 GiB log.

Run: .venv/bin/python bench/jobs.py [--jobs N] [--files N] [--repeat N]
Brings up a 1-node local cluster in a temporary STIX_HOME and destroys it afterwards. Times the agent records
(submitted, started, ended: the head's clock, which is this machine's) measure what happens on the head.
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
CLUSTER = "bench-jobs"


def stix(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stix", *args], env=env, cwd=REPO, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def ms(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds) * 1000:.0f} ms, min {min(seconds) * 1000:.0f} ms (n={len(seconds)})"


def python_ms(code: str, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env=os.environ)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in the submit_many batch (and finish rate)")
    parser.add_argument("--files", type=int, default=200, help="task files given to one `stix exec -d`")
    parser.add_argument("--single", type=int, default=200, help="jobs submitted one per round trip")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--no-logs", action="store_true", help="skip the 1 GiB log")
    parser.add_argument("--keep-env", action="store_true",
                        help="run stix as the environment says (by default PYTHONDONTWRITEBYTECODE is dropped, as on "
                             "a user's machine: without cached bytecode every start compiles stix's sources)")
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}, "
          f"{os.cpu_count()} CPUs")
    if not args.keep_env:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    print(f"bytecode cache: {'off' if os.environ.get('PYTHONDONTWRITEBYTECODE') else 'on'}")
    with tempfile.TemporaryDirectory(prefix="stix-bench-") as home:
        env = {**os.environ, "STIX_HOME": home}
        task = Path(home) / "cluster.yaml"
        task.write_text(f"name: {CLUSTER}\nresources:\n  infra: local\n")
        done = stix("up", "-y", str(task), env=env)
        assert done.returncode == 0, done.stderr
        try:
            run(args, env, Path(home))
        finally:
            stix("destroy", "-y", CLUSTER, env=env)


def wait_rows(head, ids: list[int], done) -> dict[int, dict]:
    from stix.cluster_jobs import queue

    wanted = set(ids)
    while True:
        rows = {r["id"]: r for r in queue(head) if r["id"] in wanted}
        if len(rows) == len(wanted) and all(done(r) for r in rows.values()):
            return rows
        time.sleep(0.05)


def run(args, env: dict, home: Path) -> None:
    os.environ["STIX_HOME"] = str(home)
    from stix import cluster_jobs, flows
    from stix.events import discard
    from stix.home import StixHome
    from stix.hooks import job_ranks
    from stix.models.task import Task
    from stix.session import Session

    info = cluster_jobs.load_info(StixHome.from_env(), CLUSTER)
    with cluster_jobs.connect_head(info) as head:
        exec_d(args, env, head)
        breakdown(args, info, flows, Session(StixHome.from_env(), discard, None), Task, job_ranks)

        spec = cluster_jobs.job_spec("noop", "true", [{"env": {}, "cwd": info.head.home}], 0.01, 0)
        started = time.perf_counter()
        ids = [cluster_jobs.submit(head, "noop", "true", spec["ranks"], 0.01, 0) for _ in range(args.single)]
        took = time.perf_counter() - started
        print(f"submit, one job per round trip: {args.single} jobs in {took:.2f} s ({args.single / took:.0f} jobs/s)")
        wait_rows(head, ids, lambda r: r["status"] in ("SUCCEEDED", "FAILED"))

        started = time.perf_counter()
        ids = cluster_jobs.submit_many(head, [spec] * args.jobs)
        took = time.perf_counter() - started
        print(f"submit_many: {args.jobs} jobs in one round trip, {took * 1000:.0f} ms ({args.jobs / took:.0f} jobs/s)")
        rows = wait_rows(head, ids, lambda r: r["status"] in ("SUCCEEDED", "FAILED"))
        span = max(r["ended"] for r in rows.values()) - min(r["submitted"] for r in rows.values())
        failed = sum(r["status"] != "SUCCEEDED" for r in rows.values())
        print(f"finish rate (`true`, 0.01 CPU each, on the agent's clock): {args.jobs} jobs submitted to all ended "
              f"in {span:.2f} s ({args.jobs / span:.0f} jobs/s), {failed} failed")

        files = []
        for number in range(args.files):
            path = home / f"task-{number}.yaml"
            path.write_text(f"name: t{number}\nrun: 'true'\nresources:\n  cpus: 0.01\n")
            files.append(str(path))
        started = time.perf_counter()
        done = stix("exec", "-d", CLUSTER, *files, env=env)
        took = time.perf_counter() - started
        assert done.returncode == 0, done.stderr
        print(f"stix exec -d of {args.files} task files (whole process): {took:.2f} s ({args.files / took:.0f} jobs/s)")
        rows_now = cluster_jobs.queue(head)
        wait_rows(head, [r["id"] for r in rows_now], lambda r: r["status"] not in ("PENDING", "RUNNING"))

        if not args.no_logs:
            tail_logs(args, env, info, ids[-1])


def exec_d(args, env: dict, head) -> None:
    """Whole process: from spawning `stix exec -d` to the agent's start of the job (its clock)."""
    from stix.cluster_jobs import queue

    totals, pickups = [], []
    for _ in range(args.repeat):
        started = time.time()
        done = stix("exec", "-d", CLUSTER, "sleep 0.2", env=env)
        assert done.returncode == 0, done.stderr
        job_id = int(done.stdout.split()[1])
        while True:
            row = next(r for r in queue(head) if r["id"] == job_id)
            if row["started"] is not None:
                break
            time.sleep(0.005)
        totals.append(row["started"] - started)
        pickups.append(row["started"] - row["submitted"])
    print(f"stix exec -d, process start to RUNNING (whole process): {ms(totals)}")
    print(f"  of which the agent's pick-up, queued to RUNNING: {ms(pickups)}")


def breakdown(args, info, flows, session, Task, job_ranks) -> None:
    """`stix exec -d CLUSTER 'cmd'` step by step (each in this process; the imports in a fresh one)."""
    from stix import cluster_jobs

    repeat = args.repeat
    bare = python_ms("pass", repeat)
    cli = python_ms("import stix.cli", repeat)
    flow = python_ms("import stix.cli, stix.flows, stix.loader, stix.overrides, stix.models.task", repeat)
    model = python_ms("import stix.cli, stix.flows, stix.loader, stix.overrides, stix.models.task\n"
                      "stix.models.task.Task.of_command('true', {}, {})", repeat)
    print(f"  python start: {ms(bare)}")
    print(f"  + import stix.cli (typer, the commands): {ms(cli)}")
    print(f"  + what exec imports (stix.flows, the loader, the task models; rich only on a terminal): {ms(flow)}")
    print(f"  + the task of a command (Task.of_command): {ms(model)}")
    tasks, connects, submits = [], [], []
    for _ in range(repeat):
        started = time.perf_counter()
        task = flows._policed_exec(session, flows.ExecRequest(CLUSTER, Task(run="true")))
        job = flows._exec_job(CLUSTER, task, cluster_jobs.load_info(session.home, CLUSTER))
        ranks = job_ranks(job.info, job.task, job.context)
        tasks.append(time.perf_counter() - started)
        started = time.perf_counter()
        with cluster_jobs.connect_head(job.info) as head:
            connects.append(time.perf_counter() - started)
            started = time.perf_counter()
            cluster_jobs.submit(head, None, "true", ranks, 0.01, 0)
            submits.append(time.perf_counter() - started)
    print(f"  task (policy, saved node list, checks, ranks): {ms(tasks)}")
    print(f"  connect to the head (connect_head): {ms(connects)}")
    print(f"  submit round trip: {ms(submits)}")


def tail_logs(args, env: dict, info, job_id: int) -> None:
    log = info.head.home + f"/.stix-agent/jobs/{job_id}/rank-0.log"
    with open(log, "wb") as handle:
        chunk = b"".join(b"%09d log line of a long training run\n" % i for i in range(100_000))
        for _ in range(1024 * 1024 * 1024 // len(chunk) + 1):
            handle.write(chunk)
    size = os.path.getsize(log)
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        done = stix("logs", CLUSTER, str(job_id), "--no-follow", "--tail", "100", env=env)
        samples.append(time.perf_counter() - started)
        assert done.returncode == 0 and len(done.stdout.splitlines()) == 100, done.stdout[-300:]
    print(f"stix logs --tail 100 on a {size / 2**30:.2f} GiB log (whole process): {ms(samples)}")
    os.unlink(log)


if __name__ == "__main__":
    main()
