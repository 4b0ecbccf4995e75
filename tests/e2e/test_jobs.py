"""End to end: jobs on an up local cluster through the node agent, without Pulumi."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from stix.agent.node_agent import DAEMON_LOG_FILE, REMOTE_DIR, TERMINAL
from stix.components.local import sshd
from tests.e2e.test_local_cluster import field, lines_of
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

CLUSTER = "e2e-jobs"


@pytest.fixture
def cluster(stix, stix_home, tmp_path, engine):
    task = tmp_path / "cluster.yaml"
    task.write_text(f"name: {CLUSTER}\nnum_nodes: 2\nresources:\n  infra: local\n")
    up = stix("up", "-y", str(task))
    assert up.returncode == 0, up.stdout + up.stderr
    yield json.loads((stix_home / "clusters" / CLUSTER / "info.json").read_text())
    assert stix("destroy", "-y", CLUSTER).returncode == 0


def queue(stix) -> dict[int, dict]:
    from stix.home import StixHome
    from stix.cluster_jobs import load_info
    from stix.cluster_jobs import queue as read_queue
    from stix.ssh.runner import NodeConnection

    info = load_info(StixHome.from_env(), CLUSTER)
    head = NodeConnection(info.head, info.ssh_private_key_path)
    try:
        return {row["id"]: row for row in read_queue(head)}
    finally:
        head.close()


def connection(key: str) -> str:
    """A shell snippet printing KEY=<pid of the sshd process serving this rank's SSH connection> (1 on the head,
    whose ranks the agent runs locally): ranks over one connection print one pid."""
    return ('p=$$; while [ "$p" -gt 1 ] && [ "$(cat /proc/$p/comm)" != sshd ]; do p=$(cut -d" " -f4 /proc/$p/stat); '
            f'done; echo "{key}=$p"')


def masters(stix_home: Path, cluster: str = CLUSTER) -> list[int]:
    """The head agent's master connections to the workers (node_agent.Masters)."""
    head = stix_home / "clusters" / cluster / "nodes" / f"{cluster}-head"
    return sorted(pid for pid in sshd.processes_under(head)
                  if "ControlMaster=yes" in (argv := sshd._cmdline(pid)) and "-M" in argv)


def connections_to(stix_home: Path, node: str) -> int:
    """TCP connections the node's sshd has accepted so far (its log, LogLevel VERBOSE)."""
    log = stix_home / "clusters" / CLUSTER / "nodes" / node / "sshd.log"
    return log.read_text().count("Connection from ")


def job_task(tmp_path: Path, name: str, cpus: float, run: str, nodes: int = 1) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nnum_nodes: {nodes}\nresources:\n  cpus: {cpus:g}\nrun: {json.dumps(run)}\n")
    return str(path)


def test_exec_streams_output_and_exit_status(stix, cluster):
    ok = stix("exec", CLUSTER, 'echo "rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES"')
    assert ok.returncode == 0, ok.stderr
    assert "(head, rank=0) rank 0 of 1" in ok.stdout, "a command runs on the head alone"
    failed = stix("exec", CLUSTER, "echo before; exit 7")
    assert failed.returncode == 7
    assert "(head, rank=0) before" in failed.stdout
    assert "stix: error: job 2 on e2e-jobs FAILED: rank 0 (e2e-jobs-head) exited 7" in failed.stderr


def test_jobs_run_in_parallel_when_they_fit_and_queue_when_not(stix, cluster, tmp_path):
    capacity = cluster["nodes"][0]["cpus"]
    half = job_task(tmp_path, "half", capacity / 2, "sleep 30")
    for _ in range(2):
        assert stix("exec", "-d", CLUSTER, half).returncode == 0
    wait_for(lambda: [r["status"] for r in queue(stix).values() if r["name"] == "half"] == ["RUNNING", "RUNNING"],
             what="two half-size jobs running together")
    assert stix("cancel", CLUSTER, "-a").returncode == 0
    whole = job_task(tmp_path, "whole", capacity, "sleep 30")
    for _ in range(2):
        assert stix("exec", "-d", CLUSTER, whole).returncode == 0
    # Once the first runs, the scheduler has seen both: the second stays queued behind it.
    states = wait_for(lambda: (found := [r["status"] for r in queue(stix).values() if r["name"] == "whole"])
                      and found[0] == "RUNNING" and found, what="the first whole-size job to start")
    assert states == ["RUNNING", "PENDING"], states
    assert stix("cancel", CLUSTER, "-a").returncode == 0


