"""The managed-jobs controller: one detached local process per stix home (`python -m stix.managed.controller`).

It holds an flock on <home>/managed/controller.lock (its pid beside it), so there is one at a time;
`ensure_controller` starts it when the lock is free. It adopts every unfinished job in the store, runs
each on a thread of its own (stix.managed.attempt.JobRunner), bounds launches and teardowns together
(STIX_CONTROLLER_LAUNCHES, default 4), and exits once the store has had no unfinished job for
STIX_CONTROLLER_IDLE_EXIT seconds (default 60). It writes one line per event to the store's
controller log, each `job N: ...`.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Optional

from stix import processes
from stix.home import StixHome
from stix.managed.store import JobStore

IDLE_EXIT_ENV = "STIX_CONTROLLER_IDLE_EXIT"
LAUNCHES_ENV = "STIX_CONTROLLER_LAUNCHES"
POLL_S = 0.5
FAST_KEEPALIVE = {"STIX_SSH_KEEPALIVE": "3", "STIX_SSH_KEEPALIVE_COUNT": "3"}
"""A frozen head counts as lost within ~9 s, not the interactive default of 60 s (a killed one is seen at once)."""


def lock_path(home: StixHome) -> Path:
    return JobStore(home).root / "controller.lock"


def pid_path(home: StixHome) -> Path:
    return JobStore(home).root / "controller.pid"


def ensure_controller(home: StixHome) -> None:
    """Start the controller if it is not running; cheap when it is. Call it after JobStore.submit."""
    store = JobStore(home)
    start_detached(home, lock_path(home), store.controller_log, "stix.managed.controller")


def controller_pid(home: StixHome) -> Optional[int]:
    """The running controller's pid; None when none holds the lock."""
    return running_pid(lock_path(home), pid_path(home))


def start_detached(home: StixHome, lock: Path, log: Path, module: str) -> None:
    """Start `python -m module` for this home, detached, in the lock's directory with its output in log (0600),
    unless a process holds the lock (a controller: managed jobs', serve's)."""
    if _held(lock):
        return
    lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = {**os.environ, "STIX_HOME": str(home.root)}
    with open(log, "a", encoding="utf-8") as out:
        os.chmod(log, 0o600)
        subprocess.Popen([sys.executable, "-m", module], stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, cwd=str(lock.parent), env=env, start_new_session=True,
                         close_fds=True)


def running_pid(lock: Path, pid_file: Path) -> Optional[int]:
    """The pid recorded beside a held lock; None when no process holds it."""
    if not _held(lock):
        return None
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _held(path: Path) -> bool:
    if not path.exists():
        return False
    handle = _try_lock(path)
    if handle is None:
        return True
    handle.close()
    return False


def _try_lock(path: Path) -> Optional[IO[str]]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle = open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


class ControllerLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def __call__(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {text}\n")


class Controller:
    def __init__(self, home: StixHome) -> None:
        self.home = home
        self.store = JobStore(home)
        self.log = ControllerLog(self.store.controller_log)
        self.launches = threading.BoundedSemaphore(max(1, int(_seconds(LAUNCHES_ENV, 4))))
        self.idle_exit_s = _seconds(IDLE_EXIT_ENV, 60.0)
        self.threads: dict[int, threading.Thread] = {}

    def serve(self) -> None:
        """Run jobs until the store has been idle for idle_exit_s; returns with the lock released."""
        idle_since = time.monotonic()
        while True:
            self.schedule()
            busy = any(thread.is_alive() for thread in self.threads.values())
            if busy:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= self.idle_exit_s:
                return
            time.sleep(POLL_S)

    def schedule(self) -> None:
        from stix.managed.attempt import JobRunner

        for job in self.store.unfinished():
            thread = self.threads.get(job.id)
            if thread is not None and thread.is_alive():
                continue
            if thread is not None:  # its runner returned with the job unfinished: a bug, not a loop
                self.log(f"job {job.id}: runner ended with the job {job.status}; marking it FAILED_CONTROLLER")
                self.store.set_job(job.id, "FAILED_CONTROLLER", "the controller's runner ended early")
                continue
            self.log(f"job {job.id}: {'adopted' if job.status != 'PENDING' else 'picked up'} ({job.status})")
            runner = JobRunner(self.home, job.id, self.log, self.launches)
            thread = threading.Thread(target=runner.run, name=f"job-{job.id}", daemon=True)
            self.threads[job.id] = thread
            thread.start()


def _end_predecessor(home: StixHome, log: ControllerLog) -> None:
    """A controller killed mid-launch leaves its engine (and the engine's providers) running in its process
    group, holding the cluster's stack lock: end them before adopting its jobs. Nodes are not among them
    (a local node's sshd daemonises into a session of its own)."""
    try:
        old = int(pid_path(home).read_text().strip())
    except (OSError, ValueError):
        return
    members = _group_members(old, home) if old != os.getpid() else set()
    if not members:
        return
    log(f"ending {len(members)} process(es) the previous controller ({old}) left running")
    processes.terminate(members, grace_s=5)


def _group_members(pgid: int, home: StixHome) -> set[int]:
    """This user's processes in process group pgid that work for this home (STIX_HOME) and are not node processes
    (a controller that itself runs on a controller cluster's node skips only other nodes' processes)."""
    mine = f"STIX_HOME={home.root}".encode()
    own_node = os.environ.get("STIX_NODE_DIR")
    node_marks = {f"STIX_NODE_DIR={own_node}".encode()} if own_node else set()
    found = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            environ = Path(f"/proc/{entry.name}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = processes.stat_fields(int(entry.name))
        if fields is None:
            continue
        nodes = {e for e in environ if e.startswith(b"STIX_NODE_DIR=")}
        if int(fields[2]) == pgid and mine in environ and nodes <= node_marks:
            found.add(int(entry.name))
    found.discard(os.getpid())
    return found


def main() -> int:
    home = StixHome.from_env()
    store = JobStore(home)
    handle = _try_lock(lock_path(home))
    if handle is None:
        return 0  # another controller has this home
    for name, value in FAST_KEEPALIVE.items():
        os.environ.setdefault(name, value)
    from stix.engine.workspace import ensure_shim

    home.passphrase()  # made once here: the job threads would race to create these
    ensure_shim(home)
    controller = Controller(home)
    _end_predecessor(home, controller.log)
    while True:
        pid_path(home).write_text(f"{os.getpid()}\n")
        controller.log(f"controller {os.getpid()} started")
        controller.serve()
        handle.close()
        # A job submitted while this one was stopping saw the lock held and started nothing: look again.
        if not store.unfinished():
            controller.log(f"controller {os.getpid()} idle, exiting")
            return 0
        handle = _try_lock(lock_path(home))
        if handle is None:
            return 0


if __name__ == "__main__":
    sys.exit(main())
