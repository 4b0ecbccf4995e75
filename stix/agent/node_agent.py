#!/usr/bin/env python3
"""stix node agent: the job queue, job logs and cancellation on a cluster's head node.

Standard library only: stix uploads this one file to every node and starts it
detached on the head, so jobs keep running when the client goes away. The
client talks to it over SSH by running its subcommands; they print JSON or log
lines and exit with a status, never a traceback for a known condition.

    submit            read a job (JSON) on stdin, queue it, print its id; a JSON list of jobs: one
                      transaction, prints the JSON list of their ids
    queue             print every job as JSON
    logs ID           print a job's logs (setup's, then the run's): --tail N, --follow, --status, --phase
    cancel ID...|-a   cancel jobs, killing their processes on every node
    daemon            the scheduler (one per head; started by `ensure`)
    ensure            start the daemon unless it runs
    autostop          set (--idle MINUTES [--down] [--wait-for W] [--hook-stdin [--hook-timeout S]]) or --cancel
                      the idle timer; the hook (a script, on stdin) runs on the head before the stop

State lives in $STIX_AGENT_HOME (default ~/.stix-agent): jobs.db (SQLite), and
jobs/<id>/ with spec.json (mode 0600: it holds the job's secrets) and
rank-<r>.log per node (setup-<r>.log too for a job with a setup phase: class Setup). cluster.json describes the nodes (each with its "gpus" and
"accelerator"); the head reaches the workers with the cluster key and pinned host
keys stix put beside it. A job holds its CPUs and GPU devices on each of its nodes
(ranks 0..N-1) while it runs; the daemon tells it which devices in
CUDA_VISIBLE_DEVICES and records them in the jobs table (gpu_ids).

Jobs outlive the daemon. Each rank runs under a wrapper on the head, in its own
session (so neither a daemon death nor a closed SSH session touches it): for rank
0 the wrapper runs the job, for a worker rank it runs the ssh to that worker (a session over the head's
one master connection to it: class Masters), which lives on when the daemon that started it dies. The wrapper records its
process group and start time in jobs/<id>/rank-<r>.pid before it is handed the
rank's script on stdin (no secrets in argv; a wrapper whose daemon died before
handing it the script reads EOF and runs nothing), and writes the rank's exit
status to rank-<r>.exit when it ends (a worker rank's status is its ssh's: the
remote status, or 255). A restarted daemon adopts every RUNNING job: a rank has
ended when its .exit file exists; a rank whose process group is gone without one
was killed (or its node restarted), and the job FAILS saying so. A job whose
ranks were not all started when the daemon died FAILS too. Once every rank has
its script, spec.json loses the env values (secrets). A pid is signalled only
after checking it is still the process recorded (start time, or for the daemon
its command line). `logs --follow` watches the daemon: if it is gone it starts
one (which adopts the job) once, and if that one is gone as well it exits
DAEMON_GONE_EXIT, which the client turns into an error; so does a daemon that lives
but has not come round its loop for DAEMON_STUCK_S (daemon.beat's mtime). Where a node runs jobs in a
container (image_id docker:IMAGE), a rank's process group there is recorded in
~/.stix-agent/cpids/<job>-<rank>, and a cancel signals it in the container first:
the node's own process group holds only the runtime's exec client.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

# The agent's layout, statuses and exit codes: the client (stix.cluster_jobs, the SSH pool provider) imports these
# names from this module, so nothing here may do more at import than compute constants.
REMOTE_DIR = ".stix-agent"
"""Under the node's home: the agent, the head's job database, job logs, the pids of jobs on workers."""
AGENT_FILE = "node_agent.py"
CLUSTER_FILE = "cluster.json"
KEY_FILE = "cluster_key"
KNOWN_HOSTS_FILE = "known_hosts"
JOBS_DB = "jobs.db"
JOBS_DIR = "jobs"
SPEC_FILE = "spec.json"
PIDS_DIR = "pids"
DAEMON_PID_FILE = "daemon.pid"
DAEMON_LOCK_FILE = "daemon.lock"
DAEMON_LOG_FILE = "daemon.log"
DAEMON_BEAT_FILE = "daemon.beat"
"""The daemon's pid; its mtime says when the daemon last came round its loop (an older agent's daemon has none)."""
AUTOSTOP_FILE = "autostop.json"
CONTAINER_FILE = "container"
"""On a node whose setup and run execute in a container (image_id docker:IMAGE): "<runtime> <container name>"."""
CPIDS_DIR = "cpids"
"""On such a node: "<job>-<rank>" holds the process group, in the container, of that rank of a running job."""
HOOK_LOG_FILE = "autostop_hook.log"
"""The autostop hook's output (the last run's), on the head: kept by a stop, gone with a teardown."""
STOPPED_AT_FILE = "autostopped_at"
"""On the head: when autostop fired (epoch seconds), so the client's cost report counts the stop from then, not from
when it noticed. A local-cloud autodown, which removes the head's home, writes it beside the node directories."""
DEFAULT_HOOK_TIMEOUT_S = 3600
"""SkyPilot's default for resources.autostop.hook_timeout."""
# expanduser never raises (it returns "~" unchanged when there is no home); Path.home() can.
ROOT = Path(os.environ.get("STIX_AGENT_HOME") or os.path.join(os.path.expanduser("~"), REMOTE_DIR))