def test_cancel_kills_the_job_on_every_node(stix, stix_home, cluster, tmp_path):
    spec = job_task(tmp_path, "long", 0.5, "sleep 300 & sleep 301; wait", nodes=2)
    assert stix("exec", "-d", CLUSTER, spec).returncode == 0
    root = stix_home / "clusters" / CLUSTER

    def sleepers() -> list[int]:
        return [pid for pid in sshd.processes_under(root) if sshd._cmdline(pid) in (["sleep", "300"], ["sleep", "301"])]

    wait_for(lambda: len(sleepers()) == 4, what="the job's processes on both nodes")
    master = masters(stix_home)
    assert len(master) == 1, "the worker's rank runs over the head's master connection"
    result = stix("cancel", CLUSTER, "1")
    assert result.returncode == 0 and result.stdout.strip() == "cancelled: 1"
    wait_for(lambda: not sleepers(), timeout=15, what="every process of the cancelled job to exit")
    assert queue(stix)[1]["status"] == "CANCELLED"
    assert masters(stix_home) == master, "killing the rank's group left the master (its own session) alone"


def test_jobs_reach_a_worker_over_one_reused_connection(stix, stix_home, cluster, tmp_path):
    """The head's agent opens one master connection to the worker and runs every later job's rank over it: the
    worker's sshd accepts no new connection, and each rank is served by the same sshd process."""
    spec = job_task(tmp_path, "conn", 0.5, connection("CONN"), nodes=2)
    first = stix("exec", CLUSTER, spec)
    assert first.returncode == 0, first.stdout + first.stderr
    accepted = connections_to(stix_home, f"{CLUSTER}-worker1")
    [master] = masters(stix_home)
    served = {field(lines_of(first.stdout, 1), "CONN")}
    for _ in range(2):
        again = stix("exec", CLUSTER, spec)
        assert again.returncode == 0, again.stdout + again.stderr
        served.add(field(lines_of(again.stdout, 1), "CONN"))
    assert len(served) == 1 and served != {"1"}, served
    assert connections_to(stix_home, f"{CLUSTER}-worker1") == accepted, "a later job opened its own connection"
    assert masters(stix_home) == [master]


def test_a_master_killed_mid_job_fails_the_job_and_the_next_job_gets_a_new_one(stix, stix_home, cluster, tmp_path):
    """The master (SIGKILL: its socket stays behind) carries the worker's rank: the rank's ssh exits 255, so the job
    FAILS naming the worker at once, its rank there is killed over a connection of its own, and the next job's
    daemon replaces the dead socket with a new master."""
    assert stix("exec", "-d", CLUSTER, job_task(tmp_path, "cut", 0.5, "sleep 300", nodes=2)).returncode == 0
    worker = stix_home / "clusters" / CLUSTER / "nodes" / f"{CLUSTER}-worker1"

    def sleeping() -> list[int]:
        return [pid for pid in sshd.processes_under(worker) if sshd._cmdline(pid) == ["sleep", "300"]]

    wait_for(sleeping, what="the job on the worker")
    [master] = masters(stix_home)
    os.kill(master, signal.SIGKILL)
    row = wait_for(lambda: (r := queue(stix)[1])["status"] in TERMINAL and r, timeout=30, what="the job to end")
    assert row["status"] == "FAILED" and row["detail"] == f"rank 1 ({CLUSTER}-worker1) unreachable or died", row
    wait_for(lambda: not sleeping(), timeout=15, what="the worker's rank to be killed")
    again = stix("exec", CLUSTER, job_task(tmp_path, "after", 0.5, connection("CONN"), nodes=2))
    assert again.returncode == 0, again.stdout + again.stderr
    [new] = masters(stix_home)
    assert new != master


