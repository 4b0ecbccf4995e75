"""HAProxy's config as stix renders it (checked by the real haproxy -c), and the runtime API client against a real
HAProxy started here (no engine): idempotent adds and removes, a socket that answers late."""

from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest

from stix import processes
from stix.errors import ProvisionError
from stix.serve.balancer import Backend
from stix.serve.haproxy import (HaproxyBalancer, HaproxyConfig, Runtime, drain_timeout, find_haproxy, pem_of,
                                render_config)
from tests.certificates import self_signed
from tests.polling import wait_for


def _config(tmp_path: Path, **fields) -> HaproxyConfig:
    return HaproxyConfig("127.0.0.1", 18080, str(tmp_path / "admin.sock"), **fields)


def _valid(tmp_path: Path, text: str) -> None:
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    result = subprocess.run([find_haproxy(), "-c", "-f", str(path)], capture_output=True, text=True, timeout=30,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_round_robin_by_default_with_a_tcp_check_and_generous_timeouts(tmp_path):
    text = render_config(_config(tmp_path))
    assert "    balance roundrobin" in text
    assert "httpchk" not in text
    assert "    timeout connect 5s" in text
    assert "    timeout client 3600000ms" in text and "    timeout server 3600000ms" in text
    assert "    option redispatch" in text and "    retries 3" in text
    assert "    timeout check 10000ms" in text  # not the 1 s check interval
    assert "    bind 127.0.0.1:18080\n" in text
    assert f"    stats socket {tmp_path}/admin.sock mode 600 level admin\n" in text
    _valid(tmp_path, text)


def test_least_load_is_leastconn_and_the_readiness_path_is_the_health_check(tmp_path):
    text = render_config(_config(tmp_path, policy="least_load", health_path="/health", stream_timeout_s=42.5))
    assert "    balance leastconn" in text
    assert "    option httpchk GET /health" in text
    assert "    timeout client 42500ms" in text and "    timeout server 42500ms" in text
    _valid(tmp_path, text)
    text = render_config(_config(tmp_path, health_path="/health", check_timeout_s=15.0))
    assert "    timeout check 15000ms" in text  # the readiness probe's timeout
    _valid(tmp_path, text)


def test_tls_binds_with_the_certificate_and_key_in_one_file(tmp_path):
    certfile, keyfile = self_signed(tmp_path)
    pem = tmp_path / "tls.pem"
    pem.write_bytes(pem_of(str(certfile), str(keyfile)))
    assert pem.read_text().index("BEGIN CERTIFICATE") < pem.read_text().index("PRIVATE KEY")
    text = render_config(_config(tmp_path, tls_pem="tls.pem"))
    assert "    bind 127.0.0.1:18080 ssl crt tls.pem\n" in text
    _valid(tmp_path, text)  # found beside the config: HAProxy runs in its state directory


def test_an_unreadable_certificate_is_one_line(tmp_path):
    with pytest.raises(ProvisionError, match=r"service TLS: cannot read .*missing.pem"):
        pem_of(str(tmp_path / "missing.pem"), str(tmp_path / "missing.pem"))


def test_an_unknown_policy_is_refused(tmp_path):
    with pytest.raises(ValueError, match="load_balancing_policy 'random'"):
        render_config(_config(tmp_path, policy="random"))


@pytest.mark.parametrize("path", ["/tmp/a b/admin.sock", "/tmp/$HOME/admin.sock", "/tmp/a\nglobal/admin.sock",
                                  '/tmp/"a"/admin.sock'])
def test_a_path_haproxy_would_read_otherwise_is_refused(path):
    with pytest.raises(ValueError, match="not a path HAProxy's config can hold"):
        render_config(HaproxyConfig("127.0.0.1", 1, path))


def test_the_readiness_path_cannot_add_config_lines(tmp_path):
    text = render_config(_config(tmp_path, health_path="/ready now\n    stats enable #x"))
    assert "    option httpchk GET /ready%20now%0A%20%20%20%20stats%20enable%20%23x\n" in text
    assert "stats enable" not in text
    assert "    option httpchk GET /v1/health?full=1\n" in render_config(_config(tmp_path, health_path="v1/health?full=1"))
    _valid(tmp_path, text)


def test_drain_waits_at_least_the_stream_timeout():
    assert drain_timeout(None) == 120.0
    assert drain_timeout(900.0) == 900.0


@pytest.fixture
def running(tmp_path: Path) -> Iterator[HaproxyBalancer]:
    admin = tmp_path / "admin.sock"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tmp_path / "haproxy.cfg"
    path.write_text(render_config(HaproxyConfig("127.0.0.1", port, str(admin))))
    proc = subprocess.Popen([find_haproxy(), "-db", "-f", str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(admin.exists, 10, "HAProxy's admin socket")
        yield HaproxyBalancer(str(admin), health_checks=False)
    finally:
        processes.terminate({proc.pid}, 5.0)
        proc.wait(timeout=5)


def test_adding_twice_is_one_server_and_removing_a_gone_one_is_fine(running):
    a, b = Backend("replica-1", "127.0.0.1", 9001), Backend("replica-2", "127.0.0.1", 9002)
    running.set_backends([a, b])
    running.set_backends([a, b])
    assert running.backends() == ["replica-1", "replica-2"]
    servers = running.runtime.servers()
    assert (servers["replica-1"].address, servers["replica-1"].port) == ("127.0.0.1", 9001)
    assert not servers["replica-1"].admin_maint
    running.runtime.remove_server("replica-1")
    running.runtime.remove_server("replica-1")
    running.runtime.drain("replica-1")
    assert running.backends() == ["replica-2"]
    moved = Backend("replica-2", "127.0.0.1", 9003)  # same name, another address: replaced
    running.set_backends([moved])
    assert running.runtime.servers()["replica-2"].port == 9003
    assert [row["req_tot"] for row in running.runtime.stats() if row["svname"] == "replica-2"] == ["0"]
    running.runtime.drain("replica-2")
    assert running.runtime.servers()["replica-2"].draining
    running.set_backends([moved])  # a removal cut short (draining, or in maintenance) is taken back
    assert not running.runtime.servers()["replica-2"].draining
    running.runtime.command("set server replicas/replica-2 state maint")
    assert running.runtime.servers()["replica-2"].admin_maint
    running.set_backends([moved])
    assert not running.runtime.servers()["replica-2"].admin_maint
    running.set_backends([])
    assert running.backends() == []
    assert running.requests_total() == 0


def test_a_socket_that_answers_late_is_waited_for_and_one_that_never_does_is_one_line(tmp_path):
    path = tmp_path / "late.sock"

    def serve_later() -> None:
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(path))
            server.listen(1)
            conn, _ = server.accept()
            with conn:
                conn.recv(100)
                conn.sendall(b"Name: HAProxy\n")

    later = threading.Timer(0.3, serve_later)
    later.start()
    try:
        assert Runtime(str(path), retry_s=10).command("show info") == "Name: HAProxy\n"
    finally:
        later.join(timeout=10)
    with pytest.raises(ProvisionError, match=r"admin socket .*never.sock does not answer"):
        Runtime(str(tmp_path / "never.sock"), retry_s=0.2).command("show info")
    (tmp_path / "plain-file").write_text("")
    with pytest.raises(ProvisionError, match=r"admin socket .*plain-file/admin.sock: .*Not a directory"):
        Runtime(str(tmp_path / "plain-file" / "admin.sock"), retry_s=30).command("show info")  # at once


class BusyRuntime(Runtime):
    """HAProxy whose servers each serve a stream that never ends (until their sessions are shut down)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__("/nonexistent.sock")
        self.names = list(names)
        self.sent: list[str] = []

    def servers(self, backend: str = "replicas") -> dict:
        from stix.serve.haproxy import ServerState

        return {name: ServerState(name, "127.0.0.1", 9000, False, False, 1) for name in self.names}

    def command(self, line: str) -> str:
        self.sent.append(line)
        if line.startswith("del server "):
            self.names.remove(line.rsplit("/", 1)[1])
        return ""


def test_leaving_servers_are_drained_together_so_their_waits_overlap():
    import time

    balancer = HaproxyBalancer("/nonexistent.sock", health_checks=False, drain_timeout_s=0.4)
    balancer.runtime = BusyRuntime(["replica-1", "replica-2", "replica-3"])
    started = time.monotonic()
    balancer.set_backends([])
    assert time.monotonic() - started < 0.8  # one drain timeout, not three
    sent = balancer.runtime.sent
    drains = [i for i, line in enumerate(sent) if line.endswith("state drain")]
    assert len(drains) >= 3 and max(drains[:3]) < sent.index("shutdown sessions server replicas/replica-1")
    assert [line for line in sent if line.startswith("del server")] == [
        f"del server replicas/replica-{i}" for i in (1, 2, 3)]


def test_every_load_balancing_policy_of_the_schema_renders(tmp_path):
    from stix.models.service import LOAD_BALANCING

    for policy in LOAD_BALANCING:
        text = render_config(_config(tmp_path, policy=policy))
        assert "    balance roundrobin" in text if policy == "round_robin" else "    balance leastconn" in text