PENDING, SETTING_UP, RUNNING = "PENDING", "SETTING_UP", "RUNNING"
SUCCEEDED, FAILED, FAILED_SETUP, CANCELLED = "SUCCEEDED", "FAILED", "FAILED_SETUP", "CANCELLED"
ACTIVE = (SETTING_UP, RUNNING)
"""Statuses that hold CPUs and GPU devices."""
TERMINAL = (SUCCEEDED, FAILED, FAILED_SETUP, CANCELLED)
# `sky logs --status` exit codes.
STATUS_EXIT = {SUCCEEDED: 0, FAILED: 100, FAILED_SETUP: 100, CANCELLED: 103}
NOT_FINISHED_EXIT, NOT_FOUND_EXIT = 101, 102
DAEMON_GONE_EXIT = 104
"""`logs --follow`: the daemon stopped while the job was unfinished, and a restart did not hold (or it is stuck)."""
DAEMON_CHECK_S = 1.0
DAEMON_STUCK_S = 180.0
"""`logs --follow`: a daemon that is alive but has not come round its loop for this long (DAEMON_BEAT_FILE: touched
each time round, and while an autostop hook runs) is stuck, and the follower ends with DAEMON_GONE_EXIT too."""
GPU_ENV = "CUDA_VISIBLE_DEVICES"
TICK_S = 0.1
FOLLOW_FIRST_S = 0.01
"""A follow polls this often at first and after output, backing off to TICK_S while nothing moves: a short
job's end (or the end of its setup) is seen at once, a long quiet one costs no more than before."""
KILL_GRACE_S = 3.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT, status TEXT NOT NULL, submitted REAL NOT NULL, started REAL, ended REAL,
    exit_code INTEGER, cpus REAL NOT NULL, gpus REAL NOT NULL, num_nodes INTEGER NOT NULL, detail TEXT,
    gpu_ids TEXT
)
"""
# Columns added since the first agent: agents are upgraded in place, so an older jobs.db gains them.
ADDED_COLUMNS = {"gpu_ids": "TEXT"}
"""gpu_ids: the devices a started job holds, a JSON list per rank (node), e.g. [[0, 1], [0, 1]]."""
# How a runner reads its rank's script: its length in bytes on a line, then that many bytes (LC_ALL=C: bytes, not
# characters), all at once. `read -d ""` up to a NUL read a byte per system call: 50 KB of a 64-node cluster's env took
# a worker 20 ms a rank. A script cut short (the daemon died while handing it over) fails the read: it never runs.
READ_SCRIPT = 'IFS= read -r __stix_n && LC_ALL=C IFS= read -r -N "$__stix_n" __stix_script'
# On a worker: record the process group, read the rank's script from stdin (it may hold secrets), run it,
# and remove the pid file when it ends (pool destroy kills every group a pid file names).
REMOTE_RUNNER = ("setsid --wait bash -c 'd=\"$HOME/" + REMOTE_DIR + "/" + PIDS_DIR + "\"; [ -d \"$d\" ] || mkdir -p \"$d\"; "
                 "echo $$ > \"$d/{job}\"; " + READ_SCRIPT + " || {{ rm -f \"$d/{job}\"; exit 1; }}; "
                 "(eval \"$__stix_script\"); c=$?; rm -f \"$d/{job}\"; exit $c'")
# On the head, a rank's wrapper: run the rank ("$@"), then record its exit status ($1) with one write of the shell's
# own (no mv: a process less per rank). A reader that finds the file still empty takes the rank for running, which
# it is: the wrapper lives until the write is done.
RANK_WRAPPER = 'e=$1; shift; "$@"; c=$?; printf "%s\\n" "$c" > "$e"; exit $c'
# Rank 0 itself: its script arrives on stdin, never in argv; the job's own stdin is /dev/null.
LOCAL_RUNNER = READ_SCRIPT + ' || exit 1; eval "$__stix_script" </dev/null'


# In the container, a job's rank: run the script ($2) in a process group of its own, recorded in $1 while it runs, so
# a cancel can signal it there (killing the host's `docker exec` client would leave it running). `set -m` makes the
# group (images need not have setsid); `set +m` before the wait keeps bash from reporting the job's end. An image
# without rm empties the record instead (container_kill ignores an empty one).
CONTAINER_RANK = ('set -m; bash -c "$2" & set +m; echo $! > "$1"; wait $!; c=$?; '
                  '{ rm -f "$1" || : > "$1"; } 2>/dev/null; exit $c')


def in_container(env_keys, script: str, tag: str | None = None) -> str:
    """A shell command that runs `script` with bash in the node's container where it has one (CONTAINER_FILE),
    else on the node itself, in the current directory. The variables named pass into the container by name: their
    values (secrets among them) stay in the environment, never in argv. A job's rank has a `tag`, "<job>-<rank>":
    in the container its process group is recorded under CPIDS_DIR, for container_kill."""
    passes = "".join(f"-e {_quote(key)} " for key in dict.fromkeys([*env_keys, GPU_ENV]))
    script_q = _quote(script)
    run = f'exec "$__stix_r" exec {passes}-w "$PWD" "$__stix_n" bash -c '
    if tag is None:
        run += script_q
    else:
        cpids = f'"$HOME/{REMOTE_DIR}/{CPIDS_DIR}"'
        run = f"mkdir -p {cpids} && {run}{_quote(CONTAINER_RANK)} stix-rank {cpids}/{_quote(tag)} {script_q}"
    return (f'__stix_c="$HOME/{REMOTE_DIR}/{CONTAINER_FILE}"; if [ -f "$__stix_c" ]; then '
            'read -r __stix_r __stix_n < "$__stix_c" && "$__stix_r" start "$__stix_n" >/dev/null || '
            '{ echo "stix: the node\'s container could not be started" >&2; exit 125; }; '
            f'{run}; fi; exec bash -c {script_q}')


def container_kill(directory: str, tag: str) -> str:
    """A shell command: in the node's container, SIGTERM the process group that the job's rank `tag` recorded under
    `directory` (the agent directory, shell syntax), then SIGKILL what is left after KILL_GRACE_S. Nothing without
    a container or a record."""
    inside = (f'kill -TERM -- -$1 2>/dev/null; for ((i = 0; i < {int(KILL_GRACE_S * 10)}; i++)); do '
              'kill -0 -- -$1 2>/dev/null || exit 0; sleep 0.1; done; kill -KILL -- -$1 2>/dev/null; exit 0')
    return (f'__stix_d={directory}; __stix_f="$__stix_d/{CPIDS_DIR}/"{_quote(tag)}; '
            f'[ -f "$__stix_d/{CONTAINER_FILE}" ] && [ -f "$__stix_f" ] || exit 0; '
            f'read -r __stix_r __stix_n < "$__stix_d/{CONTAINER_FILE}"; read -r __stix_g < "$__stix_f"; '
            'case "$__stix_g" in ""|*[!0-9]*) exit 0;; esac; '
            f'"$__stix_r" exec "$__stix_n" bash -c {_quote(inside)} stix-kill "$__stix_g" >/dev/null 2>&1; '
            'rm -f "$__stix_f"; exit 0')


def shell_command(script: str, env: dict[str, str], cwd: str, tag: str | None = None) -> str:
    """`script` in `cwd` (made if absent) with `env` exported, in the node's container where it has one (a job's
    rank with its `tag`, in_container)."""
    exports = "".join(f"export {key}={_quote(value)}; " for key, value in env.items())
    # mkdir only where the directory is missing: a process less for each rank of each job.
    return (f"{exports}{{ [ -d {_quote(cwd)} ] || mkdir -p {_quote(cwd)}; }} && cd {_quote(cwd)} && "
            f"{in_container(env, script, tag)}")


def rank_tag(job_id: int, rank: int) -> str:
    return f"{int(job_id)}-{int(rank)}"


def rank_log(rank: int) -> str:
    return f"rank-{rank}.log"


def rank_pid(rank: int) -> str:
    return f"rank-{rank}.pid"


def rank_exit(rank: int) -> str:
    return f"rank-{rank}.exit"


def setup_files(rank: int) -> tuple[str, str, str]:
    """A rank's setup log, pid and exit files (its run's are rank-<r>.*)."""
    return f"setup-{rank}.log", f"setup-{rank}.pid", f"setup-{rank}.exit"


def connect() -> sqlite3.Connection:
    ROOT.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(ROOT / JOBS_DB, timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(SCHEMA)
    have = {row["name"] for row in conn.execute("PRAGMA table_info(jobs)")}
    for column, kind in ADDED_COLUMNS.items():
        if column not in have:
            try:
                conn.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
            except sqlite3.OperationalError as exc:  # another agent process added it first
                if "duplicate column" not in str(exc):
                    raise
    return conn


def job_dir(job_id: int) -> Path:
    return ROOT / JOBS_DIR / str(job_id)


def cluster() -> dict:
    return json.loads((ROOT / CLUSTER_FILE).read_text())


# --- commands ---------------------------------------------------------------------------------


def cmd_submit(args) -> int:
    """One job (a JSON object) prints its id; a batch (a JSON list of them) is queued in one transaction and
    prints the list of ids, as JSON on one line. Either way one poke wakes the daemon."""
    try:
        data = json.load(sys.stdin)
        ids = enqueue_many(data if isinstance(data, list) else [data])
    except (ValueError, KeyError, TypeError) as exc:
        print(f"submit: not a job (or a list of jobs): {exc}", file=sys.stderr)
        return 2
    ensure_daemon()
    _poke_daemon()
    print(json.dumps(ids) if isinstance(data, list) else ids[0])
    return 0


def enqueue(spec: dict) -> int:
    """Queue a job: {"name", "script", "ranks": [{"env", "cwd"}, ...], "cpus", "gpus"}, cpus and gpus per node."""
    return enqueue_many([spec])[0]


def enqueue_many(specs: list) -> list[int]:
    """Queue jobs (each as enqueue's) in one transaction: all of them, in order, or none."""
    for number, spec in enumerate(specs):
        if not isinstance(spec, dict) or not isinstance(spec.get("ranks"), list) or not spec["ranks"]:
            raise ValueError(f"job {number} of the batch has no ranks")
    conn = connect()
    # The rows and their files appear together: the daemon (polling, or woken by another command) must never
    # see a PENDING job whose spec.json is not written yet.
    conn.execute("BEGIN IMMEDIATE")
    ids = []
    try:
        for spec in specs:
            cur = conn.execute(
                "INSERT INTO jobs (name, status, submitted, cpus, gpus, num_nodes) VALUES (?, ?, ?, ?, ?, ?)",
                (spec.get("name"), PENDING, time.time(), float(spec.get("cpus", 0.5)), float(spec.get("gpus", 0)),
                 len(spec["ranks"])),
            )
            job_id = cur.lastrowid
            assert job_id is not None  # set by every INSERT
            ids.append(job_id)
            directory = job_dir(job_id)
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(directory / SPEC_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(spec, handle)
            for rank in range(len(spec["ranks"])):
                (directory / rank_log(rank)).touch()
    except BaseException:
        conn.execute("ROLLBACK")
        for job_id in ids:  # their ids are free again: a later job must not find their files (or secrets)
            _remove_tree(job_dir(job_id))
        raise
    conn.execute("COMMIT")
    return ids


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _poke_daemon() -> None:
    pid = daemon_pid()
    if pid is None:
        return  # none runs, or it is starting: it will see the job on its first tick
    try:
        os.kill(pid, signal.SIGUSR1)
    except OSError:
        pass


def cmd_queue(args) -> int:
    rows = [dict(row) for row in connect().execute("SELECT * FROM jobs ORDER BY id")]
    for row in rows:
        row["gpu_ids"] = json.loads(row["gpu_ids"]) if row["gpu_ids"] else None
    print(json.dumps(rows))
    return 0


def cmd_logs(args) -> int:
    conn = connect()
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (args.job,)).fetchone()
    if row is None:
        print(f"job {args.job} not found", file=sys.stderr)
        return NOT_FOUND_EXIT
    if args.status:
        print(row["status"])
        return STATUS_EXIT.get(row["status"], NOT_FINISHED_EXIT)
    names = [node["name"] for node in cluster()["nodes"]][: row["num_nodes"]]
    # Setup's logs (a job with a setup phase has them) before the run's, each line prefixed by its node.
    phases = [phase for phase in ("setup", "run") if getattr(args, "phase", None) in (None, phase)]
    setups = len(names) if "setup" in phases else 0
    prefixes = [f"({'head' if r == 0 else f'worker{r}'}, rank={r}) " for r in range(len(names))] * len(phases)
    paths = ([job_dir(args.job) / setup_files(r)[0] for r in range(setups)]
             + ([job_dir(args.job) / rank_log(r) for r in range(len(names))] if "run" in phases else []))
    setting_up = (PENDING, SETTING_UP)
    offsets = []
    for path, prefix in zip(paths, prefixes):
        start = tail_offset(path, args.tail) if args.tail is not None else 0
        offsets.append(start)
    pending = [b""] * len(paths)
    watch = DaemonWatch()
    pause = FOLLOW_FIRST_S
    while True:
        status = connect().execute("SELECT status FROM jobs WHERE id = ?", (args.job,)).fetchone()[0]
        # Following setup alone (--phase setup) ends when the job leaves setup.
        finished = status in TERMINAL or (phases == ["setup"] and status not in setting_up)
        gone = watch.gone() if args.follow and not finished else None
        if gone:
            print(f"{gone}; job {args.job} may still be running (see {ROOT / DAEMON_LOG_FILE})", file=sys.stderr)
            return DAEMON_GONE_EXIT
        moved = setup_moved = False
        for i, path in enumerate(paths):
            if i >= setups and args.follow and (status in setting_up or setup_moved):
                continue  # the run's output only after all of setup's (a run starts once setup's logs are whole)
            try:
                with open(path, "rb") as handle:
                    handle.seek(offsets[i])
                    data = handle.read(1 << 20)
            except FileNotFoundError:
                continue
            if data:
                moved = True
                setup_moved = setup_moved or i < setups
                offsets[i] += len(data)
                pending[i] += data
                *lines, pending[i] = pending[i].split(b"\n")
                for line in lines:
                    sys.stdout.write(prefixes[i] + line.decode(errors="replace") + "\n")
        sys.stdout.flush()
        if not args.follow or (finished and not moved):
            break
        pause = FOLLOW_FIRST_S if moved else min(TICK_S, pause * 2)
        time.sleep(pause)
    for i, rest in enumerate(pending):
        if rest:
            sys.stdout.write(prefixes[i] + rest.decode(errors="replace") + "\n")
    status = connect().execute("SELECT status FROM jobs WHERE id = ?", (args.job,)).fetchone()[0]
    return STATUS_EXIT.get(status, 0) if args.follow else 0


class DaemonWatch:
    """For a follower: is the daemon gone for good? The first time it is found gone it is restarted (the new
    one adopts the running jobs); gone again means it cannot run. A daemon that lives but is stuck (its loop
    silent for DAEMON_STUCK_S) holds the lock, so no other can start: that ends the follow too."""

    def __init__(self) -> None:
        self.next_check = time.monotonic() + DAEMON_CHECK_S
        self.restarted = False

    def gone(self) -> str | None:
        """Why the follow must end, or None."""
        if time.monotonic() < self.next_check:
            return None
        self.next_check = time.monotonic() + DAEMON_CHECK_S
        pid = daemon_pid()
        if pid is not None:
            silent = _silent_for(pid)
            if silent is None or silent < DAEMON_STUCK_S:
                return None
            return (f"the node agent's daemon (pid {pid}) runs but has not come round its loop for {silent:.0f}s: it "
                    f"is stuck, and holds its lock, so no other can start")
        if self.restarted:
            return "the node agent's daemon stopped and did not come back"
        self.restarted = True
        ensure_daemon()
        return None


def _silent_for(pid: int) -> float | None:
    """Seconds since daemon `pid` last came round its loop; None where it does not say (an older agent's daemon)."""
    path = ROOT / DAEMON_BEAT_FILE
    try:
        if int(path.read_text()) != pid:
            return None
        return time.time() - path.stat().st_mtime
    except (OSError, ValueError):
        return None


def tail_offset(path: Path, lines: int) -> int:
    """The offset where the last `lines` lines start, read backwards in blocks (never the whole file)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if lines <= 0:
        return size
    block = 1 << 16
    position, seen = size, 0
    with open(path, "rb") as handle:
        if size:
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                seen = -1  # a final newline ends the last line; it does not start a new one
        while position > 0:
            start = max(0, position - block)
            handle.seek(start)
            data = handle.read(position - start)
            index = len(data)
            while True:
                index = data.rfind(b"\n", 0, index)
                if index < 0:
                    break
                seen += 1
                if seen == lines:
                    return start + index + 1
            position = start
    return 0


def cmd_cancel(args) -> int:
    conn = connect()
    if args.all:
        ids = [row[0] for row in conn.execute(
            f"SELECT id FROM jobs WHERE status NOT IN ({','.join('?' * len(TERMINAL))})", TERMINAL)]
    else:
        ids = args.jobs
    cancelled = []
    for job_id in ids:
        row = conn.execute("SELECT status, num_nodes FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or row["status"] in TERMINAL:
            continue
        conn.execute("UPDATE jobs SET status = ?, ended = ?, detail = ? WHERE id = ?",
                     (CANCELLED, time.time(), "cancelled by the user", job_id))
        kill_job(job_id, row["num_nodes"])
        scrub_spec(job_id)
        cancelled.append(job_id)
    print(json.dumps(cancelled))
    return 0


def cmd_ensure(args) -> int:
    ensure_daemon()
    return 0


def cmd_autostop(args) -> int:
    path = ROOT / AUTOSTOP_FILE
    if args.cancel:
        path.unlink(missing_ok=True)
    else:
        setting = {"idle_minutes": args.idle, "down": args.down, "wait_for": args.wait_for, "set_at": time.time()}
        if args.hook_stdin:
            setting["hook"] = sys.stdin.read()
            if args.hook_timeout:
                setting["hook_timeout"] = args.hook_timeout  # unset: DEFAULT_HOOK_TIMEOUT_S, when the hook runs
        ROOT.mkdir(parents=True, exist_ok=True)
        _write_private_json(path, setting)  # the hook may hold secrets
    ensure_daemon()
    _poke_daemon()
    shown = None if args.cancel else {k: v for k, v in json.loads(path.read_text()).items() if k != "hook"}
    print(json.dumps(shown))
    return 0


def run_hook(script: str, timeout: float, log_path: Path, cwd: str) -> int | None:
    """Run the autostop hook (bash) with its output in log_path; its exit status, or None when it was killed
    for running past `timeout` seconds or could not start. Whatever it does, the stop goes on."""
    with open(log_path, "ab") as log:
        log.write(f"--- autostop hook, {time.strftime('%Y-%m-%d %H:%M:%S')}, timeout {timeout:g}s\n".encode())
        log.flush()
        try:
            process = subprocess.Popen(["bash", "-c", script], cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            log.write(f"--- the hook could not start: {exc}\n".encode())
            return None
        deadline = time.monotonic() + timeout
        try:
            while True:  # the daemon waits on the hook, not stuck (beat)
                beat()
                try:
                    code: int | None = process.wait(timeout=max(0.0, min(DAEMON_CHECK_S, deadline - time.monotonic())))
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= deadline:
                        raise
            log.write(f"--- the hook exited {code}\n".encode())
        except subprocess.TimeoutExpired:
            kill_group(process.pid, None)  # it leads a session (and group) of its own
            process.wait()
            code = None
            log.write(f"--- the hook ran past its timeout ({timeout:g}s) and was killed\n".encode())
    return code


_last_beat = 0.0


def beat() -> None:
    """The daemon is not stuck: DAEMON_BEAT_FILE's mtime says when it last said so (at most once per
    DAEMON_CHECK_S), for followers (DaemonWatch). Nothing outside a daemon (no such file)."""
    global _last_beat
    if time.monotonic() - _last_beat >= DAEMON_CHECK_S:
        _last_beat = time.monotonic()
        try:
            os.utime(ROOT / DAEMON_BEAT_FILE)
        except OSError:
            pass


def autostop_setting():
    try:
        return json.loads((ROOT / AUTOSTOP_FILE).read_text())
    except (OSError, ValueError):
        return None


def ssh_sessions(ip: str, port: int) -> int:
    """Established TCP connections to this node's sshd (from /proc/net/tcp; loopback nodes by address)."""
    target_port = f"{port:04X}"
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, _, local_port = local.partition(":")
            if state != "01" or local_port != target_port:
                continue
            if ip.startswith("127.") and table.endswith("tcp") and _ipv4(address) != ip:
                continue
            count += 1
    return count


