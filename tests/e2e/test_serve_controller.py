"""End to end: the serve controller with real replica clusters (real sshd nodes, the real engine) behind the
real load balancer (HAProxy on the local cloud), under load from a bounded loopback client.

Services go in as `stix serve up` puts them (the service's stack applied, then ServiceStore.add_service and
ensure_controller); everything is read back from the store, the balancer and the answers the client got.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, TypeVar

import pytest

from stix.components.local import sshd
from stix.home import StixHome
from stix.loader import load_pipeline_text
from stix.serve import store as st
from stix.serve.controller import controller_pid, ensure_controller
from stix.serve.spec import service_spec
from stix.serve.store import ServiceStore
from stix.session import Session
from tests.polling import wait_for

pytestmark = pytest.mark.e2e
T = TypeVar("T")

LAUNCH_S = 150.0
APP = '''import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/health" and (os.environ.get("HEALTHY") == "0" or os.path.exists("unhealthy")):
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = {"replica": os.environ["SKYPILOT_SERVE_REPLICA_ID"], "version": os.environ["VERSION"]}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler).serve_forever()
'''


def task_text(app_dir: Path, version: str = "v1", replicas: int = 2, policy: str = "", healthy: bool = True,
              initial_delay_s: int = 60) -> str:
    scale = policy or f"  replicas: {replicas}\n"
    return (f"name: web\nworkdir: {app_dir}\nresources:\n  infra: local\n  cpus: 1\n"
            f"envs:\n  PORT: \"8080\"\n  VERSION: {version}\n  HEALTHY: \"{int(healthy)}\"\n"
            f"service:\n  readiness_probe:\n    path: /health\n    initial_delay_seconds: {initial_delay_s}\n"
            f"    timeout_seconds: 3\n    endpoint_probe_interval_seconds: 1\n    consecutive_failure_threshold_timeout: 10\n"
            f"{scale}  ports: 8080\n"
            "run: |\n  HOST=$(echo \"$SKYPILOT_NODE_IPS\" | sed -n \"$((SKYPILOT_NODE_RANK + 1))p\") exec python3 app.py\n")


@pytest.fixture
def home(stix_home, engine, monkeypatch, tmp_path) -> StixHome:
    """The test's home; at the end every service is brought down and nothing is left: no replica cluster, no
    node, no balancer process, no stack, no controller."""
    monkeypatch.setenv("STIX_SERVE_IDLE_EXIT", "1")
    monkeypatch.setenv("STIX_SERVE_TICK", "0.5")
    monkeypatch.setenv("STIX_SERVE_LAUNCH_BACKOFF", "2")
    home = StixHome(stix_home)
    yield home
    store = ServiceStore(home)
    names = [record.name for record in store.all()]
    pid = controller_pid(home)
    try:
        if names:
            store.request_down(names)
            ensure_controller(home)
            watched(home, lambda: wait_for(lambda: not store.all(), timeout=120, interval=0.2,
                                           what="the services to be down"))
        wait_for(lambda: controller_pid(home) is None, timeout=30, what="the serve controller to exit when idle")
    finally:
        if controller_pid(home) is not None and pid is not None:
            os.kill(pid, signal.SIGKILL)
    assert_nothing_left(home)


@pytest.fixture
def app_dir(tmp_path) -> Path:
    path = tmp_path / "app"
    path.mkdir()
    (path / "app.py").write_text(APP)
    return path


def assert_nothing_left(home: StixHome) -> None:
    from stix import index as idx

    assert idx.ClusterIndex(home.index_db).all() == [], "the index still lists a cluster"
    assert not list(home.root.glob("clusters/*/nodes/*")), "node directories left"
    assert not sshd.processes_under(home.root / "clusters"), "node processes left"
    assert not balancer_processes(home), "a load balancer process is left"


def balancer_processes(home: StixHome) -> list[int]:
    """haproxy processes started for this home (their command line names a file under it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"haproxy") and any(str(home.root).encode() in arg for arg in argv):
            found.append(int(entry.name))
    return found


