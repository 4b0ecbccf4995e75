"""A service's load balancer on the local cloud: a real HAProxy (the service's own stack, the real engine) in front
of real HTTP servers on loopback, changed through its runtime API while a bounded loopback client sends
requests."""

from __future__ import annotations

import http.client
import os
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator, Optional

import pytest

from stix.home import StixHome
from stix.serve.balancer import Backend, BalancerSpec
from stix.session import Session
from tests.certificates import self_signed
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

TASK = """\
name: echo
resources:
  infra: local
  ports: 8080
service:
  readiness_probe: /
  replicas: 1
run: python3 -m http.server 8080
"""


class Replica:
    """An HTTP server that answers with its name; /slow answers after `slow_s`."""

    def __init__(self, name: str, slow_s: float = 1.5) -> None:
        self.name = name
        self.served: Counter[str] = Counter()
        self.slow_in_flight = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path == "/slow":
                    owner.slow_in_flight += 1
                    time.sleep(slow_s)  # a long request in flight while the server is taken out
                    owner.slow_in_flight -= 1
                owner.served[self.path] += 1
                body = owner.name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # HAProxy's connect checks close at once; nothing to report

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def backend(self) -> Backend:
        return Backend(self.name, "127.0.0.1", self.server.server_address[1])

    @property
    def total(self) -> int:
        return sum(self.served.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Load:
    """Loopback clients on keep-alive connections, bounded in count and time; every failure is kept."""

    endpoint: str
    clients: int = 4
    max_requests: int = 3000
    max_s: float = 90.0
    answers: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _client(self) -> None:
        host, port = self.endpoint.rsplit(":", 1)
        deadline = time.monotonic() + self.max_s
        conn: Optional[http.client.HTTPConnection] = None
        for _ in range(self.max_requests):
            if self.stop.is_set() or time.monotonic() > deadline:
                break
            try:
                conn = conn or http.client.HTTPConnection(host, int(port), timeout=10)
                conn.request("GET", "/")
                response = conn.getresponse()
                body = response.read().decode()
                with self.lock:
                    if response.status == 200:
                        self.answers[body] += 1
                    else:
                        self.failures.append(f"{response.status} {body[:80]}")
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.failures.append(repr(exc))
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def __enter__(self) -> "Load":
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    @property
    def sent(self) -> int:
        with self.lock:
            return sum(self.answers.values()) + len(self.failures)


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    made = [Replica(name) for name in ("replica-1", "replica-2", "replica-3")]
    yield made
    for replica in made:
        replica.close()


def _record(home: StixHome, tmp_path: Path, name: str, info) -> object:
    """The service as `serve up` records it in the store."""
    from stix.loader import load_task
    from stix.serve.spec import service_spec
    from stix.serve.store import ServiceStore

    path = tmp_path / "echo.yaml"
    path.write_text(TASK)
    task = load_task(path)
    store = ServiceStore(home)
    store.add_service(name, task, service_spec(task))
    store.set_service(name, endpoint=info.endpoint, balancer=info.outputs)
    record = store.get(name)
    assert record is not None
    return record


def _haproxies(home: Path) -> set[int]:
    from stix.components.local import sshd

    return {pid for pid in sshd.processes_under(home) if "haproxy" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(
        errors="replace")}


def _get(endpoint: str, path: str = "/", context: Optional[ssl.SSLContext] = None) -> tuple[int, str]:
    host, port = endpoint.rsplit(":", 1)
    conn = (http.client.HTTPSConnection(host, int(port), timeout=10, context=context) if context
            else http.client.HTTPConnection(host, int(port), timeout=10))
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_servers_come_and_go_under_load_and_no_request_is_dropped(stix_home, engine, tmp_path, replicas):
    from stix.serve.lb_stack import apply_balancer, balancer_from, destroy_balancer

    home = StixHome(stix_home)
    session = Session(home)
    one, two, three = replicas
    info = apply_balancer(session, BalancerSpec("echo", "local", "local", 8080))
    try:
        assert info.endpoint.startswith("127.0.0.1:")
        assert _get(info.endpoint)[0] == 503  # no server yet: nothing is ready
        balancer = balancer_from(home, _record(home, tmp_path, "echo", info))
        balancer.set_backends([one.backend])
        balancer.set_backends([one.backend])  # idempotent: a restarted controller repeats itself
        assert balancer.backends() == ["replica-1"]
        before = balancer.requests_total()
        with Load(info.endpoint) as load:
            wait_for(lambda: load.answers["replica-1"] > 50, 30, "requests through replica-1")
            balancer.set_backends([one.backend, two.backend])
            wait_for(lambda: load.answers["replica-2"] > 50, 30, "requests reaching the added replica-2")
            # A request in flight on replica-1 while it is taken out: it finishes, and set_backends waits for it.
            slow: list[tuple[int, str]] = []
            senders = []
            for _ in range(10):  # round robin: one of the first few lands on replica-1
                senders.append(threading.Thread(target=lambda: slow.append(_get(info.endpoint, "/slow"))))
                senders[-1].start()
                if _poll(lambda: one.slow_in_flight > 0, 0.5):
                    break
            assert one.slow_in_flight > 0
            balancer.set_backends([two.backend, three.backend])
            assert one.served["/slow"] >= 1  # set_backends returned only after it was answered
            for sender in senders:
                sender.join(timeout=30)
            assert len(slow) == len(senders) and {status for status, _ in slow} == {200}
            assert "replica-1" in {body for _, body in slow}
            assert balancer.backends() == ["replica-2", "replica-3"]
            served_by_one = one.total
            wait_for(lambda: load.answers["replica-3"] > 50, 30, "requests reaching the added replica-3")
            balancer.set_backends([three.backend])
            wait_for(lambda: load.sent > load.answers["replica-1"] + load.answers["replica-2"] + 100, 30,
                     "requests after the last change")
        assert load.failures == [], load.failures[:5]
        assert one.total == served_by_one  # nothing reached replica-1 once it was taken out
        assert balancer.backends() == ["replica-3"]
        answered = sum(load.answers.values()) + len(slow)
        assert balancer.requests_total() - before == answered
    finally:
        destroy_balancer(session, "echo")
    assert not _haproxies(stix_home)


def _poll(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_killed_balancer_is_drift_and_up_starts_it_again_on_the_same_port(stix_home, engine, replicas):
    from stix import processes
    from stix.serve.lb_stack import apply_balancer, destroy_balancer, preview_balancer

    session = Session(StixHome(stix_home))
    spec = BalancerSpec("drifty", "local", "local", 8080)
    first = apply_balancer(session, spec)
    try:
        assert not preview_balancer(session, spec).has_changes
        pids = _haproxies(stix_home)
        assert len(pids) == 1
        processes.kill_now(pids, 5.0)
        changes = preview_balancer(session, spec)
        assert [change.op for change in changes.changes if change.type.endswith("LoadBalancer")
                and "haproxy" in change.name] == ["create"]
        again = apply_balancer(session, spec)
        assert again.endpoint == first.endpoint
        assert _haproxies(stix_home) and not (_haproxies(stix_home) & pids)
        assert _get(again.endpoint)[0] == 503  # answering again (no servers yet)
    finally:
        destroy_balancer(session, "drifty")
    assert not _haproxies(stix_home)
    destroy_balancer(session, "drifty")  # idempotent: already gone
    destroy_balancer(session, "never-made")


def test_tls_from_the_tasks_certificate(stix_home, engine, tmp_path, replicas):
    from stix.serve.lb_stack import apply_balancer, balancer_from, destroy_balancer

    certfile, keyfile = self_signed(tmp_path)
    home = StixHome(stix_home)
    session = Session(home)
    info = apply_balancer(session, BalancerSpec("secure", "local", "local", 8080, tls_certfile=str(certfile),
                                                tls_keyfile=str(keyfile)))
    try:
        balancer_from(home, _record(home, tmp_path, "secure", info)).set_backends([replicas[0].backend])
        context = ssl.create_default_context(cafile=str(certfile))
        assert _get(info.endpoint, "/", context) == (200, "replica-1")
        with pytest.raises(ssl.SSLError):
            _get(info.endpoint, "/", ssl.create_default_context())  # a client that does not trust it refuses
        pem = Path(info.outputs["state_dir"]) / "tls.pem"
        assert os.stat(pem).st_mode & 0o777 == 0o600
        state = stix_home / "state" / ".pulumi" / "stacks" / "stix-serve" / "secure.json"
        key_body = keyfile.read_text().splitlines()[1]
        assert state.is_file() and key_body not in state.read_text()  # the key's path is in state, never the key
    finally:
        destroy_balancer(session, "secure")
    assert not _haproxies(stix_home)