def _ipv4(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)[::-1]
    return ".".join(str(b) for b in raw)


def write_stop_stamp(stamp: str, cluster_dir: Path | None) -> None:
    """When autostop fired, for the client's cost report (STOPPED_AT_FILE): on the head, and where a local-cloud
    autodown removes the head's home, in the cluster's directory too (beside nodes/, which must end empty). Best-effort: a write that fails (a full
    disk) only costs the report its exact stop time, so it is a line in the log and the power-off goes on."""
    for path in [ROOT / STOPPED_AT_FILE] + ([cluster_dir / STOPPED_AT_FILE] if cluster_dir else []):
        try:
            path.write_text(stamp)
        except OSError as exc:
            print(f"autostop: could not record the stop time in {path} ({exc}); going on", flush=True)


def power_off(info: dict, down: bool) -> None:
    """Stop (or tear down) every node from inside: workers first, then the head, then this daemon."""
    if info.get("nodes_are_processes"):
        import shutil

        for node in reversed(info["nodes"]):
            node_dir = Path(node["home"]).parent
            _kill_node(node_dir)
            if down:
                shutil.rmtree(node_dir, ignore_errors=True)
        return
    masters = Masters()
    for node in info["nodes"][1:]:
        beat()
        argv, where = masters.command(node, info, "sudo shutdown -h now")
        subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, cwd=where)
    subprocess.run(["sudo", "shutdown", "-h", "now"], stdin=subprocess.DEVNULL, capture_output=True)


