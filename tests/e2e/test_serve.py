"""`stix serve` end to end, through the CLI as a user types it: examples/http-serve.yaml served on the local cloud
(real engine, real sshd replicas, real HAProxy), READY, answered over HTTP at its endpoint, shown by status,
its logs read, updated to a second version, and taken down leaving no cluster, stack, balancer process or
record."""

from __future__ import annotations

import json
import os
import re
import signal
import urllib.request
from pathlib import Path

import pytest

from stix.home import StixHome
from tests.conftest import REPO
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

EXAMPLE = str(REPO / "examples" / "http-serve.yaml")
SERVICE = "http-serve"
UP_S = 300.0
READY_S = 420.0
QUICK_EXIT = {"STIX_SERVE_IDLE_EXIT": "1"}


def ran(result) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def fetch(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except OSError:
        return None


def services(stix) -> list[dict]:
    return json.loads(ran(stix("serve", "status", "--format", "json")))


def processes_with(text: str) -> list[int]:
    """Live processes whose command line mentions `text` (a stix home's path: its HAProxy, its controller)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def until_serve_controller_exits(home: StixHome, timeout: float) -> None:
    from stix.serve.controller import controller_pid

    pid = controller_pid(home)
    try:
        wait_for(lambda: controller_pid(home) is None, timeout=timeout, what="the serve controller to exit when idle")
    finally:
        if pid is not None and controller_pid(home) is not None:
            os.kill(pid, signal.SIGKILL)


def test_serve_up_answers_at_its_endpoint_and_down_leaves_nothing(stix, stix_home, engine):
    home = StixHome(stix_home)
    try:
        out = ran(stix("serve", "up", "-y", EXAMPLE, cwd=REPO, timeout=UP_S, **QUICK_EXIT))
        assert re.search(r"^2 replicas of the local cloud .* at \$0\.00/hr each$", out, re.M), out
        endpoint = re.search(r"^Endpoint: (127\.0\.0\.1:\d+)$", out, re.M)
        assert endpoint, out
        assert f"`stix serve status {SERVICE}`" in out
        assert ran(stix("serve", "status", SERVICE, "--endpoint")).strip() == endpoint.group(1)

        def ready() -> dict | None:
            [service] = services(stix)
            assert service["status"] not in ("FAILED", "SHUTTING_DOWN"), service
            return service if service["status"] == "READY" else None

        service = wait_for(ready, timeout=READY_S, interval=1.0, what="the service to be READY")
        body = wait_for(lambda: fetch(f"http://{endpoint.group(1)}/"), timeout=30, interval=0.2,
                        what="the endpoint to answer")
        assert body["message"] == "hello from a stix service", body
        assert fetch(f"http://{endpoint.group(1)}/health") == {"status": "ok"}
        replica = next(r for r in service["replicas"] if r["status"] == "READY")
        assert replica["cluster"] == f"{SERVICE}-{replica['replica_id']}" and replica["port"] == 8080

        table = ran(stix("serve", "status"))
        for cell in (SERVICE, "READY", endpoint.group(1), replica["cluster"], f"{replica['ip']}:8080"):
            assert cell in table, table
        clusters = {c["name"] for c in json.loads(ran(stix("status", "--format", "json")))}
        assert replica["cluster"] in clusters

        logs = ran(stix("serve", "logs", SERVICE, str(replica["replica_id"])))
        assert f"serving on {replica['ip']}:8080" in logs, logs
        controller = ran(stix("serve", "logs", SERVICE, "--controller"))
        assert controller and all(f"service {SERVICE}" in line for line in controller.splitlines()), controller
        assert stix("serve", "logs", SERVICE, "--load-balancer").returncode == 0

        import io

        import stix as sdk

        [record] = sdk.serve.status(SERVICE)
        assert record.endpoint == endpoint.group(1) and record["status"] == "READY"
        buffer = io.StringIO()
        assert sdk.serve.tail_logs(SERVICE, "controller", follow=False, output_stream=buffer) == 0
        assert f"service {SERVICE}: " in buffer.getvalue()

        follower = stix.popen("serve", "logs", SERVICE, str(replica["replica_id"]), "--follow")
        updated = ran(stix("serve", "update", SERVICE, EXAMPLE, "--env", "GREETING=version two", "-y", cwd=REPO))
        assert "Version: 2" in updated, updated

        def moved() -> bool:
            [service] = services(stix)
            live = [r for r in service["replicas"] if r["ended_at"] is None]
            return service["version"] == 2 and service["status"] == "READY" and \
                {(r["version"], r["status"]) for r in live} == {(2, "READY")}

        wait_for(moved, timeout=READY_S, interval=1.0, what="every replica to run version 2")
        assert fetch(f"http://{endpoint.group(1)}/")["message"] == "version two"
        followed, _ = follower.communicate(timeout=120)  # its replica was replaced by the update: the follow ends
        assert follower.returncode == 0 and f"serving on {replica['ip']}:8080" in followed, followed
        assert followed.splitlines()[-1].startswith(f"── replica {replica['replica_id']} of {SERVICE}: "), followed

        down = stix("serve", "down", "-y", SERVICE, timeout=700)
        assert down.returncode == 0, down.stdout + down.stderr
        assert f"Removed {SERVICE}" in down.stdout
        assert services(stix) == []
        assert json.loads(ran(stix("status", "--format", "json"))) == []
        assert fetch(f"http://{endpoint.group(1)}/") is None
        assert not list(home.root.glob("serve/balancers/*")) and not list(home.root.glob("serve/stacks/*"))
        until_serve_controller_exits(home, timeout=60)
        assert processes_with(str(home.root)) == []  # no HAProxy, no controller
    finally:
        stix("serve", "down", "-y", "-a", timeout=700)
        until_serve_controller_exits(home, timeout=120)


def test_serve_up_without_yes_previews_then_changes_nothing(stix, stix_home, engine):
    home = StixHome(stix_home)
    result = stix("serve", "up", EXAMPLE, cwd=REPO, timeout=UP_S)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1] == ("stix: error: refusing to change infrastructure without "
                                                      "confirmation: no terminal to ask; pass -y")
    assert "to create" in result.stdout and "2 replicas of the local cloud" in result.stdout, result.stdout
    assert services(stix) == []
    assert not list(home.root.glob("serve/stacks/*")) and processes_with(str(home.root)) == []
