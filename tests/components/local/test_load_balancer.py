"""The local cloud's service load balancer: its dynamic provider against a real HAProxy (no engine), and the
service's program under Pulumi's mocks."""

from __future__ import annotations

import http.client
from pathlib import Path

import pulumi
import pytest

from stix import processes
from stix.components.base import ServiceBalancers, cloud_for
from stix.components.local import Local
from stix.components.local.load_balancer import BalancerPaths, LocalLoadBalancerProvider, is_ours
from stix.engine.program import balancer_program
from stix.serve.balancer import BalancerSpec
from stix.serve.haproxy import HaproxyBalancer
from tests.components.mocks import StrictMocks, run_program


def _props(root: Path, **changes) -> dict:
    return {"service": "echo", "state_dir": str(root / "balancers" / "echo"), "log": str(root / "logs" / "lb.log"),
            "listen_port": 0, "policy": "least_load", "health_path": "/ready", "stream_timeout_s": 0.0,
            "tls_certfile": "", "tls_keyfile": "", "health_timeout_s": 0.0, **changes}


def _status(endpoint: str) -> int:
    host, port = endpoint.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status
    finally:
        conn.close()


def test_create_read_drift_and_delete(stix_home):
    provider = LocalLoadBalancerProvider()
    props = _props(stix_home)
    created = provider.create(props)
    try:
        outs = created.outs
        assert created.id == props["state_dir"] and outs["endpoint"] == f"127.0.0.1:{outs['port']}"
        assert _status(outs["endpoint"]) == 503  # HAProxy answers; no server is ready yet
        config = Path(outs["config"]).read_text()
        assert "balance leastconn" in config and "option httpchk GET /ready" in config
        assert oct(Path(props["state_dir"]).stat().st_mode & 0o777) == "0o700"
        read = provider.read(created.id, outs)
        assert read.id == created.id and read.inputs == {key: props[key] for key in props}
        assert not provider.diff(created.id, read.inputs, props).changes
        assert provider.diff(created.id, read.inputs, {**props, "policy": "round_robin"}).replaces == ["policy"]
        assert not is_ours(outs["pid"], outs["started"] + 1, Path(outs["config"]))  # a pid reused by another start

        processes.kill_now({outs["pid"]}, 5.0)
        assert provider.read(created.id, outs).id is None  # drift: its process is gone
        again = provider.create(props)  # what the next `up` does
        assert again.outs["port"] == outs["port"] and again.outs["pid"] != outs["pid"]
        assert _status(again.outs["endpoint"]) == 503
        outs = again.outs
        assert "-db" in Path(f"/proc/{outs['pid']}/cmdline").read_bytes().decode().split("\0")
        assert Path(props["log"]).exists()
    finally:
        provider.delete(created.id, outs)
    assert not processes.alive(outs["pid"])
    assert not Path(outs["admin_socket"]).exists()
    provider.delete(created.id, outs)  # already gone: fine


def test_a_long_state_directory_keeps_its_socket_under_the_cache(tmp_path):
    short = BalancerPaths(tmp_path / "b")
    assert short.admin_socket == tmp_path / "b" / "admin.sock"
    deep = BalancerPaths(tmp_path / ("d" * 120))
    assert deep.admin_socket.name.endswith(".sock") and len(str(deep.admin_socket)) <= 90
    assert deep.admin_socket == BalancerPaths(tmp_path / ("d" * 120)).admin_socket  # the same every time


def test_a_port_that_cannot_be_bound_is_one_line(stix_home):
    import socket

    from stix.errors import ProvisionError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(ProvisionError, match=rf"HAProxy for service echo did not start on 127.0.0.1:{port}"):
            LocalLoadBalancerProvider().create(_props(stix_home, listen_port=port))
    from stix.components.local import sshd

    assert not sshd.processes_under(stix_home)


def test_the_service_program_declares_one_balancer_and_exports_what_drives_it(tmp_path, monkeypatch):
    spec = BalancerSpec("echo", "local", "local", 8080, policy="least_load", state_dir=str(tmp_path / "b"),
                        log=str(tmp_path / "lb.log"), health_path="/ready", stream_timeout_s=600.0,
                        health_timeout_s=15.0)
    mocks = StrictMocks()
    exported: dict = {}
    monkeypatch.setattr(pulumi, "export", lambda key, value: exported.__setitem__(key, value))
    run_program(balancer_program(spec), mocks)
    made = [r for r in mocks.resources if r.name == "balancer-haproxy"]
    assert len(made) == 1
    inputs = made[0].inputs
    assert (inputs["service"], inputs["policy"], inputs["health_path"], inputs["state_dir"], inputs["log"]) == (
        "echo", "least_load", "/ready", str(tmp_path / "b"), str(tmp_path / "lb.log"))
    assert inputs["stream_timeout_s"] == 600.0 and inputs["health_timeout_s"] == 15.0
    assert {"service", "cloud", "endpoint", "admin_socket", "log", "state_dir", "drain_timeout_s"} <= set(exported)
    assert exported["drain_timeout_s"] == 600.0


def test_local_drives_its_balancer_from_the_recorded_outputs(stix_home):
    from stix.home import StixHome

    assert issubclass(Local, ServiceBalancers)
    driver = Local.balancer_driver(StixHome(stix_home), {"admin_socket": "/x/admin.sock", "drain_timeout_s": 300.0})
    assert isinstance(driver, HaproxyBalancer) and driver.drain_timeout_s == 300.0


def test_a_cloud_without_service_balancers_is_refused(tmp_path):
    assert not issubclass(cloud_for("ssh"), ServiceBalancers)
    spec = BalancerSpec("echo", "ssh", "pool", 8080)
    with pytest.raises(Exception, match="ssh has no service load balancer"):
        run_program(balancer_program(spec), StrictMocks())