def _kill_node(node_dir: Path) -> None:
    """A local-cloud node is its sshd plus everything its sessions started (tagged STIX_NODE_DIR)."""
    tag = f"STIX_NODE_DIR={node_dir}".encode()
    me = os.getpid()
    victims = []
    try:
        pid = int((node_dir / "sshd.pid").read_text())
        # Only if that pid is still this node's sshd: a stale file may name any process by now.
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        if f"-f {node_dir}/sshd_config" in title:
            victims.append(pid)
    except (OSError, ValueError):
        pass
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = Path(f"/proc/{entry.name}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if tag in environ:
            victims.append(int(entry.name))
    # sshd's children serving connections that have not logged in yet are untagged; this daemon goes last.
    victims += [pid for pid in _descendants(set(victims)) if pid != me]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    (node_dir / "sshd.pid").unlink(missing_ok=True)


def _descendants(pids: set[int]) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = set(pids)
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier and pid not in found | pids}
        found |= frontier
    return sorted(found)


# --- processes --------------------------------------------------------------------------------


def node_address(node: dict) -> str:
    """Where the head reaches another node: its private address (what the cloud's rules allow), else its ip."""
    return node.get("private_ip") or node["ip"]


def known_hosts_line(address: str, port: int, host_public_key: str) -> str:
    """OpenSSH looks a port-22 host up by its bare address, any other port as [address]:port."""
    host = address if int(port) == 22 else f"[{address}]:{int(port)}"
    return f"{host} {' '.join(host_public_key.split()[:2])}\n"


DEFAULT_KEEPALIVE = (15.0, 4)
"""The head's ssh to a worker: seconds between keepalives, and how many go unanswered before it gives up."""


def ssh_command(node: dict, info: dict, remote: str, keepalive: tuple[float, int] = DEFAULT_KEEPALIVE,
                control: str | None = None) -> list[str]:
    """`keepalive`: seconds between keepalives, and how many go unanswered before ssh gives up (exit 255).
    `control`: a master's socket (Masters) to run as a session over, named relative to the masters' directory, where
    the command must run; ssh connects on its own when that master is gone. Without one, none is used or made."""
    mux = ["-o", "ControlMaster=no", "-o", f"ControlPath={control}"] if control else ["-o", "ControlPath=none"]
    return [*_ssh_options(node, info, keepalive), *mux, f"{node['user']}@{node_address(node)}", remote]


KEX_ALGORITHMS = ("curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
                  "ecdh-sha2-nistp521,diffie-hellman-group16-sha512,diffie-hellman-group14-sha256")
"""The head's key exchanges with the workers: the classical ones the client's own (paramiko) connections make, every
one known to OpenSSH since 7.4. OpenSSH 9's default, sntrup761x25519, cost this ssh 170 ms of CPU a handshake (against
14 ms) on a 2-core head: seconds for a cluster's first multi-node job. Host keys stay pinned; auth stays key-only."""


def _ssh_options(node: dict, info: dict, keepalive: tuple[float, int]) -> list[str]:
    """ssh with the cluster key, the pinned host keys, batch mode and the keepalive, to the node's port."""
    interval, count = keepalive
    return ["ssh", "-i", info["key"], "-o", f"UserKnownHostsFile={info['known_hosts']}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
            "-o", f"KexAlgorithms={KEX_ALGORITHMS}",
            "-o", f"ServerAliveInterval={max(1, math.ceil(float(interval)))}",
            "-o", f"ServerAliveCountMax={max(1, int(count))}", "-o", "LogLevel=ERROR", "-p", str(node["port"])]


MUX_DIR = "mux"
"""Under the agent's root, mode 0700: the head's master connections to the workers (class Masters), <name>.sock, and
each master's own messages in <name>.log."""
MASTER_IDLE_S = 300
"""A master with no session for this long ends (ControlPersist); the next multi-node job opens a new one."""
MASTER_PARALLEL = 16
"""Masters being opened at once."""
MASTER_OPEN_S = 15.0
"""How long opening the masters for a job may take in all (ssh's ConnectTimeout, 10s, bounds each handshake); a worker
without one by then is reached directly."""
MASTER_RETRY_S = 60.0
"""After a master to a worker failed to open, jobs reach that worker directly for this long before one is tried again
(a worker that is down must not hold the daemon up at every job)."""
MASTER_SESSIONS = 8
"""Sessions (a job's rank on that worker each) one master carries at most: sshd's MaxSessions is 10 by default, and
a kill needs one more. A rank beyond them connects on its own."""


class Masters:
    """The head's reused connections to its workers: one OpenSSH master per worker (and keepalive), which a rank's
    ssh, a kill and a power-off run over as sessions, so a job's phases and the jobs after it cost no handshake.

    The daemon opens them itself before a multi-node job's ranks start (open: every missing one at once,
    MASTER_PARALLEL at a time), rather than leaving it to ControlMaster=auto: that would make the first rank's ssh the
    master, inside that rank's process group (a kill of the rank would end every session over it) and writing into
    its log. `ssh -M -N` with ControlPersist returns once it is authenticated and listening (its exit status says
    whether it is), and goes on detached: a session of its own, stdio on /dev/null, its messages in <name>.log.
    It ends after MASTER_IDLE_S without sessions, when its worker stops answering keepalives (its sessions exit 255,
    which fails their jobs as a lost worker), or with the head (a local-cloud node's processes, the machine).
    It is an outgoing connection, so the head's own SSH sessions, which autostop waits for, do not count it.

    ssh runs in the directory and names the socket relatively (a socket's path holds 108 bytes; the agent's root may
    be long). The name is a hash of the worker's user, address, port and pinned host key, the key file and the
    keepalive: a re-created worker never reaches an old master, and a job's keepalive bound holds (the master's
    applies to every session). A master that died without removing its socket is found by connecting to it, and
    the socket replaced."""

    def __init__(self) -> None:
        self.directory = mux_directory()
        self.failed: dict[str, float] = {}
        """Socket name -> when its master last failed to open (monotonic)."""

    def name(self, node: dict, info: dict, keepalive: tuple[float, int] = DEFAULT_KEEPALIVE) -> str:
        interval, count = keepalive
        digest = connection_hash(node["user"], node_address(node), node["port"], node.get("host_public_key", ""),
                                 info["key"], f"{max(1, math.ceil(float(interval)))}:{max(1, int(count))}")
        return digest[:24] + ".sock"

    def listening(self, name: str) -> bool:
        """Whether a master listens on socket `name`; a dead one's socket is removed."""
        import socket

        if self.directory is None:
            return False
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(f"/proc/self/fd/{fd}/{name}")  # a short path, however long the directory's
            return True
        except FileNotFoundError:
            return False
        except ConnectionRefusedError:  # its master died without removing it
            (self.directory / name).unlink(missing_ok=True)
            return False
        except OSError:  # no /proc: ssh itself will find out
            return (self.directory / name).exists()
        finally:
            os.close(fd)

    def command(self, node: dict, info: dict, remote: str, keepalive: tuple[float, int] = DEFAULT_KEEPALIVE,
                reuse: bool = True) -> tuple[list[str], str | None]:
        """ssh's argv for `remote` on `node`, and the directory to run it in: over the worker's master where one
        listens (and `reuse`), else a connection of its own."""
        name = self.name(node, info, keepalive) if reuse and self.directory is not None else None
        if name is None or not self.listening(name):
            return ssh_command(node, info, remote, keepalive), None
        return ssh_command(node, info, remote, keepalive, name), str(self.directory)

    def open(self, nodes: list[dict], info: dict, keepalive: tuple[float, int] = DEFAULT_KEEPALIVE) -> int:
        """Open a master to each of `nodes` that has none, MASTER_PARALLEL at a time, within MASTER_OPEN_S; how many
        were opened. One that fails (its message in <name>.log) leaves that worker to be reached directly, where
        the failure shows in the job's own log."""
        if self.directory is None:
            return 0
        now = time.monotonic()
        names = [self.name(node, info, keepalive) for node in nodes]
        todo = [(node, name) for node, name in zip(nodes, names)
                if now - self.failed.get(name, -math.inf) >= MASTER_RETRY_S and not self.listening(name)]
        starting: dict[str, subprocess.Popen] = {}
        opened = 0
        deadline = now + MASTER_OPEN_S
        while (todo or starting) and time.monotonic() < deadline:
            while todo and len(starting) < MASTER_PARALLEL:
                node, name = todo.pop(0)
                argv = [*_ssh_options(node, info, keepalive), "-M", "-N", "-E", name[:-len(".sock")] + ".log",
                        "-o", "ControlMaster=yes", "-o", f"ControlPath={name}",
                        "-o", f"ControlPersist={MASTER_IDLE_S}", f"{node['user']}@{node_address(node)}"]
                starting[name] = subprocess.Popen(argv, cwd=self.directory, stdin=subprocess.DEVNULL,
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                  start_new_session=True)
            ended = [name for name, each in starting.items() if each.poll() is not None]
            for name in ended:
                if starting.pop(name).returncode == 0:
                    opened += 1
                    self.failed.pop(name, None)
                else:
                    self.failed[name] = time.monotonic()
            beat()
            if starting and not ended:
                time.sleep(0.005)
        for name, each in starting.items():  # past the deadline: still connecting (a worker that does not answer)
            each.kill()
            each.wait()
            self.failed[name] = time.monotonic()
        return opened


