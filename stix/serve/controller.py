"""The serve controller: one detached local process per stix home (`python -m stix.serve.controller`).

Like the managed-jobs controller (stix.managed.controller), it holds an flock on <home>/serve/controller.lock
(its pid beside it), so there is one at a time; `ensure_controller` starts it when the lock is free. It
adopts every service in the store and carries each on a thread of its own (stix.serve.service_runner),
bounds launches (STIX_SERVE_LAUNCHES, default 4), and exits once the store has held no service for
STIX_SERVE_IDLE_EXIT seconds (default 60). One line per event goes to the store's controller log.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Optional

from stix import processes
from stix.home import StixHome
from stix.managed.controller import (FAST_KEEPALIVE, ControllerLog, _group_members, _seconds, _try_lock, running_pid,
                                    start_detached)
from stix.serve.store import ServiceStore

IDLE_EXIT_ENV = "STIX_SERVE_IDLE_EXIT"
LAUNCHES_ENV = "STIX_SERVE_LAUNCHES"
POLL_S = 0.5
RESTART_S = 5.0
"""A service whose thread ended with the service still in the store (an error) is taken up again after this."""


def lock_path(home: StixHome) -> Path:
    return ServiceStore(home).root / "controller.lock"


def pid_path(home: StixHome) -> Path:
    return ServiceStore(home).root / "controller.pid"


def ensure_controller(home: StixHome) -> None:
    """Start the controller if it is not running; cheap when it is. Call it after changing the store."""
    start_detached(home, lock_path(home), ServiceStore(home).controller_log, "stix.serve.controller")


def controller_pid(home: StixHome) -> Optional[int]:
    """The running controller's pid; None when none holds the lock."""
    return running_pid(lock_path(home), pid_path(home))


class Controller:
    def __init__(self, home: StixHome) -> None:
        self.home = home
        self.store = ServiceStore(home)
        self.log = ControllerLog(self.store.controller_log)
        self.launches = threading.BoundedSemaphore(max(1, int(_seconds(LAUNCHES_ENV, 4))))
        self.idle_exit_s = _seconds(IDLE_EXIT_ENV, 60.0)
        self.threads: dict[str, threading.Thread] = {}
        self.ended_at: dict[str, float] = {}

    def serve(self) -> None:
        """Carry services until the store has held none for idle_exit_s."""
        idle_since = time.monotonic()
        while True:
            self.schedule()
            if any(thread.is_alive() for thread in self.threads.values()):
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= self.idle_exit_s:
                return
            time.sleep(POLL_S)

    def schedule(self) -> None:
        from stix.serve.service_runner import ServiceRunner

        records = self.store.all()
        names = {record.name for record in records}
        for name in [n for n, thread in self.threads.items() if n not in names and not thread.is_alive()]:
            del self.threads[name]  # its service is down: a new one of that name starts afresh
            self.ended_at.pop(name, None)
        for record in records:
            thread = self.threads.get(record.name)
            if thread is not None and thread.is_alive():
                continue
            if thread is not None:
                ended = self.ended_at.setdefault(record.name, time.monotonic())
                if time.monotonic() - ended < RESTART_S:
                    continue
                self.log(f"service {record.name}: its thread ended early; taking it up again")
            self.ended_at.pop(record.name, None)
            self.log(f"service {record.name}: adopted ({record.status})")
            runner = ServiceRunner(self.home, record.name, self.log, self.launches)
            thread = threading.Thread(target=runner.run, name=f"service-{record.name}", daemon=True)
            self.threads[record.name] = thread
            thread.start()


def _end_predecessor(home: StixHome, log: ControllerLog) -> None:
    """A controller killed mid-launch leaves its engine running in its process group, holding a replica's stack
    lock: end it before adopting (node processes are not among them)."""
    try:
        old = int(pid_path(home).read_text().strip())
    except (OSError, ValueError):
        return
    members = _group_members(old, home) if old != os.getpid() else set()
    if members:
        log(f"ending {len(members)} process(es) the previous controller ({old}) left running")
        processes.terminate(members, grace_s=5)


def main() -> int:
    home = StixHome.from_env()
    store = ServiceStore(home)
    handle = _try_lock(lock_path(home))
    if handle is None:
        return 0  # another controller has this home
    for name, value in FAST_KEEPALIVE.items():
        os.environ.setdefault(name, value)
    from stix.engine.workspace import ensure_shim

    home.passphrase()  # made once here: the service threads would race to create these
    ensure_shim(home)
    controller = Controller(home)
    _end_predecessor(home, controller.log)
    while True:
        pid_path(home).write_text(f"{os.getpid()}\n")
        controller.log(f"controller {os.getpid()} started")
        controller.serve()
        handle.close()
        # A service added while this one was stopping saw the lock held and started nothing: look again.
        if not store.all():
            controller.log(f"controller {os.getpid()} idle, exiting")
            return 0
        handle = _try_lock(lock_path(home))
        if handle is None:
            return 0


if __name__ == "__main__":
    sys.exit(main())
