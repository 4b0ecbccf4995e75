"""End-to-end tests' last step with a managed-jobs controller: it exits when idle, or is killed and the test fails."""

from __future__ import annotations

import os
import signal

from stix.home import StixHome
from tests.polling import wait_for


def until_controller_exits(home: StixHome, timeout: float) -> None:
    from stix.managed.controller import controller_pid

    pid = controller_pid(home)
    try:
        wait_for(lambda: controller_pid(home) is None, timeout=timeout, what="the controller to exit when idle")
    finally:
        if pid is not None and controller_pid(home) is not None:
            os.kill(pid, signal.SIGKILL)