def mux_directory() -> Path | None:
    """The masters' directory (ROOT/MUX_DIR), made 0700; None (no masters) where it is not safely ours: a link,
    another user's, or open to others."""
    path = ROOT / MUX_DIR
    try:
        ROOT.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return None
    return path if safe_dir(info) else None


def safe_dir(info: os.stat_result) -> bool:
    """A directory (not a link) of this user that nobody else may enter or write: where master sockets may live
    (the head's to its workers, and the client's, stix.ssh.mux)."""
    import stat

    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def connection_hash(user, address: str, port, host_public_key: str, key_path: str, *extra: str) -> str:
    """sha256 (hex) of everything an SSH connection is to and as: a master socket named by it is never one connected
    to another node, or to a re-created one (a new host key)."""
    import hashlib

    what = "\0".join((str(user), address, str(port), " ".join(str(host_public_key).split()[:2]), str(key_path), *extra))
    return hashlib.sha256(what.encode()).hexdigest()


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (state) on: the command name before it may hold spaces."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> int | None:
    """The process's start time (/proc/PID/stat field 22, clock ticks since boot), None if there is none."""
    fields = _stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def read_group(path: Path) -> tuple[int, int | None] | None:
    """A rank's recorded process group and its leader's start time ("PGID START"; an older agent wrote "PGID")."""
    try:
        fields = path.read_text().split()
        return int(fields[0]), (int(fields[1]) if len(fields) > 1 else None)
    except (OSError, ValueError, IndexError):
        return None


def group_alive(pgid: int, started: int | None = None) -> bool:
    """Whether a process of group `pgid` still runs, and the group is the one recorded: while any member
    lives the kernel never hands the number to a new process, so a leader with another start time means
    ours ended and the number was reused."""
    if started is not None:
        leader = _stat(pgid)
        if leader and len(leader) > 19:
            if int(leader[19]) != started:
                return False
            if leader[0] != "Z":
                return True  # the leader itself runs: no need to look for the other members
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):  # PermissionError: another user's group, not ours
        return False
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and int(stat[2]) == pgid and stat[0] != "Z":
                return True
    return False


def kill_group(pgid: int, started: int | None) -> None:
    """SIGTERM the group, then SIGKILL what is left after KILL_GRACE_S; never a group that is not ours."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not group_alive(pgid, started):
            return
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + KILL_GRACE_S
        while time.monotonic() < deadline and group_alive(pgid, started):
            time.sleep(0.05)


def kill_job(job_id: int, num_nodes: int) -> None:
    """Kill the job's process group on the head and on every worker, then the head's ssh to each worker."""
    groups = [read_group(job_dir(job_id) / rank_pid(rank)) for rank in range(num_nodes)]
    setups = [read_group(job_dir(job_id) / setup_files(rank)[1]) for rank in range(num_nodes)]
    # First in the container (in_container: like CONTAINER_FILE, its records are under the node's home).
    if num_nodes and Path(os.path.expanduser("~"), REMOTE_DIR, CPIDS_DIR, rank_tag(job_id, 0)).exists():
        try:
            subprocess.run(["bash", "-c", container_kill(f'"$HOME/{REMOTE_DIR}"', rank_tag(job_id, 0))],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=KILL_GRACE_S + 30)
        except (OSError, subprocess.TimeoutExpired):
            pass
    for group in (groups[:1] + setups[:1]):
        if group:
            kill_group(*group)
    if num_nodes > 1:
        info = cluster()

        def remote(rank: int) -> str:  # in the container first, then the rank's group on the node
            in_the_container = container_kill(f'"$HOME/{REMOTE_DIR}"', rank_tag(job_id, rank))
            return (f"({in_the_container}); f=\"$HOME/{REMOTE_DIR}/{PIDS_DIR}/{int(job_id)}\"; [ -f \"$f\" ] || exit 0; "
                    f"g=$(cat \"$f\"); kill -TERM -- -$g 2>/dev/null; sleep {KILL_GRACE_S:g}; "
                    f"kill -KILL -- -$g 2>/dev/null; rm -f \"$f\"; exit 0")

        masters = Masters()
        killers = []
        for rank, node in enumerate(info["nodes"][1:num_nodes], start=1):
            argv, where = masters.command(node, info, remote(rank))
            killers.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, cwd=where))
        for killer in killers:
            try:
                killer.wait(timeout=30)
            except subprocess.TimeoutExpired:
                killer.kill()
        for group in groups[1:] + setups[1:]:
            if group:
                kill_group(*group)


def daemon_pid() -> int | None:
    """The running daemon's pid: daemon.pid, if that process is this agent's daemon (a stale file may
    name any process, and SIGUSR1 kills most)."""
    try:
        pid = int((ROOT / DAEMON_PID_FILE).read_text())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    fields = _stat(pid)
    ours = len(argv) > 2 and argv[1] == os.path.abspath(__file__).encode() and argv[2] == b"daemon"
    return pid if ours and fields is not None and fields[0] != "Z" else None


def ensure_daemon() -> None:
    ROOT.mkdir(parents=True, exist_ok=True)
    with open(ROOT / DAEMON_LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a daemon holds the lock
        fcntl.flock(handle, fcntl.LOCK_UN)
    with open(ROOT / DAEMON_LOG_FILE, "ab") as log:
        subprocess.Popen([sys.executable, os.path.abspath(__file__), "daemon"], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (ROOT / DAEMON_PID_FILE).exists():
        time.sleep(0.02)


# --- the daemon -------------------------------------------------------------------------------


def node_capacity(info: dict, rank: int) -> tuple[float, float]:
    """A node's CPUs and GPUs: its own entry in cluster.json, else the cluster-wide per-node figures."""
    node = info["nodes"][rank]
    return float(node.get("cpus", info.get("cpus", 0))), float(node.get("gpus", info.get("gpus", 0)))


def devices_needed(gpus: float) -> int:
    """Devices a per-node GPU demand occupies: a fraction shares one; counts above 1 are whole."""
    return 0 if gpus <= 0 else max(1, math.ceil(gpus - 1e-9))


def device_share(gpus: float) -> float:
    """How much of each of its devices a job holds."""
    return gpus if 0 < gpus < 1 else 1.0


def pick_devices(gpus: float, used: dict[int, float]) -> list[int] | None:
    """The devices (of `used`: device -> fraction held) a job demanding `gpus` gets, or None if they are taken.

    A fractional job goes on the fullest device it fits on, so shares pack together and whole devices
    stay free for whole-device jobs.
    """
    if gpus <= 0:
        return []
    if gpus < 1:
        fits = [d for d in sorted(used) if used[d] + gpus <= 1 + 1e-9]
        return [max(fits, key=lambda d: used[d])] if fits else None
    free = [d for d in sorted(used) if used[d] <= 1e-9]
    need = devices_needed(gpus)
    return free[:need] if len(free) >= need else None


