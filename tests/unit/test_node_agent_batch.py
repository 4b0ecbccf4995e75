"""The node agent's batches: many jobs per submit, every job that fits started in one pass, a daemon woken by
a job's end."""

import json
import sqlite3
import subprocess
import sys

import pytest

from stix.agent import AGENT_SOURCE
from stix.agent import node_agent as na
from tests.polling import wait_for
from tests.unit.agent_home import agent_cli, kill_started

WAIT_S = 30.0


@pytest.fixture
def agent_home(tmp_path):
    """A temp STIX_AGENT_HOME with a one-node cluster of 2 CPUs; yields a CLI runner (stdin: text)."""
    yield from agent_cli(tmp_path, cpus=2, check=False)


def spec(name: str, script: str, cwd: str, cpus: float = 0.01) -> dict:
    return {"name": name, "script": script, "ranks": [{"env": {"SECRET": "s3cret"}, "cwd": cwd}], "cpus": cpus,
            "gpus": 0}


def statuses(home) -> dict[int, str]:
    if not (home / na.JOBS_DB).exists():
        return {}
    db = sqlite3.connect(home / na.JOBS_DB)
    try:
        return dict(db.execute("SELECT id, status FROM jobs"))
    finally:
        db.close()


def test_a_list_of_jobs_is_queued_in_one_submit_and_each_runs(agent_home, tmp_path):
    jobs = [spec(f"j{i}", f"echo ran {i} > {tmp_path}/out{i}", str(tmp_path)) for i in range(20)]
    done = agent_home("submit", stdin=json.dumps(jobs))
    assert done.returncode == 0, done.stderr
    ids = json.loads(done.stdout)
    assert ids == list(range(ids[0], ids[0] + 20))
    wait_for(lambda: set(statuses(agent_home.home).values()) == {na.SUCCEEDED}, timeout=WAIT_S,
             what="every job of the batch to succeed")
    assert [(tmp_path / f"out{i}").read_text() for i in range(20)] == [f"ran {i}\n" for i in range(20)]
    queued = agent_home("queue")  # a verb without options (no argparse), and one with them
    assert [row["name"] for row in json.loads(queued.stdout)] == [f"j{i}" for i in range(20)], queued.stderr
    status = agent_home("logs", str(ids[3]), "--status")
    assert (status.returncode, status.stdout) == (0, "SUCCEEDED\n"), status.stderr
    for job_id in ids:  # each job has its own spec (0600, its secrets scrubbed once started) and log
        assert (agent_home.home / na.JOBS_DIR / str(job_id) / na.SPEC_FILE).stat().st_mode & 0o777 == 0o600
        assert "s3cret" not in (agent_home.home / na.JOBS_DIR / str(job_id) / na.SPEC_FILE).read_text()


def test_a_single_job_still_prints_its_bare_id(agent_home, tmp_path):
    done = agent_home("submit", stdin=json.dumps(spec("one", "true", str(tmp_path))))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().isdigit()


def test_a_batch_with_a_bad_job_queues_none_and_says_why_in_one_line(agent_home, tmp_path):
    jobs = [spec("good", "true", str(tmp_path)), {"name": "bad", "script": "true"}]
    done = agent_home("submit", stdin=json.dumps(jobs))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "job 1 of the batch has no ranks" in done.stderr
    assert statuses(agent_home.home) == {}
    assert not (agent_home.home / na.JOBS_DIR).exists() or not any((agent_home.home / na.JOBS_DIR).iterdir())


def test_a_batch_that_fails_midway_leaves_no_rows_and_no_files(tmp_path, monkeypatch):
    monkeypatch.setattr(na, "ROOT", tmp_path / "agent")
    good = spec("good", "true", str(tmp_path))
    unwritable = {**good, "ranks": [{"env": {"SECRET": object()}, "cwd": str(tmp_path)}]}  # json.dump fails
    with pytest.raises(TypeError):
        na.enqueue_many([good, good, unwritable])
    assert na.connect().execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
    assert not any((na.ROOT / na.JOBS_DIR).iterdir())
    assert na.enqueue_many([good]) == [1]  # the ids are free again, and the job's directory is its own
    assert sorted(p.name for p in na.job_dir(1).iterdir()) == [na.rank_log(0), na.SPEC_FILE]


@pytest.fixture
def scheduler(tmp_path, monkeypatch):
    """An in-process scheduler on a one-node cluster with 2 CPUs; kills what it started."""
    monkeypatch.setattr(na, "ROOT", tmp_path / "agent")
    na.ROOT.mkdir()
    (na.ROOT / na.CLUSTER_FILE).write_text(json.dumps({
        "cloud": "local", "cpus": 2, "gpus": 0, "key": "", "known_hosts": "",
        "nodes": [{"rank": 0, "name": "n", "ip": "127.0.0.1", "port": 22, "user": "u", "home": str(tmp_path),
                   "gpus": 2, "accelerator": "H100"}]}))
    made = na.Scheduler()
    yield made
    kill_started(made)


def test_one_pass_starts_every_job_that_fits_and_no_more(scheduler, tmp_path):
    """Two CPUs: four half-CPU jobs start in one pass; the fifth waits, and so does the sixth behind it (no
    overtaking), though it would fit. What each started job holds counts for the next in the same pass."""
    wait = f"while [ ! -f {tmp_path}/go ]; do sleep 0.02; done"
    ids = na.enqueue_many([spec(f"j{i}", wait, str(tmp_path), cpus=0.5) for i in range(5)]
                          + [spec("small", wait, str(tmp_path), cpus=0.01)])
    scheduler.schedule()
    got = statuses(na.ROOT)
    assert [got[i] for i in ids] == [na.RUNNING] * 4 + [na.PENDING] * 2


def test_one_pass_gives_gpu_jobs_distinct_devices(scheduler, tmp_path):
    ids = na.enqueue_many([{**spec(f"g{i}", "sleep 30", str(tmp_path)), "gpus": 1} for i in range(3)])
    scheduler.schedule()
    rows = {row["id"]: dict(row) for row in scheduler.conn.execute("SELECT * FROM jobs")}
    assert [rows[i]["status"] for i in ids] == [na.RUNNING, na.RUNNING, na.PENDING]
    assert sorted(json.loads(rows[i]["gpu_ids"])[0][0] for i in ids[:2]) == [0, 1]


WOKEN_BY_A_CHILD = """
import importlib.util, signal, subprocess, sys, time
spec = importlib.util.spec_from_file_location("node_agent", sys.argv[1])
na = importlib.util.module_from_spec(spec)
spec.loader.exec_module(na)
wake = na.Wakeup(signal.SIGUSR1, signal.SIGCHLD)
child = subprocess.Popen(["sleep", "0.2"])
started = time.monotonic()
wake.wait(60)
print(f"{child.poll()} {time.monotonic() - started:.1f}")
"""


def test_a_rank_that_ends_wakes_the_daemon_before_its_tick():
    """The daemon reaps a finished job (and starts the next) when its wrapper ends, not at the next tick: a
    wait with a minute's timeout ends when a child does."""
    done = subprocess.run([sys.executable, "-c", WOKEN_BY_A_CHILD, str(AGENT_SOURCE)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    code, waited = done.stdout.split()
    assert code == "0" and float(waited) < 30, done.stdout


def test_a_rank_makes_its_missing_directory(tmp_path):
    cwd = tmp_path / "a b" / "c"
    done = subprocess.run(["bash", "-c", na.shell_command("pwd", {}, str(cwd))], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == str(cwd)
    done = subprocess.run(["bash", "-c", na.shell_command("pwd", {}, str(cwd))], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == str(cwd)
