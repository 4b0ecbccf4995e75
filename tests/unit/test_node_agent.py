"""The node agent's pure parts, imported from the file stix uploads."""

import importlib.util
import time

from stix.agent import AGENT_SOURCE
from tests.polling import wait_for


def agent():
    spec = importlib.util.spec_from_file_location("node_agent", AGENT_SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tail_offset_finds_the_last_lines(tmp_path):
    tail_offset = agent().tail_offset
    path = tmp_path / "log"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(1000)))
    with open(path, "rb") as handle:
        handle.seek(tail_offset(path, 3))
        assert handle.read() == b"line 997\nline 998\nline 999\n"
    path.write_bytes(b"a\nb\nc")  # no final newline
    with open(path, "rb") as handle:
        handle.seek(tail_offset(path, 2))
        assert handle.read() == b"b\nc"
    assert tail_offset(path, 10) == 0
    assert tail_offset(path, 0) == path.stat().st_size


def test_tail_offset_reads_only_the_end_of_a_large_log(tmp_path):
    tail_offset = agent().tail_offset
    path = tmp_path / "big.log"
    line = b"x" * 99 + b"\n"
    with open(path, "wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # 200 MiB, sparse: reading it all would take seconds
        handle.seek(0, 2)
        handle.write(line * 100)
    started = time.perf_counter()
    offset = tail_offset(path, 50)
    assert time.perf_counter() - started < 0.05
    assert offset == path.stat().st_size - 50 * len(line)


def test_agent_uses_only_the_standard_library():
    import ast
    import sys

    tree = ast.parse(AGENT_SOURCE.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported - set(sys.stdlib_module_names)


def test_daemon_survives_a_poke_the_moment_it_starts(tmp_path):
    """submit pokes (SIGUSR1) as soon as daemon.pid exists; an early poke must not kill the daemon."""
    import json
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "STIX_AGENT_HOME": str(tmp_path)}
    (tmp_path / "cluster.json").write_text(json.dumps({
        "cloud": "local", "cpus": 1, "gpus": 0, "key": "", "known_hosts": "",
        "nodes": [{"rank": 0, "name": "n", "ip": "127.0.0.1", "port": 22, "user": "u", "home": str(tmp_path)}]}))
    daemon = subprocess.Popen([sys.executable, str(AGENT_SOURCE), "daemon"], env=env)
    try:
        wait_for((tmp_path / "daemon.pid").exists, timeout=10, what="daemon.pid", interval=0.001)
        for _ in range(50):
            os.kill(daemon.pid, signal.SIGUSR1)
        # Pending signals are delivered lowest first: without its handler the daemon dies of SIGUSR1, not SIGTERM.
        os.kill(daemon.pid, signal.SIGTERM)
        assert daemon.wait(timeout=10) != -signal.SIGUSR1, "the daemon died of an early SIGUSR1"
    finally:
        daemon.kill()
        daemon.wait()



POKED_AT_EVERY_LINE = """
import importlib.util, os, signal, sys, threading, time
spec = importlib.util.spec_from_file_location("node_agent", sys.argv[1])
na = importlib.util.module_from_spec(spec)
spec.loader.exec_module(na)
wake = na.Wakeup(signal.SIGUSR1)
handler, handling = signal.getsignal(signal.SIGUSR1), [0]


def counted(signum, frame):  # no poke while the handler runs: they would nest without end
    handling[0] += 1
    try:
        handler(signum, frame)
    finally:
        handling[0] -= 1


signal.signal(signal.SIGUSR1, counted)


def poke_every_line(frame, event, arg):
    if event == "line" and not handling[0]:
        os.kill(os.getpid(), signal.SIGUSR1)
    return poke_every_line


sys.settrace(poke_every_line)
for _ in range(100):
    wake.wait(0.001)  # as the daemon's loop calls it
    wake.clear()
sys.settrace(None)
threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1)).start()
started = time.monotonic()
wake.wait(60)
print(f"woken after {time.monotonic() - started:.1f}s")
"""


def test_a_poke_at_any_moment_of_the_daemons_wait_neither_deadlocks_it_nor_goes_unheard():
    """A CI hang: the daemon's SIGUSR1 handler set a threading.Event, and a poke that landed while the loop's own
    wait or clear held the Event's lock deadlocked the daemon: alive, so a follower never restarted it, but stuck,
    so the job it was poked for stayed PENDING and `up` followed it forever. Here a poke lands at every line the
    wait runs (threading's, select's wrappers, the agent's), and then one must still end a long wait early."""
    import subprocess
    import sys

    try:
        done = subprocess.run([sys.executable, "-c", POKED_AT_EVERY_LINE, str(AGENT_SOURCE)], capture_output=True,
                              text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the daemon's wait deadlocked on a poke")
    assert done.returncode == 0, done.stdout + done.stderr
    waited = float(done.stdout.split()[-1].rstrip("s"))
    assert waited < 10, "a poke ends the daemon's wait between ticks"


# --- GPU devices per job: the real scheduler, in process, on a one-node cluster ------------------

import argparse  # noqa: E402
import json  # noqa: E402

import pytest  # noqa: E402

from stix.agent import node_agent as na  # noqa: E402

WAIT_S = 30.0


@pytest.fixture
def head(tmp_path, monkeypatch):
    """A head node with 2 GPUs and 8 CPUs (rank 0 runs jobs locally, no SSH); yields a scheduler factory.
    Every job a scheduler started is killed afterwards."""
    monkeypatch.setattr(na, "ROOT", tmp_path / "agent")
    na.ROOT.mkdir()
    schedulers = []

    def make(gpus: float = 2, accelerator: str = "H100") -> na.Scheduler:
        node = {"rank": 0, "name": "c-head", "ip": "127.0.0.1", "port": 22, "user": "u", "home": str(tmp_path),
                "gpus": gpus, "accelerator": accelerator}
        (na.ROOT / na.CLUSTER_FILE).write_text(json.dumps(
            {"cluster": "c", "cloud": "local", "cpus": 8, "gpus": 0, "key": "", "known_hosts": "", "nodes": [node]}))
        scheduler = na.Scheduler()
        schedulers.append(scheduler)
        return scheduler

    yield make
    for scheduler in schedulers:
        kill_started(scheduler)


def submit(tmp_path, name: str, gpus: float, seconds: float = 0.0, env: dict | None = None) -> int:
    """A job that records the CUDA_VISIBLE_DEVICES it got ("unset" when it has none) in tmp_path/name."""
    script = f'printf %s "${{CUDA_VISIBLE_DEVICES-unset}}" > {tmp_path / name}.tmp && mv {tmp_path / name}.tmp {tmp_path / name}; sleep {seconds}'
    return na.enqueue({"name": name, "script": script, "ranks": [{"env": env or {}, "cwd": str(tmp_path)}],
                       "cpus": 1, "gpus": gpus})


def row(scheduler, job_id: int) -> dict:
    return dict(scheduler.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())


def drive(scheduler, until, what: str) -> None:
    """Run the daemon's loop body until `until()` holds, or fail after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        scheduler.reap()
        scheduler.schedule()
        if until():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def seen(tmp_path, name: str, scheduler) -> str:
    drive(scheduler, lambda: (tmp_path / name).exists(), f"job {name} to write its devices")
    return (tmp_path / name).read_text()


def test_one_gpu_jobs_get_distinct_devices_and_the_third_waits_for_a_freed_one(head, tmp_path, capsys):
    scheduler = head()
    first, second, third = (submit(tmp_path, "first", 1, 0.5), submit(tmp_path, "second", 1, 20),
                            submit(tmp_path, "third", 1, 0))
    later = submit(tmp_path, "later", 0)  # needs no GPU, but must not overtake the waiting job
    scheduler.schedule()
    assert [row(scheduler, j)["status"] for j in (first, second, third, later)] == ["RUNNING", "RUNNING", "PENDING", "PENDING"]
    assert seen(tmp_path, "first", scheduler) == "0" and seen(tmp_path, "second", scheduler) == "1"
    assert json.loads(row(scheduler, first)["gpu_ids"]) == [[0]] and json.loads(row(scheduler, second)["gpu_ids"]) == [[1]]

    drive(scheduler, lambda: row(scheduler, third)["status"] != "PENDING", "the third job to start")
    assert row(scheduler, first)["status"] == "SUCCEEDED" and row(scheduler, second)["status"] == "RUNNING"
    assert seen(tmp_path, "third", scheduler) == "0", "the third job gets the device the first one freed"
    assert seen(tmp_path, "later", scheduler) == ""

    capsys.readouterr()
    na.cmd_queue(None)
    shown = {job["id"]: job["gpu_ids"] for job in json.loads(capsys.readouterr().out)}
    assert shown[first] == [[0]] and shown[second] == [[1]] and shown[third] == [[0]] and shown[later] == [[]]


def test_a_job_without_gpus_gets_no_devices_and_the_agent_overrides_the_jobs_own_choice(head, tmp_path):
    scheduler = head()
    none = submit(tmp_path, "none", 0)
    chooser = submit(tmp_path, "chooser", 1, env={"CUDA_VISIBLE_DEVICES": "1"})
    scheduler.schedule()
    assert seen(tmp_path, "none", scheduler) == "", "a 0-GPU job must not see the devices others hold"
    assert seen(tmp_path, "chooser", scheduler) == "0", "the agent's assignment wins over the job's env"
    assert json.loads(row(scheduler, none)["gpu_ids"]) == [[]]
    assert json.loads(row(scheduler, chooser)["gpu_ids"]) == [[0]]


def test_a_node_without_gpus_leaves_cuda_visible_devices_unset(head, tmp_path):
    scheduler = head(gpus=0, accelerator="")
    job = submit(tmp_path, "cpu", 0, env={"CUDA_VISIBLE_DEVICES": "7"})
    scheduler.schedule()
    assert seen(tmp_path, "cpu", scheduler) == "7", "on a GPU-less node the agent sets nothing"
    drive(scheduler, lambda: row(scheduler, job)["status"] == "SUCCEEDED", "the job to succeed")


def test_half_gpu_jobs_share_a_device_and_leave_the_other_whole(head, tmp_path):
    scheduler = head()
    halves = [submit(tmp_path, f"half{i}", 0.5, 20) for i in range(2)]
    whole = submit(tmp_path, "whole", 1, 20)
    third_half = submit(tmp_path, "half2", 0.5, 0)
    scheduler.schedule()
    assert [row(scheduler, j)["status"] for j in (*halves, whole, third_half)] == ["RUNNING"] * 3 + ["PENDING"]
    assert seen(tmp_path, "half0", scheduler) == seen(tmp_path, "half1", scheduler) == "0"
    assert seen(tmp_path, "whole", scheduler) == "1"
    na.cmd_cancel(argparse.Namespace(all=False, jobs=[halves[0]]))
    scheduler.schedule()
    assert row(scheduler, third_half)["status"] == "RUNNING"
    assert seen(tmp_path, "half2", scheduler) == "0", "half of device 0 came free"


def test_a_job_asking_more_gpus_than_the_node_has_fails_and_blocks_nobody(head, tmp_path):
    scheduler = head()
    greedy = submit(tmp_path, "greedy", 3)
    after = submit(tmp_path, "after", 2)
    scheduler.schedule()
    failed = row(scheduler, greedy)
    assert failed["status"] == "FAILED"
    assert "3 GPUs" in failed["detail"] and "2 GPUs" in failed["detail"] and "c-head" in failed["detail"]
    assert seen(tmp_path, "after", scheduler) == "0,1"


def test_cancelling_a_job_frees_its_device(head, tmp_path, capsys):
    scheduler = head()
    jobs = [submit(tmp_path, f"j{i}", 1, 20) for i in range(3)]
    scheduler.schedule()
    assert row(scheduler, jobs[2])["status"] == "PENDING"
    assert seen(tmp_path, "j1", scheduler) == "1"
    na.cmd_cancel(argparse.Namespace(all=False, jobs=[jobs[1]]))
    assert json.loads(capsys.readouterr().out) == [jobs[1]]
    scheduler.reap()
    scheduler.schedule()
    assert row(scheduler, jobs[2])["status"] == "RUNNING"
    assert seen(tmp_path, "j2", scheduler) == "1"


def test_device_bookkeeping_comes_from_the_table_so_a_restarted_daemon_sees_it(head, tmp_path):
    old = head()
    held = submit(tmp_path, "held", 1, 20)
    old.schedule()
    assert seen(tmp_path, "held", old) == "0"

    new = head()  # another daemon: it knows nothing of `held` but what the table says
    newcomer = submit(tmp_path, "newcomer", 1, 20)
    new.schedule()
    assert seen(tmp_path, "newcomer", new) == "1"

    restarted = head()
    restarted.recover()  # a restart adopts what runs: the devices stay held
    assert {row(restarted, held)["status"], row(restarted, newcomer)["status"]} == {"RUNNING"}
    assert sorted(restarted.running) == [held, newcomer]
    both = submit(tmp_path, "both", 2)
    restarted.schedule()
    assert row(restarted, both)["status"] == "PENDING"
    na.cmd_cancel(argparse.Namespace(all=False, jobs=[held, newcomer]))
    restarted.reap()
    restarted.schedule()
    assert seen(tmp_path, "both", restarted) == "0,1"


def test_an_old_jobs_db_gains_the_gpu_ids_column(tmp_path, monkeypatch):
    import sqlite3

    monkeypatch.setattr(na, "ROOT", tmp_path)
    old = sqlite3.connect(tmp_path / na.JOBS_DB)
    old.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, status TEXT NOT NULL, "
                "submitted REAL NOT NULL, started REAL, ended REAL, exit_code INTEGER, cpus REAL NOT NULL, "
                "gpus REAL NOT NULL, num_nodes INTEGER NOT NULL, detail TEXT)")
    old.execute("INSERT INTO jobs (name, status, submitted, cpus, gpus, num_nodes) VALUES ('old', 'SUCCEEDED', 1, 1, 0, 1)")
    old.commit()
    old.close()
    conn = na.connect()
    assert "gpu_ids" in {r["name"] for r in conn.execute("PRAGMA table_info(jobs)")}
    assert dict(conn.execute("SELECT name, gpu_ids FROM jobs").fetchone()) == {"name": "old", "gpu_ids": None}
    na.connect()  # a second open (another agent process) finds it migrated


def test_device_placement_across_nodes_uses_each_nodes_own_count():
    info = {"cpus": 4, "gpus": 2, "nodes": [{"name": "head"}, {"name": "worker1", "gpus": 1, "cpus": 2}]}
    assert na.node_capacity(info, 0) == (4.0, 2.0) and na.node_capacity(info, 1) == (2.0, 1.0)
    assert na.never_fits(info, 1, 1, 2) is None
    detail = na.never_fits(info, 1, 2, 2)
    assert "worker1" in detail and "2 GPUs per node" in detail and "1 GPUs" in detail
    assert "3 nodes" in na.never_fits(info, 1, 0, 3)
    assert na.never_fits(info, 3, 0, 2) is not None  # worker1 has 2 CPUs
    assert na.pick_devices(2, {0: 0.0, 1: 0.5, 2: 0.0}) == [0, 2]
    assert na.pick_devices(2, {0: 0.0, 1: 0.5}) is None
    assert na.pick_devices(0.25, {0: 0.0, 1: 0.5}) == [1], "shares pack onto the fullest device that fits"
    assert na.pick_devices(0.6, {0: 1.0, 1: 0.5}) is None
    assert na.pick_devices(0, {}) == []


def test_install_agent_writes_per_node_gpus_the_agent_reads(tmp_path):
    from stix.cluster_jobs import cluster_file
    from stix.spec import ClusterInfo, NodeInfo

    nodes = tuple(NodeInfo(f"c-{r}", r, f"127.0.0.{r + 2}", 22, "u", "ssh-ed25519 AAAA", f"/h{r}", cpus=8, gpus=4,
                           accelerator="A100") for r in range(2))
    data = cluster_file(ClusterInfo("c", "aws", nodes, "/k"), "/h0/.stix-agent")
    assert [(n["gpus"], n["accelerator"]) for n in data["nodes"]] == [(4.0, "A100"), (4.0, "A100")]
    assert data["key"] == f"/h0/{na.REMOTE_DIR}/{na.KEY_FILE}"
    assert na.node_capacity(data, 1) == (8.0, 4.0)


def test_the_client_takes_the_agents_names_and_exit_codes():
    from stix import agent, cluster_jobs

    assert cluster_jobs.LOGS_STATUS_EXITS == (0, 100, 101, 102, 103)
    assert agent.REMOTE_DIR == na.REMOTE_DIR and cluster_jobs.AGENT == f"{na.REMOTE_DIR}/{na.AGENT_FILE}"
    assert f"$HOME/{na.REMOTE_DIR}/{na.PIDS_DIR}" in na.REMOTE_RUNNER


def test_importing_the_agent_touches_nothing_even_without_a_home(tmp_path):
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(AGENT_SOURCE.parent)}
    result = subprocess.run([sys.executable, "-c", "import node_agent; print(node_agent.ROOT)"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(na.REMOTE_DIR)
    assert list(tmp_path.iterdir()) == []


def test_the_daemon_assigns_devices_to_jobs_submitted_from_the_command_line(tmp_path):
    """The real path: `submit` starts the daemon, which runs the jobs with their devices."""
    import os
    import signal
    import subprocess
    import sys

    home = tmp_path / "agent"
    home.mkdir()
    (home / na.CLUSTER_FILE).write_text(json.dumps({
        "cloud": "local", "cpus": 4, "gpus": 0, "key": "", "known_hosts": "",
        "nodes": [{"rank": 0, "name": "n", "ip": "127.0.0.1", "port": 22, "user": "u", "home": str(tmp_path),
                   "gpus": 2, "accelerator": "L4"}]}))
    env = {**os.environ, "STIX_AGENT_HOME": str(home)}

    def agent_cli(*args, stdin=None):
        result = subprocess.run([sys.executable, str(AGENT_SOURCE), *args], env=env, input=stdin,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    try:
        ids = []
        for name in ("a", "b"):
            script = f'printf %s "$CUDA_VISIBLE_DEVICES" > {tmp_path / name}; sleep 1'
            spec = {"name": name, "script": script, "ranks": [{"env": {}, "cwd": str(tmp_path)}], "cpus": 1, "gpus": 1}
            ids.append(int(agent_cli("submit", stdin=json.dumps(spec))))
        def ended() -> list[dict]:
            rows = json.loads(agent_cli("queue"))
            return rows if all(r["status"] in na.TERMINAL for r in rows) else []

        rows = wait_for(ended, timeout=WAIT_S, what="both jobs to end", interval=0.2)
        assert [r["status"] for r in rows] == ["SUCCEEDED", "SUCCEEDED"], rows
        assert sorted(r["gpu_ids"][0][0] for r in rows) == [0, 1]
        assert {(tmp_path / "a").read_text(), (tmp_path / "b").read_text()} == {"0", "1"}
        # Both ran at once (2 devices): the second started before the first ended.
        assert rows[1]["started"] < rows[0]["ended"]
    finally:
        try:
            os.kill(int((home / na.DAEMON_PID_FILE).read_text()), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def test_a_queued_job_is_invisible_until_its_spec_is_written(head, tmp_path, monkeypatch):
    """The daemon polls: a PENDING row it can see must already have its spec.json (a clean CI run hung on this)."""
    import sqlite3

    head()
    seen_pending = []
    real_dump = json.dump

    def dump_while_watching(obj, handle):
        other = sqlite3.connect(na.ROOT / na.JOBS_DB, timeout=5)
        seen_pending.append(other.execute("SELECT COUNT(*) FROM jobs WHERE status = ?", (na.PENDING,)).fetchone()[0])
        other.close()
        real_dump(obj, handle)

    monkeypatch.setattr(na.json, "dump", dump_while_watching)
    job_id = submit(tmp_path, "late", 0)
    monkeypatch.setattr(na.json, "dump", real_dump)
    assert seen_pending == [0], "the row was visible before its spec existed"
    assert (na.job_dir(job_id) / na.SPEC_FILE).exists()


def test_a_job_whose_spec_is_unreadable_fails_and_the_next_one_runs(head, tmp_path):
    scheduler = head()
    broken = submit(tmp_path, "broken", 0)
    (na.job_dir(broken) / na.SPEC_FILE).unlink()
    fine = submit(tmp_path, "fine", 0)
    drive(scheduler, lambda: row(scheduler, fine)["status"] == na.SUCCEEDED, "the next job to run")
    failed = row(scheduler, broken)
    assert failed["status"] == na.FAILED and "its spec could not be read" in failed["detail"]


# --- hardening: no secrets in argv, adoption after a daemon death, stale pids -----------------------

import io  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402



from tests.unit.agent_home import agent_cli, cmdlines, kill_started, daemon_in as na_daemon_in, group_members  # noqa: E402


def test_secrets_never_reach_argv_and_leave_the_spec_once_started(head, tmp_path):
    """Sampled while rank 0 is still before its exec (a slow mkdir on its PATH) and while the job runs."""
    scheduler = head()
    secret = "s3cret-token-4f1c9a"
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mkdir").write_text(f'#!/bin/sh\ntouch "$MARK/pre"\nwhile [ ! -f "$MARK/go" ]; do sleep 0.02; done\n'
                                f'exec {shutil.which("mkdir")} "$@"\n')
    (fake / "mkdir").chmod(0o755)
    env = {"PATH": f"{fake}:{os.environ['PATH']}", "TOKEN": secret, "MARK": str(tmp_path)}
    script = 'printf %s "$TOKEN" > "$MARK/token"; touch "$MARK/user"; while [ ! -f "$MARK/end" ]; do sleep 0.02; done'
    job_id = na.enqueue({"name": "s", "script": script, "ranks": [{"env": env, "cwd": str(tmp_path / "w")}],
                         "cpus": 1, "gpus": 0})
    spec_path = na.job_dir(job_id) / na.SPEC_FILE
    assert secret in spec_path.read_text()
    scheduler.schedule()
    assert secret not in spec_path.read_text(), "the spec keeps the secret after the job started"
    assert json.loads(spec_path.read_text())["ranks"][0]["env_keys"] == ["MARK", "PATH", "TOKEN"]
    pgid = scheduler.running[job_id][0].pgid
    wait_for(lambda: (tmp_path / "pre").exists(), timeout=WAIT_S, what="rank 0 to reach its (slow) mkdir, before the exec", interval=0.02)
    before = {pid: cmdlines().get(pid, b"") for pid in group_members(pgid)}
    assert any(na.LOCAL_RUNNER.encode() in line for line in before.values()), before  # the shell before its exec
    assert not [line for line in before.values() if secret.encode() in line], before
    assert not [line for line in cmdlines().values() if secret.encode() in line]
    (tmp_path / "go").touch()
    wait_for(lambda: (tmp_path / "user").exists(), timeout=WAIT_S, what="the job's own script", interval=0.02)
    during = {pid: cmdlines().get(pid, b"") for pid in group_members(pgid)}
    assert len(during) >= 2 and not [line for line in during.values() if secret.encode() in line], during
    (tmp_path / "end").touch()
    drive(scheduler, lambda: row(scheduler, job_id)["status"] in na.TERMINAL, "the job to end")
    assert row(scheduler, job_id)["status"] == na.SUCCEEDED
    assert (tmp_path / "token").read_text() == secret, "the job sees its secret in its env"


def test_the_daemons_loop_survives_an_error(head, monkeypatch):
    scheduler = head()
    ticks = []

    def reap():
        ticks.append(time.monotonic())
        if len(ticks) == 1:
            raise RuntimeError("one bad tick")

    def idle_check():
        if len(ticks) >= 3:
            raise SystemExit(0)

    monkeypatch.setattr(scheduler, "reap", reap)
    monkeypatch.setattr(scheduler, "idle_check", idle_check)
    import threading

    with pytest.raises(SystemExit):
        scheduler.loop(threading.Event())
    assert len(ticks) == 3


def test_kill_job_leaves_alone_a_group_that_is_not_the_jobs(head, tmp_path, monkeypatch):
    head()
    job_id = submit(tmp_path, "stale", 0)
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        started = na.start_time(stranger.pid)
        pid_file = na.job_dir(job_id) / na.rank_pid(0)
        signalled = []
        real_killpg = os.killpg
        monkeypatch.setattr(na.os, "killpg", lambda pgid, sig: signalled.append(sig) if sig else real_killpg(pgid, sig))
        pid_file.write_text(f"{stranger.pid} {started + 1}")  # the number was reused by another process
        na.kill_job(job_id, 1)
        assert signalled == [] and stranger.poll() is None

        def denied(pgid, sig):  # another user's group on that number
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(na.os, "killpg", denied)
        pid_file.write_text(f"{stranger.pid}")  # an older agent's file: no start time
        na.kill_job(job_id, 1)  # no PermissionError
        na.cmd_cancel(argparse.Namespace(all=False, jobs=[job_id]))
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_submit_pokes_only_the_agents_own_daemon(tmp_path, monkeypatch):
    monkeypatch.setattr(na, "ROOT", tmp_path)
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    poked = []
    real_kill = os.kill
    monkeypatch.setattr(na.os, "kill", lambda pid, sig: poked.append(pid) if sig == signal.SIGUSR1 else real_kill(pid, sig))
    try:
        (tmp_path / na.DAEMON_PID_FILE).write_text(str(stranger.pid))  # stale: the pid now names `sleep`
        na._poke_daemon()
        assert poked == [] and na.daemon_pid() is None
        (tmp_path / na.DAEMON_PID_FILE).write_text("not a pid")
        na._poke_daemon()
        assert poked == []
    finally:
        stranger.kill()
        stranger.wait()


def test_a_worker_rank_removes_its_pid_file_and_keeps_its_exit_status(tmp_path):
    """REMOTE_RUNNER as sshd runs it on a worker (here without ssh)."""
    env = {**os.environ, "HOME": str(tmp_path)}
    pid_file = tmp_path / na.REMOTE_DIR / na.PIDS_DIR / "5"
    runner = na.REMOTE_RUNNER.format(job=5)
    script = f'[ -f {pid_file} ] && echo recorded; exit 7'
    done = subprocess.run(["bash", "-c", runner], input=na.framed(script), env=env, capture_output=True,
                          timeout=60)
    assert (done.returncode, done.stdout) == (7, b"recorded\n")
    assert not pid_file.exists(), "a finished rank's pid file stays for pool destroy to kill"
    cut = subprocess.run(["bash", "-c", runner], input=na.framed("touch ran; :")[:-3], cwd=tmp_path, env=env, timeout=60)
    assert cut.returncode == 1 and not (tmp_path / "ran").exists(), "a script cut short must not run"
    assert not pid_file.exists()


def test_the_client_turns_a_gone_daemon_into_a_job_error():
    from stix import cluster_jobs
    from stix.errors import JobError

    class Head:
        node = type("Node", (), {"name": "train-head", "home": "/home/u"})()

        def run(self, command, write, **kwargs):
            return na.DAEMON_GONE_EXIT

    with pytest.raises(JobError) as caught:
        cluster_jobs.follow(Head(), 3, print)
    message = str(caught.value)
    assert "'train'" in message and "stix queue train" in message and "stix logs train 3" in message
    assert na.DAEMON_GONE_EXIT not in cluster_jobs.LOGS_STATUS_EXITS


# --- the real agent, its daemon killed mid-job ----------------------------------------------------------


@pytest.fixture
def agent_home(tmp_path):
    """A temp STIX_AGENT_HOME with a one-node cluster of 4 CPUs; yields a CLI runner."""
    yield from agent_cli(tmp_path, cpus=4, check=True)


def job_spec(name: str, script: str) -> str:
    return json.dumps({"name": name, "script": script, "ranks": [{"env": {"SECRET": "x"}, "cwd": "/tmp"}],
                       "cpus": 1, "gpus": 0})


def live_daemon(cli) -> int:
    pid = int((cli.home / na.DAEMON_PID_FILE).read_text())
    cli.daemons.append(pid)
    return pid


def kill_daemon(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)

    def dead():
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True

    wait_for(dead, timeout=WAIT_S, what="the daemon to die", interval=0.02)


def waiting_job(tmp_path, name: str, code: int = 0) -> str:
    return (f'echo start; touch {tmp_path / name}.started; while [ ! -f {tmp_path / name}.go ]; do sleep 0.02; done; '
            f'echo done; exit {code}')


def test_a_restarted_daemon_adopts_running_jobs_and_records_their_exit(agent_home, tmp_path, capsys):
    cli = agent_home
    ok = int(cli("submit", stdin=job_spec("ok", waiting_job(tmp_path, "ok"))).stdout)
    bad = int(cli("submit", stdin=job_spec("bad", waiting_job(tmp_path, "bad", 7))).stdout)
    lost = int(cli("submit", stdin=job_spec("lost", waiting_job(tmp_path, "lost"))).stdout)
    wait_for(lambda: all((tmp_path / f"{n}.started").exists() for n in ("ok", "bad", "lost")), timeout=WAIT_S, what="the jobs to start", interval=0.02)
    kill_daemon(live_daemon(cli))

    groups = {job: na.read_group(cli.home / na.JOBS_DIR / str(job) / na.rank_pid(0)) for job in (ok, bad, lost)}
    assert all(na.group_alive(*group) for group in groups.values()), "a daemon's death killed its jobs"
    os.killpg(groups[lost][0], signal.SIGKILL)  # this one dies with no daemon to see its exit (the whole group
    # at once: a member listed first may end by itself before it is signalled)
    wait_for(lambda: not na.group_alive(*groups[lost]), timeout=WAIT_S, what="the lost job's processes to die", interval=0.02)

    restarted = time.monotonic()
    cli("ensure")
    live_daemon(cli)

    def rows():
        return {r["id"]: r for r in json.loads(cli("queue").stdout)}

    wait_for(lambda: rows()[lost]["status"] == na.FAILED, timeout=WAIT_S, what="the new daemon to see the lost job", interval=0.02)
    adopted_s = time.monotonic() - restarted
    assert rows()[lost]["detail"] == "rank 0 (n) ended without an exit status (killed, or its node restarted)"
    assert rows()[ok]["status"] == rows()[bad]["status"] == na.RUNNING
    for name in ("ok", "bad"):
        (tmp_path / f"{name}.go").touch()
    released = time.monotonic()
    wait_for(lambda: all(rows()[j]["status"] in na.TERMINAL for j in (ok, bad)), timeout=WAIT_S, what="the adopted jobs to end", interval=0.02)
    ended_s = time.monotonic() - released
    final = rows()
    assert (final[ok]["status"], final[ok]["exit_code"]) == (na.SUCCEEDED, 0)
    assert (final[bad]["status"], final[bad]["exit_code"], final[bad]["detail"]) == (na.FAILED, 7, "rank 0 (n) exited 7")
    assert cli("logs", str(ok)).stdout.splitlines() == ["(head, rank=0) start", "(head, rank=0) done"]
    assert "SECRET" not in json.dumps(json.loads((cli.home / na.JOBS_DIR / str(ok) / na.SPEC_FILE).read_text())["ranks"][0].get("env", {}))
    with capsys.disabled():
        print(f"\nadoption: ensure to the lost job failed {adopted_s:.2f}s; job end to SUCCEEDED {ended_s:.2f}s")


def test_logs_follow_restarts_a_dead_daemon_once_then_fails_within_a_bound(agent_home, tmp_path):
    cli = agent_home
    first = int(cli("submit", stdin=job_spec("first", waiting_job(tmp_path, "first"))).stdout)
    wait_for(lambda: (tmp_path / "first.started").exists(), timeout=WAIT_S, what="the job to start", interval=0.02)
    follower = subprocess.Popen([sys.executable, str(AGENT_SOURCE), "logs", str(first), "--follow"], env=cli.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        old = live_daemon(cli)
        kill_daemon(old)
        wait_for(lambda: na_daemon_in(cli.home) not in (None, old), timeout=WAIT_S, what="the follower to restart the daemon", interval=0.02)
        live_daemon(cli)
        (tmp_path / "first.go").touch()
        out, err = follower.communicate(timeout=WAIT_S)
        assert follower.returncode == 0, err
        assert out.splitlines() == ["(head, rank=0) start", "(head, rank=0) done"]

        second = int(cli("submit", stdin=job_spec("second", waiting_job(tmp_path, "second"))).stdout)
        wait_for(lambda: (tmp_path / "second.started").exists(), timeout=WAIT_S, what="the second job to start", interval=0.02)
        follower = subprocess.Popen([sys.executable, str(AGENT_SOURCE), "logs", str(second), "--follow"],
                                    env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: follower.stdout.readline(), timeout=WAIT_S, what="the follower to print the job's first line", interval=0.02)
        kill_daemon(live_daemon(cli))
        wait_for(lambda: na_daemon_in(cli.home) is not None, timeout=WAIT_S, what="the follower to restart the daemon", interval=0.02)
        killed = time.monotonic()
        kill_daemon(live_daemon(cli))  # it does not hold
        _, err = follower.communicate(timeout=WAIT_S)
        gone_s = time.monotonic() - killed
        assert follower.returncode == na.DAEMON_GONE_EXIT
        assert f"job {second} may still be running" in err and "Traceback" not in err
        assert gone_s < 3 * na.DAEMON_CHECK_S + 2, gone_s
    finally:
        if follower.poll() is None:
            follower.kill()
        follower.communicate()



def test_a_follower_ends_when_the_daemon_lives_but_is_stuck(tmp_path, monkeypatch):
    """A daemon that lives but never comes round its loop holds the lock, so no other can start: the follower must
    end saying so (DAEMON_GONE_EXIT), not wait on it forever. One that says nothing (an older agent's) is trusted."""
    monkeypatch.setattr(na, "ROOT", tmp_path)
    monkeypatch.setattr(na, "daemon_pid", lambda: 4242)
    monkeypatch.setattr(na, "ensure_daemon", lambda: pytest.fail("a live daemon is never restarted"))
    watch, beat = na.DaemonWatch(), tmp_path / na.DAEMON_BEAT_FILE

    def gone():
        watch.next_check = 0.0
        return watch.gone()

    assert gone() is None, "no beat file: an older agent's daemon"
    beat.write_text("4242")
    assert gone() is None, "it has just come round"
    long_ago = time.time() - na.DAEMON_STUCK_S - 5
    os.utime(beat, (long_ago, long_ago))
    reason = gone()
    assert reason and "pid 4242" in reason and "stuck" in reason, reason
    beat.write_text("4343")  # another daemon's, long gone
    os.utime(beat, (long_ago, long_ago))
    assert gone() is None


def test_the_daemon_beats_in_its_loop_and_while_its_autostop_hook_runs(agent_home, tmp_path, monkeypatch):
    cli = agent_home
    cli("ensure")
    pid = live_daemon(cli)
    beat = cli.home / na.DAEMON_BEAT_FILE
    assert beat.read_text() == str(pid)
    first = beat.stat().st_mtime
    wait_for(lambda: beat.stat().st_mtime > first, timeout=WAIT_S, what="the daemon to beat", interval=0.05)

    monkeypatch.setattr(na, "ROOT", tmp_path)
    (tmp_path / na.DAEMON_BEAT_FILE).write_text("1")
    long_ago = time.time() - na.DAEMON_STUCK_S
    os.utime(tmp_path / na.DAEMON_BEAT_FILE, (long_ago, long_ago))
    monkeypatch.setattr(na, "_last_beat", 0.0)
    assert na.run_hook("sleep 1.5", 60, tmp_path / "hook.log", str(tmp_path)) == 0
    assert time.time() - (tmp_path / na.DAEMON_BEAT_FILE).stat().st_mtime < 1.5, "a hook's run is no stuck daemon"


# --- the autostop hook ---------------------------------------------------------------------------


def test_the_hook_runs_in_the_given_directory_and_its_output_is_kept(tmp_path):
    log = tmp_path / "hook.log"
    assert na.run_hook('echo "in $PWD"; echo oops >&2; exit 4', 30, log, str(tmp_path)) == 4
    text = log.read_text()
    assert f"in {tmp_path}\noops\n" in text and "the hook exited 4" in text


def test_a_hook_past_its_timeout_is_killed_with_its_children(tmp_path):
    log = tmp_path / "hook.log"
    pids = tmp_path / "pids"
    began = time.monotonic()
    script = f"echo started; trap '' TERM; sh -c 'sleep 60' & echo $! > {pids}; wait"  # both ignore SIGTERM
    code = na.run_hook(script, 0.5, log, str(tmp_path))
    assert code is None
    assert time.monotonic() - began < 0.5 + na.KILL_GRACE_S + 5, "the timeout was not honoured"
    assert "started" in log.read_text() and "ran past its timeout (0.5s) and was killed" in log.read_text()
    child = int(pids.read_text())
    wait_for(lambda: not Path(f"/proc/{child}").exists() or b"Z" in Path(f"/proc/{child}/stat").read_bytes().split(b")")[1][:3],
             10, "the hook's child to be killed")


@pytest.mark.parametrize("hook, timeout, outcome", [
    ("echo hooked; exit 3", 30, "the hook exited 3"),
    ("echo hooked; sleep 60", 0.5, "ran past its timeout"),
])
def test_autostop_runs_the_hook_then_stops_even_when_the_hook_fails(head, tmp_path, monkeypatch, hook, timeout, outcome):
    scheduler = head()
    stops = []
    monkeypatch.setattr(na, "power_off", lambda info, down: stops.append((down, (na.ROOT / na.HOOK_LOG_FILE).read_text())))
    args = argparse.Namespace(cancel=False, idle=0.0, down=True, wait_for="jobs", hook_stdin=True, hook_timeout=timeout)
    monkeypatch.setattr(sys, "stdin", io.StringIO(hook))
    monkeypatch.setattr(na, "ensure_daemon", lambda: None)
    assert na.cmd_autostop(args) == 0
    assert oct((na.ROOT / na.AUTOSTOP_FILE).stat().st_mode & 0o777) == "0o600", "the hook may hold secrets"
    scheduler.last_active = 0.0
    with pytest.raises(SystemExit):
        scheduler.idle_check()
    assert len(stops) == 1
    down, log_at_stop = stops[0]
    assert down is True and "hooked" in log_at_stop and outcome in log_at_stop, "the hook ran before the stop"
    assert not (na.ROOT / na.AUTOSTOP_FILE).exists()


def test_a_hook_without_a_timeout_gets_skypilots_hour(head, monkeypatch):
    scheduler = head()
    ran = []
    monkeypatch.setattr(na, "power_off", lambda info, down: None)
    monkeypatch.setattr(na, "run_hook", lambda script, timeout, log, cwd: ran.append(timeout) or 0)
    monkeypatch.setattr(sys, "stdin", io.StringIO("echo bye"))
    monkeypatch.setattr(na, "ensure_daemon", lambda: None)
    args = argparse.Namespace(cancel=False, idle=0.0, down=False, wait_for="none", hook_stdin=True, hook_timeout=None)
    assert na.cmd_autostop(args) == 0
    scheduler.last_active = 0.0
    with pytest.raises(SystemExit):
        scheduler.idle_check()
    assert ran == [na.DEFAULT_HOOK_TIMEOUT_S]


def test_the_client_sends_the_hook_on_stdin_not_in_argv():
    from stix import cluster_jobs

    class Head:
        node = type("N", (), {"home": "/h", "name": "c-head"})()

        def run(self, command, sink, timeout=None, stdin=None):
            self.command, self.stdin = command, stdin
            return 0

    head = Head()
    cluster_jobs.set_autostop(head, 5, hook="echo SECRET", hook_timeout=20)  # type: ignore[arg-type]
    assert "SECRET" not in head.command and "--hook-stdin --hook-timeout 20" in head.command
    assert head.stdin == b"echo SECRET"
    cluster_jobs.set_autostop(head, 5)  # type: ignore[arg-type]
    assert "--hook" not in head.command and head.stdin is None


def test_autostop_powers_off_though_the_stop_stamp_cannot_be_written(head, monkeypatch, capsys):
    scheduler = head()
    stops = []
    monkeypatch.setattr(na, "power_off", lambda info, down: stops.append(down))
    monkeypatch.setattr(na, "ensure_daemon", lambda: None)
    args = argparse.Namespace(cancel=False, idle=0.0, down=False, wait_for="none", hook_stdin=False, hook_timeout=None)
    assert na.cmd_autostop(args) == 0
    (na.ROOT / na.STOPPED_AT_FILE).mkdir()  # a write there fails (as on a full disk)
    scheduler.last_active = 0.0
    with pytest.raises(SystemExit):
        scheduler.idle_check()
    assert stops == [False], "autostop fired though its stop time could not be recorded"
    assert "could not record the stop time" in capsys.readouterr().out


def test_the_stamp_beside_local_node_directories_does_not_break_preempt(tmp_path, monkeypatch):
    from stix.components.local import faults
    from stix.home import StixHome

    monkeypatch.setattr(na, "ROOT", tmp_path / "agent")
    na.ROOT.mkdir()
    home = StixHome(tmp_path / "home")
    nodes = home.cluster_dir("c").joinpath("nodes")
    for name in ("c-head", "c-worker2", "c-worker10", "c-worker1"):
        (nodes / name).mkdir(parents=True)
    na.write_stop_stamp("1.0\n", nodes.parent)  # as a local-cloud autodown leaves it: beside nodes/, not in it
    assert (nodes.parent / na.STOPPED_AT_FILE).read_text() == (na.ROOT / na.STOPPED_AT_FILE).read_text() == "1.0\n"
    assert not (nodes / na.STOPPED_AT_FILE).exists()  # nodes/ ends empty after an autodown (tests wait on it)
    taken = []
    monkeypatch.setattr(faults, "preempt", lambda node: taken.append(node.name) or 1)
    assert faults.preempt_cluster(home, "c") == 4
    assert taken == ["c-head", "c-worker1", "c-worker2", "c-worker10"]
    taken.clear()
    assert faults.preempt_cluster(home, "c", ranks=[2]) == 1 and taken == ["c-worker2"]


# --- setup as the job's first phase ---------------------------------------------------------------------


def setup_job(tmp_path, name: str, setup: str, run: str | None, gpus: float = 0, **keys) -> int:
    """A one-node job whose setup and run each append a line to tmp_path/<name>.order."""
    order = tmp_path / f"{name}.order"
    spec = {"name": name, "script": None if run is None else f"{run}; echo run >> {order}",
            "ranks": [{"env": {"SECRET": "s3cret"}, "cwd": str(tmp_path)}], "cpus": 1, "gpus": gpus,
            "setup": f"echo setup >> {order}; {setup}", "setup_env": [{"SKYPILOT_SETUP_NODE_RANK": "0"}], **keys}
    return na.enqueue(spec)


def test_setup_runs_before_the_run_in_the_same_job_holding_its_devices(head, tmp_path):
    scheduler = head()
    go = tmp_path / "go"
    job = setup_job(tmp_path, "both", f'echo "rank=$SKYPILOT_SETUP_NODE_RANK secret=$SECRET gpus=${{CUDA_VISIBLE_DEVICES-unset}}"; '
                                      f'while [ ! -f {go} ]; do sleep 0.02; done', "echo running", gpus=2)
    other = submit(tmp_path, "other", 1)
    scheduler.schedule()
    assert row(scheduler, job)["status"] == na.SETTING_UP
    assert json.loads(row(scheduler, job)["gpu_ids"]) == [[0, 1]], "setup holds the job's devices"
    drive(scheduler, lambda: (tmp_path / "both.order").exists(), "setup to start")
    assert row(scheduler, other)["status"] == na.PENDING, "a job waits for the devices a job in setup holds"
    assert (tmp_path / "both.order").read_text() == "setup\n", "the run waits for setup"
    go.touch()
    drive(scheduler, lambda: row(scheduler, job)["status"] == na.SUCCEEDED, "the job to succeed")
    assert (tmp_path / "both.order").read_text() == "setup\nrun\n"
    directory = na.job_dir(job)
    assert (directory / "setup-0.log").read_text() == "rank=0 secret=s3cret gpus=unset\n", "setup's own log, its env"
    assert (directory / na.rank_log(0)).read_text() == "running\n"
    assert "s3cret" not in (directory / na.SPEC_FILE).read_text(), "secrets leave the spec once the run has them"
    drive(scheduler, lambda: row(scheduler, other)["status"] == na.SUCCEEDED, "the waiting job to run")


def test_a_failing_setup_fails_the_job_failed_setup_and_its_run_never_starts(head, tmp_path):
    scheduler = head()
    job = setup_job(tmp_path, "bad", "exit 3", "true")
    scheduler.schedule()
    drive(scheduler, lambda: row(scheduler, job)["status"] in na.TERMINAL, "the job to end")
    ended = row(scheduler, job)
    assert (ended["status"], ended["exit_code"], ended["detail"]) == (na.FAILED_SETUP, 3, "setup failed on c-head (exit 3)")
    assert (tmp_path / "bad.order").read_text() == "setup\n", "no run after a failed setup"
    assert not (na.job_dir(job) / na.rank_pid(0)).exists()


def test_setup_past_its_time_limit_is_killed_and_fails_naming_the_node(head, tmp_path):
    scheduler = head()
    job = setup_job(tmp_path, "slow", f"echo $$ > {tmp_path / 'slow.pid'}; sleep 60", "true", setup_timeout=0.5)
    scheduler.schedule()
    drive(scheduler, lambda: row(scheduler, job)["status"] in na.TERMINAL, "the time limit to fail setup")
    ended = row(scheduler, job)
    assert ended["status"] == na.FAILED_SETUP
    assert ended["detail"] == "setup failed: c-head: still running after 0.5s (time limit 0.5s, STIX_SETUP_TIMEOUT)"
    group = na.read_group(na.job_dir(job) / na.setup_files(0)[1])
    assert group and not na.group_alive(*group), "the timed-out setup is killed"


def test_a_job_of_setup_alone_succeeds_when_setup_does(head, tmp_path):
    scheduler = head()
    job = setup_job(tmp_path, "alone", "true", None)
    scheduler.schedule()
    drive(scheduler, lambda: row(scheduler, job)["status"] in na.TERMINAL, "the job to end")
    assert (row(scheduler, job)["status"], row(scheduler, job)["exit_code"]) == (na.SUCCEEDED, 0)
    assert (tmp_path / "alone.order").read_text() == "setup\n"


def test_cancelling_a_job_in_setup_kills_setup_and_frees_its_devices(head, tmp_path):
    scheduler = head()
    job = setup_job(tmp_path, "cancelled", "sleep 60", "true", gpus=1)
    scheduler.schedule()
    drive(scheduler, lambda: (tmp_path / "cancelled.order").exists(), "setup to start")
    na.cmd_cancel(argparse.Namespace(all=False, jobs=[job]))
    scheduler.reap()
    assert row(scheduler, job)["status"] == na.CANCELLED and job not in scheduler.setting_up
    group = na.read_group(na.job_dir(job) / na.setup_files(0)[1])
    assert group and not na.group_alive(*group)
    assert scheduler.usage()[1][0] == {0: 0.0, 1: 0.0}


def test_setup_failures_name_every_failed_node_and_a_lost_one_at_once():
    setup = na.Setup({"setup": "x", "script": "y", "keepalive": [1, 3]})
    nodes = [{"name": "c-head"}, {"name": "c-worker1"}, {"name": "c-worker2"}]
    now = time.time()
    assert setup.failure([0, None, 4], now, nodes) is None, "a failed node waits for the others"
    assert setup.failure([0, 2, 4], now, nodes) == (2, "setup failed on c-worker1 (exit 2), c-worker2 (exit 4)")
    assert setup.failure([0, 0, 0], now, nodes) is None
    lost = setup.failure([None, 255, None], now, nodes)
    assert lost == (None, "setup failed: c-worker1: unreachable, died, or no reply for 3s (keepalive every 1s)")
    assert setup.failure([na.GONE, None, None], now, nodes)[1].startswith("setup failed: c-head: ended without")
    assert setup.failure([255, 0, 0], now, nodes) == (255, "setup failed on c-head (exit 255)"), \
        "the head's own setup exiting 255 is its status, not a lost node"


def test_the_head_reaches_the_workers_with_the_setups_keepalive():
    command = na.ssh_command({"port": 2222, "user": "u", "ip": "10.0.0.2"}, {"key": "/k", "known_hosts": "/kh"}, "true", (1, 3))
    assert "ServerAliveInterval=1" in command and "ServerAliveCountMax=3" in command
    default = na.ssh_command({"port": 2222, "user": "u", "ip": "10.0.0.2"}, {"key": "/k", "known_hosts": "/kh"}, "true")
    assert "ServerAliveInterval=15" in default and "ServerAliveCountMax=4" in default


def setup_spec(tmp_path, name: str) -> str:
    return json.dumps({"name": name, "script": "echo run-line", "ranks": [{"env": {}, "cwd": "/tmp"}], "cpus": 1, "gpus": 0,
                       "setup": f"echo setup-line; touch {tmp_path / name}.started; "
                                f"while [ ! -f {tmp_path / name}.go ]; do sleep 0.02; done; echo setup-done"})


def test_a_restarted_daemon_adopts_a_job_in_setup_and_logs_show_setup_then_run(agent_home, tmp_path):
    cli = agent_home
    job = int(cli("submit", stdin=setup_spec(tmp_path, "adopted")).stdout)
    wait_for((tmp_path / "adopted.started").exists, timeout=WAIT_S, what="setup to start", interval=0.02)
    kill_daemon(live_daemon(cli))
    cli("ensure")
    live_daemon(cli)
    follower = subprocess.Popen([sys.executable, str(AGENT_SOURCE), "logs", str(job), "--follow"], env=cli.env,
                                stdout=subprocess.PIPE, text=True)
    setup_only = subprocess.Popen([sys.executable, str(AGENT_SOURCE), "logs", str(job), "--follow", "--phase", "setup"],
                                  env=cli.env, stdout=subprocess.PIPE, text=True)
    (tmp_path / "adopted.go").touch()
    out, _ = follower.communicate(timeout=WAIT_S)
    assert follower.returncode == 0
    assert out.splitlines() == ["(head, rank=0) setup-line", "(head, rank=0) setup-done", "(head, rank=0) run-line"]
    setup_out, _ = setup_only.communicate(timeout=WAIT_S)
    assert setup_out.splitlines() == ["(head, rank=0) setup-line", "(head, rank=0) setup-done"]
    assert json.loads(cli("queue").stdout)[-1]["status"] == na.SUCCEEDED
    assert cli("logs", str(job), "--phase", "run").stdout.splitlines() == ["(head, rank=0) run-line"]