def never_fits(info: dict, cpus: float, gpus: float, num_nodes: int) -> str | None:
    """Why a job can never start on this cluster, or None."""
    nodes = info["nodes"]
    if num_nodes > len(nodes):
        return f"asks for {num_nodes} nodes; the cluster has {len(nodes)}"
    for rank in range(num_nodes):
        node_cpus, node_gpus = node_capacity(info, rank)
        if cpus > node_cpus + 1e-9 or devices_needed(gpus) > int(node_gpus):
            return (f"asks for {cpus:g} CPUs / {gpus:g} GPUs per node; node {nodes[rank]['name']} (rank {rank}) "
                    f"has {node_cpus:g} CPUs / {node_gpus:g} GPUs")
    return None


def hold(usage: tuple[list[float], list[dict[int, float]]], row, assignment: list[list[int]]) -> None:
    """Add to `usage` (Scheduler.usage's) what a job just placed on `assignment` holds."""
    cpus, devices = usage
    for rank, picked in enumerate(assignment):
        cpus[rank] += row["cpus"]
        for device in picked:
            devices[rank][device] = devices[rank].get(device, 0.0) + device_share(row["gpus"])


GONE = -1
"""A rank's outcome when its processes are gone and it recorded no exit status."""
SETUP_TIMEOUT_NAME = "STIX_SETUP_TIMEOUT"
"""Where the client's setup time limit (the spec's setup_timeout) comes from: named when setup runs past it."""


class Rank:
    """One rank's wrapper on the head: its process group, the leader's start time, and the Popen when this
    daemon started it (None when adopted from a previous daemon)."""

    def __init__(self, job_id: int, rank: int, pgid: int, started: int | None,
                 process: subprocess.Popen | None = None) -> None:
        self.exit_path = job_dir(job_id) / rank_exit(rank)
        self.pgid, self.started, self.process = pgid, started, process

    def recorded(self) -> int | None:
        try:
            return int(self.exit_path.read_text())
        except (OSError, ValueError):
            return None

    def outcome(self) -> int | None:
        """The rank's exit status, None while it runs, or GONE."""
        code = self.recorded()
        if code is not None:
            if self.process is not None:
                self.process.poll()  # reap it
            return code
        if self.process is not None:
            returned = self.process.poll()
            if returned is None:
                return None
            code = self.recorded()  # written just before the wrapper exited
            return code if code is not None else (returned if returned >= 0 else GONE)
        if group_alive(self.pgid, self.started):
            return None
        code = self.recorded()
        return code if code is not None else GONE


def scrub_spec(job_id: int) -> None:
    """Rewrite a job's spec without its env values (the secrets): nothing reads them once its ranks have them."""
    path = job_dir(job_id) / SPEC_FILE
    try:
        spec = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if not any(rank.get("env") for rank in spec.get("ranks", ())):
        return
    for rank in spec.get("ranks", ()):
        rank["env_keys"] = sorted(rank.pop("env", None) or {})
    _write_private_json(path, spec)