def test_logs_follow_ends_with_the_job_and_status_codes(stix, cluster):
    assert stix("exec", "-d", CLUSTER, "echo start; sleep 2; echo end").returncode == 0
    started = time.monotonic()
    followed = stix("logs", CLUSTER, "1", "--follow")
    assert followed.returncode == 0
    assert followed.stdout.splitlines() == ["(head, rank=0) start", "(head, rank=0) end"]
    assert 1.0 < time.monotonic() - started < 20
    assert stix("logs", CLUSTER, "1", "--status").returncode == 0
    assert stix("logs", CLUSTER, "99", "--status").returncode == 102
    assert stix("exec", "-d", CLUSTER, "sleep 30").returncode == 0
    running = stix("logs", CLUSTER, "2", "--status")
    assert (running.returncode, running.stdout.strip()) in ((101, "RUNNING"), (101, "PENDING"))
    stix("cancel", CLUSTER, "2")
    assert stix("logs", CLUSTER, "2", "--status").returncode == 103
    tail = stix("logs", CLUSTER, "1", "--no-follow", "--tail", "1")
    assert tail.returncode == 0


def test_a_node_dying_mid_job_fails_it_naming_the_node(stix, stix_home, cluster, tmp_path):
    spec = job_task(tmp_path, "doomed", 0.5, "sleep 120", nodes=2)
    assert stix("exec", "-d", CLUSTER, spec).returncode == 0
    worker = stix_home / "clusters" / CLUSTER / "nodes" / f"{CLUSTER}-worker1"
    wait_for(lambda: any("sleep 120" in " ".join(sshd._cmdline(p)) for p in sshd.processes_under(worker)),
             what="the job on the worker")
    sshd.kill_all(sshd.processes_under(worker))  # the worker dies: its sshd and everything on it
    row = wait_for(lambda: (r := queue(stix)[1])["status"] in ("FAILED",) and r, timeout=60, what="the job to fail")
    assert row["detail"].startswith(f"rank 1 ({CLUSTER}-worker1)")
    head = stix_home / "clusters" / CLUSTER / "nodes" / f"{CLUSTER}-head"
    wait_for(lambda: not any("sleep 120" in " ".join(sshd._cmdline(p)) for p in sshd.processes_under(head)),
             what="the head's part of the job to be killed")