def controller_log(home: StixHome) -> str:
    path = ServiceStore(home).controller_log
    return path.read_text() if path.exists() else ""


def serve_up(home: StixHome, text: str, name: str = "web") -> str:
    """What `stix serve up` does: the service's stack, the store's record, the controller; returns the endpoint."""
    from stix.serve.balancer import BalancerSpec
    from stix.serve.lb_stack import apply_balancer

    task = load_pipeline_text(text).tasks[0]
    spec = service_spec(task)
    info = apply_balancer(Session(home), BalancerSpec(service=name, cloud="local", region="local",
                                                      replica_port=spec.replica_port,
                                                      policy=spec.load_balancing_policy,
                                                      labels=(("stix-service", name),)))
    store = ServiceStore(home)
    store.add_service(name, task, spec)
    store.set_service(name, endpoint=info.endpoint, balancer=info.outputs)
    ensure_controller(home)
    return info.endpoint


def update(home: StixHome, text: str, mode: str, name: str = "web") -> int:
    task = load_pipeline_text(text).tasks[0]
    version = ServiceStore(home).add_version(name, task, service_spec(task), mode)
    ensure_controller(home)
    return version


def ready(home: StixHome, name: str = "web") -> list[st.ReplicaRecord]:
    return [r for r in ServiceStore(home).replicas(name) if r.status == st.READY]


def wait_ready(home: StixHome, count: int, version: Optional[int] = None, exactly: bool = True,
               timeout: float = LAUNCH_S, name: str = "web") -> list[st.ReplicaRecord]:
    def settled():
        store = ServiceStore(home)
        record = store.get(name)
        live = store.replicas(name)
        good = [r for r in live if r.status == st.READY and (version is None or r.version == version)]
        whole = len(live) == count if exactly else True
        return record is not None and record.status == st.READY and len(good) == count and whole and good

    return watched(home, lambda: wait_for(settled, timeout=timeout, interval=0.2,
                                          what=f"{count} READY replica(s) of {name}"))


def watched(home: StixHome, wait: Callable[[], T]) -> T:
    """wait(), its failure telling the replicas and the controller's log as they were when it gave up."""
    try:
        return wait()
    except AssertionError as exc:
        store = ServiceStore(home)
        replicas = [(r.replica_id, r.version, r.status) for record in store.all() for r in store.replicas(record.name)]
        raise AssertionError(f"{exc}\nreplicas: {replicas}\ncontroller log:\n{controller_log(home)[-3000:]}") from None


def get(endpoint: str, timeout: float = 5.0) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{endpoint}/", timeout=timeout) as response:
        assert response.status == 200
        return json.loads(response.read())


@dataclass
class Load:
    """A loopback client sending GETs at a fixed rate, one at a time, bounded in count and time."""

    endpoint: str
    rate: float = 20.0
    max_requests: int = 4000
    max_s: float = 240.0
    answers: list[tuple[float, dict]] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: Optional[threading.Thread] = None

    def start(self) -> "Load":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        began = time.monotonic()
        for sent in range(self.max_requests):
            if self._stop.is_set() or time.monotonic() - began > self.max_s:
                return
            try:
                self.answers.append((time.monotonic(), get(self.endpoint)))
            except (OSError, urllib.error.URLError, AssertionError, ValueError) as exc:
                self.failures.append((time.monotonic(), repr(exc)))
            self._stop.wait(max(0.0, began + (sent + 1) / self.rate - time.monotonic()))

    def stop(self) -> "Load":
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=30)
        return self