def _write_private_json(path: Path, data) -> None:
    """Replace `path` atomically with `data` as JSON, readable by this user only (0600: it may hold secrets)."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    os.replace(temporary, path)


class Setup:
    """A job's setup under way (spec["setup"], a script): one rank per node of the job, each in its rank's cwd with
    its env plus spec["setup_env"][rank] and no devices assigned, while the job is SETTING_UP and holds its CPUs and
    devices; its output in setup-<rank>.log. When every node's setup exits 0 the job's run starts (RUNNING, same id),
    or, without a run (spec["script"] None), it SUCCEEDS. A node whose setup exits non-zero fails the job
    FAILED_SETUP once every node's setup has ended (naming each failed node and its status); a node lost (its
    ssh exits 255, or the rank ended without a status), or setup running past spec["setup_timeout"] seconds,
    fails it at once. spec["keepalive"], [interval, count]: the head's ssh to each worker gives up after `count`
    keepalives every `interval` seconds go unanswered (the client's own bound)."""

    def __init__(self, spec: dict) -> None:
        self.ranks: list[Rank] = []
        limit = spec.get("setup_timeout")
        self.limit = float(limit) if limit is not None else None
        self.has_run = spec.get("script") is not None
        interval, count = spec.get("keepalive") or DEFAULT_KEEPALIVE
        self.keepalive = (float(interval), int(count))

    def failure(self, codes: list[int | None], started: float, nodes: list[dict]) -> tuple[int | None, str] | None:
        """(exit code, detail) once the setup has failed; None while it runs, and once it succeeded."""
        lost = [(rank, code) for rank, code in enumerate(codes) if code == GONE or (code == 255 and rank > 0)]
        if lost:
            rank, code = lost[0]
            interval, count = self.keepalive
            why = ("ended without an exit status (killed, or its node restarted)" if code == GONE else
                   f"unreachable, died, or no reply for {interval * count:g}s (keepalive every {interval:g}s)")
            return None, f"setup failed: {nodes[rank]['name']}: {why}"
        running = [rank for rank, code in enumerate(codes) if code is None]
        if running and self.limit is not None and time.time() - started > self.limit:
            names = ", ".join(nodes[rank]["name"] for rank in running)
            return None, (f"setup failed: {names}: still running after {self.limit:g}s "
                          f"(time limit {self.limit:g}s, {SETUP_TIMEOUT_NAME})")
        failed = [(rank, code) for rank, code in enumerate(codes) if code not in (None, 0)]
        if running or not failed:
            return None
        code = failed[0][1]
        names = ", ".join(f"{nodes[rank]['name']} (exit {status})" for rank, status in failed)
        return (code if code is not None and 0 < code < 256 else 1), f"setup failed on {names}"

    def wait(self) -> None:
        for each in self.ranks:
            if each.process is not None:
                _wait_briefly(each.process)


def setup_rank(job_id: int, rank: int, group: tuple[int, int | None]) -> Rank:
    """A setup rank a previous daemon started (its group from setup-<rank>.pid)."""
    adopted = Rank(job_id, rank, *group)
    adopted.exit_path = job_dir(job_id) / setup_files(rank)[2]
    return adopted


class Scheduler:
    def __init__(self) -> None:
        self.conn = connect()
        # The daemon's own writes (a job claimed, a job ended; a few per job) need not wait for the disk: in WAL
        # mode NORMAL loses no commit when the daemon dies, only the last ones if the node itself goes down,
        # which ends the jobs too (recover() fails a RUNNING job whose processes are gone). Submits keep FULL.
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.info = cluster()
        self.running: dict[int, list[Rank]] = {}
        self.setting_up: dict[int, Setup] = {}
        self.masters = Masters()

    def recover(self) -> None:
        """Adopt the jobs a previous daemon started; fail those it had not finished starting."""
        active = self.conn.execute("SELECT id, num_nodes, status FROM jobs WHERE status IN (?, ?)", ACTIVE).fetchall()
        for row in active:
            job_id, num_nodes = row["id"], row["num_nodes"]
            if row["status"] == SETTING_UP:
                self.adopt_setup(job_id, num_nodes)
                continue
            groups = [read_group(job_dir(job_id) / rank_pid(rank)) for rank in range(num_nodes)]
            if all(group and group[1] is not None for group in groups):
                self.running[job_id] = [Rank(job_id, rank, *group) for rank, group in enumerate(groups) if group]
                scrub_spec(job_id)
                continue
            kill_job(job_id, num_nodes)
            self.finish(job_id, FAILED, None, "the node agent stopped while starting the job (or an older agent "
                                              "ran it); it cannot be followed")

    def usage(self) -> tuple[list[float], list[dict[int, float]]]:
        """Per node: the CPUs held, and each device's held fraction. Read from the jobs table, never kept
        in memory, so a restarted daemon (or a job cancelled by another process) is accounted for."""
        nodes = self.info["nodes"]
        usage = ([0.0] * len(nodes),
                 [{d: 0.0 for d in range(int(node_capacity(self.info, r)[1]))} for r in range(len(nodes))])
        rows = self.conn.execute("SELECT cpus, gpus, num_nodes, gpu_ids FROM jobs WHERE status IN (?, ?)", ACTIVE)
        for row in rows:
            held = json.loads(row["gpu_ids"] or "[]")
            hold(usage, row, [held[rank] if rank < len(held) else [] for rank in range(min(row["num_nodes"], len(nodes)))])
        return usage

    def placement(self, row, usage=None) -> list[list[int]] | None:
        """The devices the job gets on each of its nodes, or None while any of them lacks CPUs or devices.
        `usage`: what usage() says, when the caller has it."""
        cpus_used, devices = usage if usage is not None else self.usage()
        assignment = []
        for rank in range(row["num_nodes"]):
            if row["cpus"] > node_capacity(self.info, rank)[0] - cpus_used[rank] + 1e-9:
                return None
            picked = pick_devices(row["gpus"], devices[rank])
            if picked is None:
                return None
            assignment.append(picked)
        return assignment

    def schedule(self) -> None:
        """Start pending jobs in order while they fit (first come, first served; no overtaking): every job that
        fits in one pass. The usage is read once per pass and what each started job holds is added to it (a
        read per job made a pass over N queued jobs cost N squared)."""
        pending = self.conn.execute("SELECT * FROM jobs WHERE status = ? ORDER BY id", (PENDING,)).fetchall()
        if not pending:
            return
        self.info = cluster()  # stix rewrites it when a node comes back on a new address
        usage = self.usage()
        for row in pending:
            reason = never_fits(self.info, row["cpus"], row["gpus"], row["num_nodes"])
            if reason:
                self.finish(row["id"], FAILED, None, reason)
                continue
            assignment = self.placement(row, usage)
            if assignment is None:
                return
            self.start(row, assignment)
            hold(usage, row, assignment)

    def start(self, row, assignment: list[list[int]]) -> None:
        job_id = row["id"]
        try:
            spec = json.loads((job_dir(job_id) / SPEC_FILE).read_text())
        except (OSError, ValueError) as exc:
            self.finish(job_id, FAILED, None, f"its spec could not be read: {exc}")
            return
        if spec.get("setup") is not None and row["status"] == PENDING:
            self.start_setup(row, assignment, spec)
            return
        if not self.claim(job_id, RUNNING, assignment, row["status"]):
            return  # cancelled since it was read
        ranks: list[Rank] = []
        self.running[job_id] = ranks
        try:
            envs = []
            for rank, rank_spec in enumerate(spec["ranks"]):
                env = dict(rank_spec["env"])
                if int(node_capacity(self.info, rank)[1]) > 0:
                    # The agent's assignment replaces any CUDA_VISIBLE_DEVICES in the job's own env: a job that
                    # chose its devices would run on devices the agent gave to another job. A job asking for no
                    # GPUs gets "" (no devices), not the whole node.
                    env[GPU_ENV] = ",".join(str(device) for device in assignment[rank])
                envs.append(env)
            self.launch_ranks(job_id, spec, spec["script"], envs, ranks)
        except Exception as exc:  # a malformed spec, or no processes left: the job fails, the daemon goes on
            kill_job(job_id, len(ranks))
            self.finish(job_id, FAILED, None, f"rank {len(ranks)} could not be started: {exc!r}"[:500])
            del self.running[job_id]
        scrub_spec(job_id)

    def reap(self) -> None:
        self.reap_setup()
        for job_id, ranks in list(self.running.items()):
            status = self.conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
            if status in TERMINAL:  # cancelled by another process, which killed it
                for each in ranks:
                    if each.process is not None:
                        _wait_briefly(each.process)
                del self.running[job_id]
                continue
            codes = [each.outcome() for each in ranks]
            failed = [(rank, code) for rank, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                rank, code = failed[0]
                node = self.info["nodes"][rank]["name"]
                kill_job(job_id, len(ranks))
                for each in ranks:
                    if each.process is not None:
                        _wait_briefly(each.process)
                if code == GONE:
                    reason = "ended without an exit status (killed, or its node restarted)"
                elif code == 255 and rank > 0:
                    reason = "unreachable or died"
                else:
                    reason = f"exited {code}"
                self.finish(job_id, FAILED, None if code == GONE else code, f"rank {rank} ({node}) {reason}")
                del self.running[job_id]
            elif all(code == 0 for code in codes):
                self.finish(job_id, SUCCEEDED, 0, None)
                del self.running[job_id]

    def start_setup(self, row, assignment: list[list[int]], spec: dict) -> None:
        """PENDING -> SETTING_UP: start the job's setup on each of its nodes (Setup)."""
        job_id = row["id"]
        if not self.claim(job_id, SETTING_UP, assignment, PENDING):
            return  # cancelled since it was read
        setup = self.setting_up[job_id] = Setup(spec)
        try:
            extra = spec.get("setup_env") or []
            envs = [{**rank_spec["env"], **(extra[rank] if rank < len(extra) else {})}
                    for rank, rank_spec in enumerate(spec["ranks"])]
            self.launch_ranks(job_id, spec, spec["setup"], envs, setup.ranks, setup.keepalive, setup_files)
        except Exception as exc:  # a malformed spec, or no processes left: the job fails, the daemon goes on
            kill_job(job_id, len(setup.ranks))
            del self.setting_up[job_id]
            self.finish(job_id, FAILED_SETUP, None, f"setup on rank {len(setup.ranks)} could not be started: {exc!r}"[:500])
        # The spec keeps its env values (secrets) until the run's ranks have them.

    def claim(self, job_id: int, status: str, assignment: list[list[int]], was: str) -> bool:
        """Move the job from `was` to `status` on the devices it was assigned; False when it is no longer `was`
        (cancelled since it was read)."""
        claimed = self.conn.execute("UPDATE jobs SET status = ?, started = ?, gpu_ids = ? WHERE id = ? AND status = ?",
                                    (status, time.time(), json.dumps(assignment), job_id, was))
        return claimed.rowcount > 0

    def launch_ranks(self, job_id: int, spec: dict, script: str, envs: list[dict], ranks: list["Rank"],
                     keepalive: tuple[float, int] = DEFAULT_KEEPALIVE, files=None) -> None:
        """Start `script` on each of the job's nodes with that rank's env: rank 0 here, the others over ssh from
        the head, through the worker's master (opened first where missing: Masters) while it carries fewer than
        MASTER_SESSIONS; each Rank is appended to `ranks` as it starts (a failure leaves the started ones there).
        `files(rank)`: the rank's log, pid and exit files (default: the run's)."""
        nodes = self.info["nodes"]
        if len(spec["ranks"]) > 1:
            self.masters.open(nodes[1:len(spec["ranks"])], self.info, keepalive)
        sessions = self.sessions(job_id)
        for rank, (rank_spec, env) in enumerate(zip(spec["ranks"], envs)):
            script_of_rank = shell_command(script, env, rank_spec["cwd"], rank_tag(job_id, rank))
            where = None
            if rank == 0:
                command = ["bash", "-c", LOCAL_RUNNER]
            else:
                command, where = self.masters.command(nodes[rank], self.info, REMOTE_RUNNER.format(job=int(job_id)),
                                                      keepalive, reuse=sessions.get(rank, 0) < MASTER_SESSIONS)
            ranks.append(launch(job_id, rank, command, script_of_rank, files(rank) if files else None, where))

    def sessions(self, job_id: int) -> dict[int, int]:
        """Per worker rank: the sessions other jobs this daemon follows hold to it (one per running rank)."""
        held: dict[int, int] = {}
        groups = [ranks for other, ranks in self.running.items() if other != job_id]
        groups += [setup.ranks for other, setup in self.setting_up.items() if other != job_id]
        for ranks in groups:
            for rank in range(1, len(ranks)):
                held[rank] = held.get(rank, 0) + 1
        return held

    def reap_setup(self) -> None:
        """Setups that ended: the run starts (or the job succeeds), or the job is FAILED_SETUP (Setup)."""
        for job_id, setup in list(self.setting_up.items()):
            row = self.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None or row["status"] != SETTING_UP:  # cancelled by another process, which killed it
                setup.wait()
                del self.setting_up[job_id]
                continue
            codes = [each.outcome() for each in setup.ranks]
            failure = setup.failure(codes, float(row["started"] or 0), self.info["nodes"])
            if failure is not None:  # recorded first: killing the ranks of a frozen worker waits on its ssh
                self.finish(job_id, FAILED_SETUP, *failure)
                kill_job(job_id, len(setup.ranks))
                setup.wait()
                del self.setting_up[job_id]
            elif all(code == 0 for code in codes):
                del self.setting_up[job_id]
                if setup.has_run:
                    self.start(row, json.loads(row["gpu_ids"] or "[]"))
                else:
                    self.finish(job_id, SUCCEEDED, 0, None)

    def adopt_setup(self, job_id: int, num_nodes: int) -> None:
        """A SETTING_UP job a previous daemon started: followed on, or FAILED_SETUP when it cannot be."""
        groups = [read_group(job_dir(job_id) / setup_files(rank)[1]) for rank in range(num_nodes)]
        try:
            spec = json.loads((job_dir(job_id) / SPEC_FILE).read_text())
        except (OSError, ValueError):
            spec = None
        if spec is not None and all(group and group[1] is not None for group in groups):
            setup = self.setting_up[job_id] = Setup(spec)
            setup.ranks = [setup_rank(job_id, rank, group) for rank, group in enumerate(groups) if group]
            return
        kill_job(job_id, num_nodes)
        self.finish(job_id, FAILED_SETUP, None, "the node agent stopped while starting the job's setup (or an older "
                                                "agent ran it); it cannot be followed")

    def finish(self, job_id: int, status: str, code, detail) -> None:
        self.conn.execute("UPDATE jobs SET status = ?, ended = ?, exit_code = ?, detail = ? WHERE id = ? AND status NOT IN (?, ?, ?, ?)",
                          (status, time.time(), code, detail, job_id, *TERMINAL))
        scrub_spec(job_id)

    def idle_check(self) -> None:
        setting = autostop_setting()
        if not setting:
            self.last_active = time.time()
            return
        busy = self.conn.execute("SELECT COUNT(*) FROM jobs WHERE status IN (?, ?, ?)",
                                 (PENDING, *ACTIVE)).fetchone()[0]
        wait_for = setting.get("wait_for") or "jobs_and_ssh"
        head = self.info["nodes"][0]
        if wait_for != "none" and busy:
            self.last_active = time.time()
        elif wait_for == "jobs_and_ssh" and ssh_sessions(head["ip"], int(head["port"])):
            self.last_active = time.time()
        idle_since = max(self.last_active, float(setting.get("set_at", 0)))
        if time.time() - idle_since >= float(setting["idle_minutes"]) * 60:
            print(f"autostop: idle for {setting['idle_minutes']} min; {'tearing down' if setting.get('down') else 'stopping'}",
                  flush=True)
            (ROOT / AUTOSTOP_FILE).unlink(missing_ok=True)
            if setting.get("hook"):
                timeout = float(setting.get("hook_timeout") or DEFAULT_HOOK_TIMEOUT_S)
                print(f"autostop: running the hook (timeout {timeout:g}s; output in {ROOT / HOOK_LOG_FILE})", flush=True)
                code = run_hook(setting["hook"], timeout, ROOT / HOOK_LOG_FILE, self.info["nodes"][0]["home"])
                print(f"autostop: the hook {'ended without an exit status' if code is None else f'exited {code}'}; "
                      "going on", flush=True)
            write_stop_stamp(f"{time.time():.3f}\n", Path(head["home"]).parent.parent.parent
                             if setting.get("down") and self.info.get("nodes_are_processes") else None)
            power_off(self.info, bool(setting.get("down")))
            sys.exit(0)

    def loop(self, wake) -> None:
        self.recover()
        self.last_active = time.time()
        while True:
            try:
                self.reap()
                self.schedule()
                self.idle_check()
            except Exception:  # one bad job or a full disk must not leave every job PENDING forever
                import traceback

                traceback.print_exc()
                sys.stdout.flush()
            beat()
            wake.wait(TICK_S)
            wake.clear()


def launch(job_id: int, rank: int, command: list[str], script: str, files: tuple[str, str, str] | None = None,
           cwd: str | None = None) -> Rank:
    """Start a rank's wrapper in its own session (in `cwd`: its ssh's master directory); record its group, then hand
    it the script on stdin. `files`: its log, pid and exit files (default: the run's, rank-<r>.*; setup_files for
    its setup)."""
    directory = job_dir(job_id)
    log_name, pid_name, exit_name = files or (rank_log(rank), rank_pid(rank), rank_exit(rank))
    with open(directory / log_name, "ab") as log:
        process = subprocess.Popen(["bash", "-c", RANK_WRAPPER, "stix-rank", str(directory / exit_name), *command],
                                   stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   cwd=cwd)
    started = start_time(process.pid)
    # Without a start time (no /proc) the group can still be killed, but a later daemon will not adopt it.
    (directory / pid_name).write_text(f"{process.pid}" if started is None else f"{process.pid} {started}")
    assert process.stdin is not None  # stdin=PIPE
    hand_over(process.stdin, framed(script))
    launched = Rank(job_id, rank, process.pid, started, process)
    launched.exit_path = directory / exit_name
    return launched


def framed(script: str) -> bytes:
    """A rank's script as its runner reads it (READ_SCRIPT)."""
    data = script.encode()
    return b"%d\n" % len(data) + data


def hand_over(pipe, data: bytes) -> None:
    """Write `data` to `pipe` and close it, without waiting for the reader: what the pipe does not take at once (a
    rank's script may pass its 64 KiB, and a worker rank's ssh reads it only once its session is open) is written
    by a thread, so the next rank starts meanwhile."""
    fd = pipe.fileno()
    os.set_blocking(fd, False)
    try:
        written = os.write(fd, data)
    except BlockingIOError:
        written = 0
    except BrokenPipeError:  # it died at once: its exit status says how
        written = len(data)
    if written >= len(data):
        pipe.close()
        return
    import threading

    os.set_blocking(fd, True)
    threading.Thread(target=_feed, args=(pipe, data[written:]), daemon=True).start()


def _feed(pipe, data: bytes) -> None:
    for step in (pipe.write, lambda _: pipe.close()):
        try:
            step(data)
        except OSError:  # the rank ended without reading it all
            pass


def _wait_briefly(process: subprocess.Popen) -> None:
    try:
        process.wait(timeout=KILL_GRACE_S + 2)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _quote(value: str) -> str:
    return "'" + str(value).replace("'", "'\"'\"'") + "'"


class Wakeup:
    """What ends the daemon's wait between ticks early: a signal (SIGUSR1, the poke of `submit` and `autostop`;
    SIGCHLD, a rank's wrapper that ended, so its job is reaped and the next one started at once, not a tick later).

    Its Python handler does nothing: the interpreter's C-level handler writes a byte to a pipe
    (signal.set_wakeup_fd), and the loop waits on that pipe with select. A Python handler runs in the loop's own
    thread between any two bytecodes, so it must take no lock the loop may hold: one that called
    threading.Event.set() deadlocked on the Event's lock when the poke landed while the loop's wait or clear held
    it, and the daemon, alive (so a follower never restarted it) but stuck, never started the job it was poked
    for; `up` then followed that job forever."""

    def __init__(self, *signums: int) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)
        signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)
        for signum in signums:
            signal.signal(signum, lambda number, frame: None)

    def wait(self, timeout: float) -> None:
        select.select([self.read_fd], [], [], timeout)
        self.clear()

    def clear(self) -> None:
        try:
            os.read(self.read_fd, 4096)  # pokes beyond these only make the next wait return at once
        except BlockingIOError:  # none
            pass


