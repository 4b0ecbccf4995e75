"""The head agent's reused connections to its workers (node_agent.Masters), with a stand-in `ssh` on PATH: what
each ssh is asked to do, where it runs, and what the daemon does when a master cannot be had."""

import json
import os
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from stix.agent import node_agent as na
from tests.polling import wait_for

WAIT_S = 30.0
FAKE_SSH = r"""#!/bin/bash
# Records "cwd|session|pid|argv"; a master (-M) does $FAKE_MASTER, a session runs its command here.
printf '%s\n' "$PWD|$(cut -d' ' -f6 /proc/$$/stat)|$$|$*" >> "$FAKE_SSH_LOG"
case " $* " in
  *" -M "*) eval "${FAKE_MASTER:-exit 0}";;
esac
exec bash -c "${@: -1}"
"""


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """A head and one worker (reached through the stand-in ssh, which runs the worker's part here); yields the
    scheduler factory and the ssh log."""
    monkeypatch.setattr(na, "ROOT", tmp_path / "agent")
    na.ROOT.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text(FAKE_SSH)
    (bin_dir / "ssh").chmod(0o755)
    log = tmp_path / "ssh.log"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SSH_LOG", str(log))
    monkeypatch.setenv("HOME", str(tmp_path))
    nodes = [{"rank": rank, "name": f"c-{role}", "ip": "127.0.0.1", "port": 2200 + rank, "user": "u",
              "home": str(tmp_path), "host_public_key": f"ssh-ed25519 KEY{rank}"}
             for rank, role in enumerate(("head", "worker1"))]
    (na.ROOT / na.CLUSTER_FILE).write_text(json.dumps(
        {"cluster": "c", "cloud": "local", "cpus": 8, "gpus": 0, "key": "/k", "known_hosts": "/kh", "nodes": nodes}))
    schedulers = []

    def make() -> na.Scheduler:
        scheduler = na.Scheduler()
        schedulers.append(scheduler)
        return scheduler

    yield make, log
    for scheduler in schedulers:
        for job_id, ranks in scheduler.running.items():
            na.kill_job(job_id, len(ranks))


def calls(log: Path, count: int = 0) -> list[tuple[str, int, int, list[str]]]:
    """(cwd, session, pid, argv) of each ssh started; once there are `count` of them."""
    if count:
        wait_for(lambda: len(calls(log)) >= count, timeout=WAIT_S, what=f"{count} ssh calls")
    found = []
    for line in log.read_text().splitlines() if log.exists() else []:
        cwd, session, pid, argv = line.split("|", 3)
        found.append((cwd, int(session), int(pid), argv.split(" ")))
    return found