def test_a_service_is_ready_with_two_replicas_behind_the_balancer(home, app_dir):
    endpoint = serve_up(home, task_text(app_dir))
    replicas = wait_ready(home, 2)
    assert ServiceStore(home).get("web").status == st.READY  # type: ignore[union-attr]
    assert {r.cluster for r in replicas} == {"web-1", "web-2"}
    assert all(r.ip and r.port == 8080 and r.agent_job is not None for r in replicas)
    from stix.serve.lb_stack import balancer_from

    record = ServiceStore(home).get("web")
    assert record is not None
    balancer = balancer_from(home, record)
    wait_for(lambda: sorted(balancer.backends()) == ["replica-1", "replica-2"], timeout=10,
             what="both replicas in the balancer")  # READY is recorded first, the balancer changed in that tick
    seen = {get(endpoint)["replica"] for _ in range(20)}
    assert seen == {"1", "2"}, "the balancer sends requests to both replicas"
    assert balancer.requests_total() >= 20


def test_a_killed_replica_is_replaced(home, app_dir):
    endpoint = serve_up(home, task_text(app_dir))
    wait_ready(home, 2)
    load = Load(endpoint, rate=10).start()
    killed_at = time.monotonic()
    sshd.kill_all(sshd.processes_under(home.root / "clusters" / "web-1" / "nodes"))
    watched(home, lambda: wait_for(lambda: ServiceStore(home).replica("web", 1).status == st.PREEMPTED, timeout=30,
                                   interval=0.1, what="replica 1 to be PREEMPTED"))
    replicas = wait_ready(home, 2)
    replaced_s = time.monotonic() - killed_at
    load.stop()
    assert {r.replica_id for r in replicas} == {2, 3}
    wait_for(lambda: ServiceStore(home).replica("web", 1).ended is not None, timeout=60,
             what="the killed replica's cluster to be torn down")
    assert not list(home.root.glob("clusters/web-1/nodes/*")), "the killed replica's cluster is gone"
    print(f"\nreplacement of a killed replica: {replaced_s:.1f}s to 2 READY again; "
          f"{len(load.answers)} answered, {len(load.failures)} failed meanwhile")
    assert load.answers and len(load.failures) <= 0.1 * (len(load.answers) + len(load.failures))
    assert get(endpoint)["replica"] in {"2", "3"}


def test_a_rolling_update_drops_no_request_and_keeps_the_ready_count(home, app_dir):
    endpoint = serve_up(home, task_text(app_dir))
    wait_ready(home, 2)
    load = Load(endpoint, rate=20).start()
    counts: list[int] = []
    version = update(home, task_text(app_dir, version="v2"), st.ROLLING)

    def done() -> bool:
        counts.append(len(ready(home)))
        live = ServiceStore(home).replicas("web")
        return len(live) == 2 and all(r.version == version and r.status == st.READY for r in live)

    watched(home, lambda: wait_for(done, timeout=2 * LAUNCH_S, interval=0.1, what="the rolling update to finish"))
    load.stop()
    assert load.failures == [], f"{len(load.failures)} failed requests during the update: {load.failures[:3]}"
    assert min(counts) >= 2, f"READY replicas went below 2 during the update: {min(counts)}"
    versions = [answer["version"] for _, answer in load.answers]
    assert versions[0] == "v1" and versions[-1] == "v2"
    assert get(endpoint)["version"] == "v2"


def test_blue_green_switches_only_when_the_new_set_is_ready(home, app_dir):
    endpoint = serve_up(home, task_text(app_dir))
    wait_ready(home, 2)
    load = Load(endpoint, rate=20).start()
    version = update(home, task_text(app_dir, version="v2"), st.BLUE_GREEN)
    ready_new_at_switch: list[int] = []

    def switched() -> bool:
        if any(answer["version"] == "v2" for _, answer in load.answers) and not ready_new_at_switch:
            ready_new_at_switch.append(sum(1 for r in ready(home) if r.version == version))
        live = ServiceStore(home).replicas("web")
        return len(live) == 2 and all(r.version == version and r.status == st.READY for r in live)

    watched(home, lambda: wait_for(switched, timeout=2 * LAUNCH_S, interval=0.05,
                                   what="the blue-green update to finish"))
    load.stop()
    versions = [answer["version"] for _, answer in load.answers]
    first_v2 = versions.index("v2")
    assert "v1" not in versions[first_v2:], "once switched, no request reaches the old set"
    assert ready_new_at_switch == [2], "the switch came only once both new replicas were READY"
    assert load.failures == [], load.failures[:3]