def cmd_daemon(args) -> int:
    # `submit` pokes the daemon with SIGUSR1 as soon as daemon.pid exists, and SIGUSR1's default action is
    # to terminate: the handler must be in place before the pid file is written.
    wake = Wakeup(signal.SIGUSR1, signal.SIGCHLD)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    ROOT.mkdir(parents=True, exist_ok=True)
    lock = open(ROOT / DAEMON_LOCK_FILE, "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0
    (ROOT / DAEMON_PID_FILE).write_text(str(os.getpid()))
    (ROOT / DAEMON_BEAT_FILE).write_text(str(os.getpid()))
    try:
        Scheduler().loop(wake)
    finally:
        (ROOT / DAEMON_PID_FILE).unlink(missing_ok=True)
        (ROOT / DAEMON_BEAT_FILE).unlink(missing_ok=True)
    return 0


FAST_VERBS = {"submit": lambda: cmd_submit(None), "queue": lambda: cmd_queue(None)}
"""Verbs without options, run without argparse (whose import is a good part of the agent's start): a submit
and a queue are the calls made most."""


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0] in FAST_VERBS:
        return FAST_VERBS[argv[0]]()
    import argparse

    parser = argparse.ArgumentParser(prog="stix-agent")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("submit").set_defaults(run=cmd_submit)
    commands.add_parser("queue").set_defaults(run=cmd_queue)
    logs = commands.add_parser("logs")
    logs.add_argument("job", type=int)
    logs.add_argument("--follow", action="store_true")
    logs.add_argument("--tail", type=int)
    logs.add_argument("--status", action="store_true")
    logs.add_argument("--phase", choices=("setup", "run"), help="only setup's output (a follow ends with setup), or the run's")
    logs.set_defaults(run=cmd_logs)
    cancel = commands.add_parser("cancel")
    cancel.add_argument("jobs", type=int, nargs="*")
    cancel.add_argument("-a", "--all", action="store_true")
    cancel.set_defaults(run=cmd_cancel)
    commands.add_parser("daemon").set_defaults(run=cmd_daemon)
    commands.add_parser("ensure").set_defaults(run=cmd_ensure)
    autostop = commands.add_parser("autostop")
    autostop.add_argument("--idle", type=float)
    autostop.add_argument("--down", action="store_true")
    autostop.add_argument("--wait-for", default="jobs_and_ssh", choices=("jobs_and_ssh", "jobs", "none"))
    autostop.add_argument("--cancel", action="store_true")
    autostop.add_argument("--hook-stdin", action="store_true", help="read the autostop hook (a script) on stdin")
    autostop.add_argument("--hook-timeout", type=float)
    autostop.set_defaults(run=cmd_autostop)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