def test_agent_restart_keeps_the_queue(stix, stix_home, cluster):
    assert stix("exec", CLUSTER, "echo one").returncode == 0
    agent_home = stix_home / "clusters" / CLUSTER / "nodes" / f"{CLUSTER}-head" / "home" / ".stix-agent"
    pid = int((agent_home / "daemon.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    listed = stix("queue", CLUSTER)
    assert listed.returncode == 0 and "SUCCEEDED" in listed.stdout
    again = stix("exec", CLUSTER, "echo two")
    assert again.returncode == 0 and "(head, rank=0) two" in again.stdout
    assert int((agent_home / "daemon.pid").read_text()) != pid


def test_exec_on_missing_or_down_cluster_is_one_line(stix, stix_home, cluster):
    missing = stix("exec", "no-such-cluster", "echo")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "stix: error: cluster 'no-such-cluster' not found (stix status lists clusters)"
    worker = sshd.NodePaths(stix_home / "clusters" / CLUSTER / "nodes" / f"{CLUSTER}-worker1")
    os.kill(sshd.running_pid(worker), signal.SIGKILL)
    assert stix("status", "--refresh").returncode == 0
    down = stix("exec", CLUSTER, "echo")
    assert down.returncode == 1
    assert down.stderr.strip() == f"stix: error: cluster '{CLUSTER}' is DEGRADED, not UP; `stix up` or `stix start` it first"


def test_stop_and_start_keep_the_files(stix, stix_home, cluster, tmp_path):
    assert stix("exec", CLUSTER, "echo kept > ~/kept.txt").returncode == 0
    assert stix("exec", CLUSTER, job_task(tmp_path, "both", 0.5, "true", nodes=2)).returncode == 0
    assert masters(stix_home), "the head's master connection to the worker outlives the job"
    stopped = stix("stop", "-y", CLUSTER)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "2 to update" in stopped.stdout
    assert not sshd.processes_under(stix_home / "clusters" / CLUSTER), "a stopped cluster runs nothing (no master)"
    assert (stix_home / "clusters" / CLUSTER / "nodes" / f"{CLUSTER}-head" / "home" / "kept.txt").exists()
    refused = stix("exec", CLUSTER, "echo")
    assert refused.stderr.strip() == f"stix: error: cluster '{CLUSTER}' is STOPPED, not UP; `stix up` or `stix start` it first"
    assert " STOPPED " in stix("status").stdout
    assert stix("start", "-y", CLUSTER).returncode == 0
    back = stix("exec", CLUSTER, "cat ~/kept.txt")
    assert back.returncode == 0 and "(head, rank=0) kept" in back.stdout


def test_autostop_stops_an_idle_cluster(stix, stix_home, cluster):
    assert stix("exec", CLUSTER, "sleep 4").returncode == 0  # busy, then idle
    set_ = stix("autostop", CLUSTER, "-i", "0.05")
    assert set_.returncode == 0 and set_.stdout.strip() == f"autostop for {CLUSTER}: 0.05 idle minutes, then stop"
    assert "0.05m" in stix("status").stdout
    wait_until_stopped(stix_home, "the agent to stop the idle cluster")
    refreshed = stix("status", "--refresh")
    assert refreshed.returncode == 0
    row = next(line for line in refreshed.stdout.splitlines() if CLUSTER in line and "│" in line)
    assert " STOPPED " in row and " - " in row
    assert stix("start", "-y", CLUSTER).returncode == 0
    assert stix("exec", CLUSTER, "true").returncode == 0


def test_autostop_waits_for_running_jobs(stix, stix_home, cluster, tmp_path):
    """A two-node job: the head's master connection to the worker, idle after it, holds nothing up."""
    submitted = time.monotonic()
    assert stix("exec", "-d", CLUSTER, job_task(tmp_path, "eight", 0.5, "sleep 8", nodes=2)).returncode == 0
    assert stix("autostop", CLUSTER, "-i", "0.02").returncode == 0  # 1.2s idle: due many times over during the job
    wait_until_stopped(stix_home, "autostop after the job ended")
    assert time.monotonic() - submitted >= 8, "stopped while a job was running"
    assert queue_after_restart_is_kept(stix)


def wait_until_stopped(stix_home: Path, what: str) -> None:
    """Every node process of the cluster gone; if not in time, the failure shows what is left and why."""
    root = stix_home / "clusters" / CLUSTER
    try:
        wait_for(lambda: not sshd.processes_under(root), timeout=30, what=what)
    except AssertionError as exc:
        left = {pid: " ".join(sshd._cmdline(pid)) for pid in sorted(sshd.processes_under(root))}
        logs = {str(p.relative_to(root)): p.read_text()[-2000:] for p in root.glob(f"nodes/*/home/{REMOTE_DIR}/{DAEMON_LOG_FILE}")}
        agent = next(root.glob(f"nodes/*-head/home/{REMOTE_DIR}"), None)
        state = _agent_state(agent) if agent else "no agent directory"
        raise AssertionError(f"{exc}; left running: {left}; daemon logs: {logs}; agent: {state}") from None


def _agent_state(agent: Path) -> str:
    import shutil
    import sqlite3
    import subprocess
    import sys

    rows = [tuple(r) for r in sqlite3.connect(agent / "jobs.db").execute("SELECT id, status, detail FROM jobs")]
    autostop = (agent / "autostop.json").read_text() if (agent / "autostop.json").exists() else None
    tcp = [line for table in ("/proc/net/tcp", "/proc/net/tcp6") for line in Path(table).read_text().splitlines()
           if ":08AE " in line]
    dump = ""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if os.path.exists(spy) and (agent / "daemon.pid").exists():
        dump = subprocess.run([spy, "dump", "--pid", (agent / "daemon.pid").read_text().strip()],
                              capture_output=True, text=True).stdout
    return f"jobs={rows} autostop={autostop} tcp={tcp} stack={dump}"


def queue_after_restart_is_kept(stix) -> bool:
    assert stix("start", "-y", CLUSTER).returncode == 0
    return queue(stix)[1]["status"] == "SUCCEEDED"


def test_workdir_sync_is_incremental_and_honours_ignore_files(stix, stix_home, cluster, tmp_path):
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    (work / "train.py").write_text("print('v1')\n")
    (work / "notes.log").write_text("noise\n")
    (work / "data" / "big.bin").write_text("big\n")
    (work / ".gitignore").write_text("*.log\n")
    (work / ".stixignore").write_text("data/\n")
    task = tmp_path / "job.yaml"
    task.write_text(f"workdir: {work}\nrun: ls -A; python3 train.py\n")
    first = stix("exec", CLUSTER, str(task))
    assert first.returncode == 0, first.stderr
    assert "Workdir synced: 3 changed file(s) sent to 1 node(s)." in first.stdout
    listed = [line.split(") ", 1)[1] for line in first.stdout.splitlines() if line.startswith("(head")]
    assert listed == [".gitignore", ".stix-sync-manifest.json", ".stixignore", "train.py", "v1"]
    second = stix("exec", CLUSTER, str(task))
    assert "Workdir synced: 0 changed file(s)" in second.stdout
    (work / "train.py").write_text("print('v2')\n")
    third = stix("exec", CLUSTER, str(task))
    assert "Workdir synced: 1 changed file(s)" in third.stdout and "(head, rank=0) v2" in third.stdout


def test_a_two_node_job_survives_a_daemon_kill_and_is_adopted(stix, stix_home, cluster, tmp_path):
    """The daemon dies (SIGKILL) mid-job: both ranks keep running, the next submit's daemon adopts the job,
    and it ends SUCCEEDED when its ranks do."""
    nodes = stix_home / "clusters" / CLUSTER / "nodes"
    homes = [nodes / f"{CLUSTER}-head" / "home", nodes / f"{CLUSTER}-worker1" / "home"]
    run = 'echo "up $SKYPILOT_NODE_RANK"; while [ ! -f ~/survivor.go ]; do sleep 0.1; done; echo "done $SKYPILOT_NODE_RANK"'
    assert stix("exec", "-d", CLUSTER, job_task(tmp_path, "survivor", 0.5, run, nodes=2)).returncode == 0

    def waiting(node: Path) -> list[int]:
        return [p for p in sshd.processes_under(node) if "survivor.go" in " ".join(sshd._cmdline(p))]

    wait_for(lambda: all(waiting(home.parent) for home in homes), what="the job on both nodes")
    agent_home = homes[0] / ".stix-agent"
    old = int((agent_home / "daemon.pid").read_text())
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: not Path(f"/proc/{old}").exists() or " Z " in Path(f"/proc/{old}/stat").read_text(),
             what="the daemon to die")
    assert all(waiting(home.parent) for home in homes), "the daemon's death killed the job"

    restarted = time.monotonic()
    again = stix("exec", CLUSTER, "echo two")  # its submit starts a daemon, which adopts job 1
    assert again.returncode == 0 and "(head, rank=0) two" in again.stdout, again.stderr
    assert queue(stix)[1]["status"] == "RUNNING"
    for home in homes:
        (home / "survivor.go").touch()
    row = wait_for(lambda: (r := queue(stix)[1])["status"] in ("SUCCEEDED", "FAILED") and r, timeout=60,
                   what="the adopted job to end")
    assert (row["status"], row["exit_code"]) == ("SUCCEEDED", 0), row
    print(f"\nadopted two-node job ended {time.monotonic() - restarted:.1f}s after the restart")
    logs = stix("logs", CLUSTER, "1", "--no-follow")
    assert {"(head, rank=0) done 0", "(worker1, rank=1) done 1"} <= set(logs.stdout.splitlines()), logs.stdout
    worker_pids = homes[1] / ".stix-agent" / "pids"
    assert not worker_pids.exists() or not list(worker_pids.iterdir()), "a finished rank left its pid file"