def test_the_autoscaler_goes_up_under_load_and_back_down_after(home, app_dir, monkeypatch):
    monkeypatch.setenv("STIX_SERVE_QPS_WINDOW", "4")
    policy = ("  replica_policy:\n    min_replicas: 1\n    max_replicas: 2\n    target_qps_per_replica: 3\n"
              "    upscale_delay_seconds: 3\n    downscale_delay_seconds: 6\n")
    endpoint = serve_up(home, task_text(app_dir, policy=policy))
    wait_ready(home, 1)
    load = Load(endpoint, rate=12, max_s=150).start()
    began = time.monotonic()
    wait_ready(home, 2, timeout=LAUNCH_S)
    up_s = time.monotonic() - began
    load.stop()
    stopped = time.monotonic()
    wait_ready(home, 1, timeout=90)
    down_s = time.monotonic() - stopped
    print(f"\nautoscaler: 2 READY {up_s:.1f}s after load began (upscale delay 3s); "
          f"back to 1 {down_s:.1f}s after it stopped (downscale delay 6s)")
    assert up_s >= 3, "it went up before its upscale delay"
    assert down_s >= 6, "it went down before its downscale delay"
    assert load.failures == [], load.failures[:3]
    assert "autoscaler:" in controller_log(home)


def test_a_restarted_controller_adopts_the_service_without_relaunching(home, app_dir):
    endpoint = serve_up(home, task_text(app_dir))
    before = wait_ready(home, 2)
    pid = controller_pid(home)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: controller_pid(home) is None, timeout=10, what="the killed controller's lock to be released")
    ensure_controller(home)
    wait_for(lambda: (new := controller_pid(home)) is not None and new != pid, timeout=30, what="a new controller")
    wait_for(lambda: f"controller {controller_pid(home)} started" in controller_log(home) and
             "service web: adopted (READY)" in controller_log(home).split(f"controller {controller_pid(home)} started")[-1],
             timeout=30, what="the new controller to adopt the service")
    load = Load(endpoint, rate=10, max_requests=40).start()
    wait_for(lambda: len(load.answers) + len(load.failures) >= 40, timeout=30, what="40 requests through")
    load.stop()
    assert load.failures == []
    after = ServiceStore(home).replicas("web")
    assert [(r.replica_id, r.status) for r in after] == [(r.replica_id, st.READY) for r in before]
    assert ServiceStore(home).get("web").status == st.READY  # type: ignore[union-attr]
    assert {answer["replica"] for _, answer in load.answers} == {"1", "2"}


def test_a_replica_failing_its_probe_leaves_the_balancer_at_once_and_is_replaced_after_the_threshold(home, app_dir):
    from stix.serve.lb_stack import balancer_from

    endpoint = serve_up(home, task_text(app_dir))
    wait_ready(home, 2)
    record = ServiceStore(home).get("web")
    assert record is not None
    balancer = balancer_from(home, record)
    workdir = next((home.root / "clusters" / "web-1" / "nodes").iterdir()) / "home" / "sky_workdir"
    (workdir / "unhealthy").write_text("")
    failing = time.monotonic()
    watched(home, lambda: wait_for(lambda: ServiceStore(home).replica("web", 1).status == st.NOT_READY, timeout=15,
                                   interval=0.1, what="replica 1 to be NOT_READY"))
    wait_for(lambda: balancer.backends() == ["replica-2"], timeout=10, what="replica 1 out of the balancer")
    assert {get(endpoint)["replica"] for _ in range(10)} == {"2"}
    watched(home, lambda: wait_for(lambda: ServiceStore(home).replica("web", 1).status == st.FAILED, timeout=40,
                                   interval=0.1, what="replica 1 to be FAILED after the failure threshold"))
    assert time.monotonic() - failing >= 10, "not before consecutive_failure_threshold_timeout"
    replicas = wait_ready(home, 2)
    assert {r.replica_id for r in replicas} == {2, 3}
    wait_for(lambda: sorted(balancer.backends()) == ["replica-2", "replica-3"], timeout=10,
             what="the replacement in the balancer")