def listen(directory: Path, name: str) -> socket.socket:
    """A stand-in master: something listening on the socket `name` in `directory` (any path length)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        server.bind(f"/proc/self/fd/{fd}/{name}")
    finally:
        os.close(fd)
    server.listen(16)
    return server


def two_node_job(name: str, script: str) -> int:
    return na.enqueue({"name": name, "script": script, "cpus": 0.5, "gpus": 0,
                       "ranks": [{"env": {"R": str(rank)}, "cwd": "/tmp"} for rank in range(2)]})


def finish(scheduler: na.Scheduler, job_id: int) -> dict:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        scheduler.reap()
        scheduler.schedule()
        row = dict(scheduler.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())
        if row["status"] in na.TERMINAL:
            return row
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not end")


def test_a_masters_socket_is_named_by_what_it_reaches_and_with_which_keepalive(tmp_path, monkeypatch):
    monkeypatch.setattr(na, "ROOT", tmp_path)
    masters = na.Masters()
    node = {"user": "u", "ip": "10.0.0.2", "private_ip": "10.0.0.2", "port": 22, "host_public_key": "ssh-ed25519 A c"}
    info = {"key": "/k"}
    name = masters.name(node, info)
    assert name.endswith(".sock") and len(name) <= 40, "short: ssh adds 17 characters while it binds"
    assert masters.name(node, info, (15, 4)) == name, "15.0 and 15 are one keepalive"
    assert masters.name({**node, "host_public_key": "ssh-ed25519 A other-comment"}, info) == name
    for changed in ({"port": 2222}, {"host_public_key": "ssh-ed25519 B c"}, {"private_ip": "10.0.0.3"},
                    {"user": "v"}):
        assert masters.name({**node, **changed}, info) != name, f"a re-created worker ({changed}) gets a new master"
    assert masters.name(node, {"key": "/other"}) != name
    assert masters.name(node, info, (1, 3)) != name, "a job's keepalive bound is its master's"


def test_the_masters_directory_is_private_and_one_open_to_others_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setattr(na, "ROOT", tmp_path / "a")
    directory = na.mux_directory()
    assert directory == tmp_path / "a" / na.MUX_DIR
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    monkeypatch.setattr(na, "ROOT", tmp_path / "b")
    (tmp_path / "b" / na.MUX_DIR).mkdir(parents=True)
    (tmp_path / "b" / na.MUX_DIR).chmod(0o777)
    assert na.mux_directory() is None
    masters = na.Masters()
    node = {"user": "u", "ip": "10.0.0.2", "port": 22}
    argv, cwd = masters.command(node, {"key": "/k", "known_hosts": "/kh"}, "true")
    assert cwd is None and "ControlPath=none" in argv, "no directory of its own: every ssh connects directly"
    assert masters.open([node], {"key": "/k", "known_hosts": "/kh"}) == 0


def test_a_listening_master_is_used_and_a_dead_ones_socket_is_removed(tmp_path, monkeypatch):
    root = tmp_path / ("long-" * 20)  # past the 108 bytes of a socket's path
    root.mkdir()
    monkeypatch.setattr(na, "ROOT", root)
    masters = na.Masters()
    node = {"user": "u", "ip": "10.0.0.2", "port": 2222}
    info = {"key": "/k", "known_hosts": "/kh"}
    name = masters.name(node, info)
    argv, cwd = masters.command(node, info, "true")
    assert (cwd, argv[-2:]) == (None, ["u@10.0.0.2", "true"]) and "ControlPath=none" in argv, "none yet"
    server = listen(masters.directory, name)
    try:
        argv, cwd = masters.command(node, info, "true")
        assert cwd == str(masters.directory)
        assert "ControlMaster=no" in argv and f"ControlPath={name}" in argv, "a session over the master, never a master"
        argv, cwd = masters.command(node, info, "true", reuse=False)
        assert cwd is None and "ControlPath=none" in argv
    finally:
        server.close()  # a master killed outright leaves its socket behind
    assert (masters.directory / name).exists()
    argv, cwd = masters.command(node, info, "true")
    assert cwd is None and "ControlPath=none" in argv
    assert not (masters.directory / name).exists(), "the dead master's socket is removed, for a new one"


def test_a_multi_node_job_opens_the_masters_first_detached_then_runs_its_ranks_over_them(cluster, monkeypatch):
    make, log = cluster
    scheduler = make()
    masters = scheduler.masters
    info = scheduler.info
    name = masters.name(info["nodes"][1], info)
    server = None

    def master_opens() -> None:
        nonlocal server
        server = listen(masters.directory, name)

    monkeypatch.setenv("FAKE_MASTER", "exit 0")  # "opened", though nothing listens: the rank goes direct
    try:
        job = two_node_job("j", 'echo "hi-$R"')
        scheduler.schedule()
        started = calls(log, 2)
        (cwd, session, pid, argv), (rank_cwd, _, _, rank_argv) = started
        assert cwd == str(masters.directory) and session == pid, "the master leads a session of its own, in mux/"
        assert {"-M", "-N", "ControlMaster=yes", f"ControlPath={name}", f"ControlPersist={na.MASTER_IDLE_S}"} <= set(argv)
        assert argv[argv.index("-E") + 1] == name.replace(".sock", ".log"), "its messages in its own log"
        assert f"KexAlgorithms={na.KEX_ALGORITHMS}" in argv and "sntrup" not in na.KEX_ALGORITHMS
        assert {"StrictHostKeyChecking=yes", "UserKnownHostsFile=/kh", "BatchMode=yes"} <= set(argv), "still pinned"
        assert "ControlPath=none" in rank_argv, "the stand-in master never listened: the rank connects directly"
        assert finish(scheduler, job)["status"] == na.SUCCEEDED
        assert (na.job_dir(job) / na.rank_log(1)).read_text() == "hi-1\n", "the master's stderr is not the job's"

        master_opens()
        second = two_node_job("k", 'echo "again-$R"')
        scheduler.schedule()
        (rank_cwd, _, _, rank_argv), = calls(log, 3)[2:]
        assert rank_cwd == str(masters.directory) and f"ControlPath={name}" in rank_argv, "no new master: reused"
        assert finish(scheduler, second)["status"] == na.SUCCEEDED
    finally:
        if server is not None:
            server.close()


def test_a_master_that_hangs_is_given_up_within_the_bound_and_the_rank_goes_direct(cluster, monkeypatch):
    make, log = cluster
    monkeypatch.setattr(na, "MASTER_OPEN_S", 0.5)
    monkeypatch.setenv("FAKE_MASTER", "exec sleep 60")  # a worker that accepts and never answers
    scheduler = make()
    job = two_node_job("j", 'echo "hi-$R"')
    began = time.monotonic()
    scheduler.schedule()
    assert time.monotonic() - began < 5, "the daemon waited past MASTER_OPEN_S for a master"
    master = calls(log, 1)[0]
    assert not Path(f"/proc/{master[2]}").exists() or " Z " in Path(f"/proc/{master[2]}/stat").read_text()
    assert finish(scheduler, job)["status"] == na.SUCCEEDED
    began = time.monotonic()
    assert finish(scheduler, two_node_job("k", "true"))["status"] == na.SUCCEEDED
    assert time.monotonic() - began < 5 and len(calls(log)) == 3, "a failed master is not retried at every job"


def test_a_worker_with_a_full_master_gets_a_connection_of_its_own(cluster, monkeypatch):
    make, log = cluster
    monkeypatch.setenv("FAKE_MASTER", "exit 0")
    scheduler = make()
    name = scheduler.masters.name(scheduler.info["nodes"][1], scheduler.info)
    server = listen(scheduler.masters.directory, name)
    try:
        for other in range(100, 100 + na.MASTER_SESSIONS):  # jobs this daemon follows, each with a rank there
            scheduler.running[other] = [na.Rank(other, 0, 1, None), na.Rank(other, 1, 1, None)]
        assert scheduler.sessions(1) == {1: na.MASTER_SESSIONS}
        ranks: list[na.Rank] = []
        job = two_node_job("j", "true")
        scheduler.launch_ranks(job, json.loads((na.job_dir(job) / na.SPEC_FILE).read_text()), "true",
                               [{}, {}], ranks)
        (_, _, _, argv), = calls(log, 1)
        assert "ControlPath=none" in argv, "sshd refuses an 11th session on one connection (MaxSessions 10)"
        for each in ranks:
            each.process.wait(timeout=WAIT_S)
    finally:
        for other in range(100, 100 + na.MASTER_SESSIONS):
            scheduler.running.pop(other)
        server.close()


def test_a_script_past_the_pipes_size_is_handed_over_without_waiting_for_its_reader(tmp_path):
    reader = subprocess.Popen(["bash", "-c", f"sleep 1; cat > {tmp_path / 'got'}"], stdin=subprocess.PIPE)
    data = b"x" * (1 << 20)
    began = time.monotonic()
    na.hand_over(reader.stdin, data)
    assert time.monotonic() - began < 0.5, "the next rank would wait for this one's ssh to read its script"
    assert reader.wait(timeout=WAIT_S) == 0
    assert (tmp_path / "got").read_bytes() == data


@pytest.mark.parametrize("runner", ["local", "remote"])
def test_a_runner_reads_a_long_script_of_any_characters_whole_and_never_a_cut_one(tmp_path, runner):
    """The script's length is in bytes and the runner reads bytes (LC_ALL=C), whatever the locale it runs in."""
    command = na.LOCAL_RUNNER if runner == "local" else na.REMOTE_RUNNER.format(job=3)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    script = f"X='{'é' * 50_000}'; echo \"${{#X}} $LANG\"; echo done"
    assert len(na.framed(script)) > 100_000
    done = subprocess.run(["bash", "-c", command], input=na.framed(script), env=env, capture_output=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, b"50000 C.UTF-8\ndone\n"), done.stderr
    cut = subprocess.run(["bash", "-c", command], input=na.framed(f"touch {tmp_path / 'ran'}; :")[:-3], env=env,
                         capture_output=True, timeout=60)
    assert cut.returncode == 1 and not (tmp_path / "ran").exists()
