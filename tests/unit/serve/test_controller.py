"""The serve controller process: one per home (its lock), started by ensure_controller, gone when idle."""

from __future__ import annotations

import os

import pytest

from stix.home import StixHome
from stix.serve import controller as c
from stix.serve.store import ServiceStore
from tests.polling import wait_for


@pytest.fixture
def home(tmp_path, monkeypatch) -> StixHome:
    home = StixHome(tmp_path / "home")
    monkeypatch.setenv("STIX_HOME", str(home.root))
    return home


def test_ensure_controller_starts_one_which_exits_when_idle(home, monkeypatch):
    monkeypatch.setenv(c.IDLE_EXIT_ENV, "2")
    c.ensure_controller(home)
    pid = wait_for(lambda: c.controller_pid(home), timeout=20, what="the controller to take its lock")
    c.ensure_controller(home)  # running: nothing new
    assert c.controller_pid(home) == pid
    wait_for(lambda: c.controller_pid(home) is None, timeout=30, what="the idle controller to exit")
    log = ServiceStore(home).controller_log
    text = log.read_text()
    assert text.count("started") == 1 and f"controller {pid} idle, exiting" in text, text
    assert oct(os.stat(log).st_mode & 0o777) == "0o600"
    assert c.lock_path(home).parent == ServiceStore(home).root, "its own lock, not the jobs controller's"


def test_a_second_controller_leaves_the_home_to_the_first(home):
    from stix.managed.controller import _try_lock

    held = _try_lock(c.lock_path(home))
    assert held is not None
    try:
        assert c.main() == 0, "returns at once, lock not taken"
        assert _try_lock(c.lock_path(home)) is None, "the first still holds it"
    finally:
        held.close()
    assert c.controller_pid(home) is None


def test_a_service_brought_down_leaves_no_thread_entry(home):
    """`serve up` of a name just brought down starts at once, not RESTART_S later as an 'ended early' thread."""
    import threading

    controller = c.Controller(home)
    done = threading.Thread(target=lambda: None)
    done.start()
    done.join()
    controller.threads["gone"] = done
    controller.ended_at["gone"] = 1.0
    controller.schedule()
    assert controller.threads == {} and controller.ended_at == {}