def test_replicas_that_never_become_ready_fail_the_service(home, app_dir):
    serve_up(home, task_text(app_dir, replicas=1, healthy=False, initial_delay_s=2))
    watched(home, lambda: wait_for(lambda: ServiceStore(home).get("web").status == st.FAILED,  # type: ignore[union-attr]
                                   timeout=LAUNCH_S, interval=0.2, what="the service to be FAILED"))
    rows = ServiceStore(home).replicas("web", include_ended=True)
    assert [r.status for r in rows] == [st.FAILED] * 3
    assert all("initial_delay_seconds" in (r.failure or "") for r in rows)
    assert "3 replicas failed" in (ServiceStore(home).get("web").failure or "")  # type: ignore[union-attr]
    wait_for(lambda: all(r.ended for r in ServiceStore(home).replicas("web", include_ended=True)), timeout=60,
             what="the failed replicas' clusters to be torn down")
    assert not list(home.root.glob("clusters/*/nodes/*"))


def test_a_controller_killed_mid_launch_is_replaced_and_the_replicas_launch_once(home, app_dir):
    serve_up(home, task_text(app_dir))
    wait_for(lambda: [r.status for r in ServiceStore(home).replicas("web")] == [st.PROVISIONING] * 2, timeout=30,
             interval=0.02, what="both replicas PROVISIONING")
    pid = controller_pid(home)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: controller_pid(home) is None, timeout=10, what="the killed controller's lock to be released")
    ensure_controller(home)
    replicas = wait_ready(home, 2)
    assert [r.replica_id for r in replicas] == [1, 2], "the adopted replicas, not new ones"
    assert "adopted PROVISIONING; launching it again" in controller_log(home)
    from stix import index as idx

    assert sorted(r.name for r in idx.ClusterIndex(home.index_db).all()) == ["web-1", "web-2"]


def test_failed_launches_back_off(home, app_dir):
    text = task_text(app_dir, replicas=1).replace("run: |", "setup: exit 3\nrun: |")
    serve_up(home, text)
    watched(home, lambda: wait_for(lambda: ServiceStore(home).get("web").status == st.FAILED,  # type: ignore[union-attr]
                                   timeout=LAUNCH_S, interval=0.2, what="the service to be FAILED"))
    rows = ServiceStore(home).replicas("web", include_ended=True)
    assert [r.status for r in rows] == [st.FAILED] * 3
    assert all((r.failure or "").startswith("launch failed") for r in rows)
    log = controller_log(home)
    assert "next launch in 2s at the earliest" in log and "next launch in 4s at the earliest" in log, log
    gaps = [later.launched - earlier.launched for earlier, later in zip(rows, rows[1:])]
    assert gaps[0] >= 2 and gaps[1] >= 4, f"launches {gaps} apart: no backoff"
    wait_for(lambda: all(r.ended for r in ServiceStore(home).replicas("web", include_ended=True)), timeout=60,
             what="the failed replicas' clusters to be torn down")


def test_cli_update_under_load_and_the_sdk_path_beside_it(home, app_dir, stix, tmp_path):
    """One replica each: service `cli` through `stix serve up -y / update --mode rolling / down -y` while a loopback
    client loads it, and service `sdk` through stix.serve.up / status / update / tail_logs / down, side by side
    (their replicas launch and roll together, so the test takes about one launch and one update)."""
    import io

    import stix as sky

    quick = {name: os.environ[name] for name in ("STIX_SERVE_IDLE_EXIT", "STIX_SERVE_TICK", "STIX_SERVE_LAUNCH_BACKOFF")}

    def task_file(name: str, version: str) -> Path:
        text = task_text(app_dir, version=version, replicas=1).replace(
            "run: |\n", "run: |\n  echo \"replica $SKYPILOT_SERVE_REPLICA_ID of $VERSION starting\"\n")
        path = tmp_path / f"{name}-{version}.yaml"
        path.write_text(text)
        return path

    def ok(result) -> str:
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def moved(name: str, version: int) -> bool:
        live = ServiceStore(home).replicas(name)
        record = ServiceStore(home).get(name)
        return bool(live) and record is not None and record.status == st.READY and \
            all(r.version == version and r.status == st.READY for r in live)

    began = time.monotonic()
    out = ok(stix("serve", "up", "-y", "-n", "cli", str(task_file("cli", "v1")), timeout=120, **quick))
    cli_endpoint = ServiceStore(home).get("cli").endpoint  # type: ignore[union-attr]
    assert f"Service 'cli' is starting; its endpoint: {cli_endpoint}" in out, out
    name, sdk_endpoint = sky.get(sky.serve.up(str(task_file("sdk", "v1")), service_name="sdk"))
    assert name == "sdk" and sdk_endpoint != cli_endpoint
    wait_ready(home, 1, name="cli")
    wait_ready(home, 1, name="sdk")
    [sdk_status] = sky.serve.status("sdk")
    assert (sdk_status.endpoint, sdk_status["status"], sdk_status.version) == (sdk_endpoint, "READY", 1)
    assert get(sdk_endpoint)["version"] == "v1" and get(cli_endpoint)["version"] == "v1"

    load = Load(cli_endpoint, rate=20, max_requests=2000, max_s=150).start()
    updated = ok(stix("serve", "update", "cli", str(task_file("cli", "v2")), "--mode", "rolling", "-y", **quick))
    assert "Version: 2" in updated, updated
    assert sky.serve.update(str(task_file("sdk", "v2")), "sdk") == 2
    watched(home, lambda: wait_for(lambda: moved("cli", 2) and moved("sdk", 2), timeout=2 * LAUNCH_S, interval=0.1,
                                   what="both services to run version 2"))
    load.stop()
    assert load.failures == [], f"{len(load.failures)} failed requests during the update: {load.failures[:3]}"
    versions = [answer["version"] for _, answer in load.answers]
    assert versions[0] == "v1" and versions[-1] == "v2" and len(versions) >= 20
    assert get(cli_endpoint)["version"] == "v2" and get(sdk_endpoint)["version"] == "v2"
    assert sky.serve.status("sdk")[0].version == 2

    controller, replica = io.StringIO(), io.StringIO()
    assert sky.serve.tail_logs("sdk", "controller", follow=False, output_stream=controller) == 0
    assert "service sdk: " in controller.getvalue()
    [live] = ServiceStore(home).replicas("sdk")
    assert sky.serve.tail_logs("sdk", "replica", live.replica_id, follow=False, output_stream=replica) == 0
    assert f"replica {live.replica_id} of v2 starting" in replica.getvalue(), replica.getvalue()

    down = ok(stix("serve", "down", "-y", "cli", timeout=300, **quick))
    assert "Removed cli" in down, down
    assert sky.serve.down("sdk") == ["sdk"]
    assert ServiceStore(home).all() == [] and sky.serve.status() == []
    for endpoint in (cli_endpoint, sdk_endpoint):
        with pytest.raises(OSError):
            get(endpoint, timeout=2)
    print(f"\nCLI and SDK services up, rolled to v2 under {len(versions)} requests (0 failed) and down in "
          f"{time.monotonic() - began:.0f}s")
