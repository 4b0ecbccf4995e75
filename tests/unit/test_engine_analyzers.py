"""The built-in policy pack served from stix's process (stix.engine.analyzers), and the shim that hands it over."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import grpc
import pytest

from stix.engine import analyzers
from stix.engine.workspace import ANALYZER_SHIM
from stix.policy.packs import BUILTIN_PACK


@pytest.fixture(autouse=True)
def switched_on(monkeypatch):
    for name in analyzers.OFF_ENVS:
        monkeypatch.delenv(name, raising=False)


ARGS = ["preview", "--policy-pack", str(BUILTIN_PACK), "--policy-pack-config", "/c.json"]


def test_an_invocation_with_the_builtin_pack_gets_a_server_of_its_own_stopped_when_it_ends():
    with analyzers.serving(ARGS) as one, analyzers.serving(ARGS) as two:
        assert one[analyzers.SERVED_PACK_ENV] == str(BUILTIN_PACK.resolve())
        assert one[analyzers.SERVED_PORT_ENV] != two[analyzers.SERVED_PORT_ENV]  # two engine calls at once
        assert analyzers.SERVED_PORT_ENV not in os.environ
        port = int(one[analyzers.SERVED_PORT_ENV])
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_no_server_without_the_builtin_pack():
    with analyzers.serving(["preview", "--policy-pack", "/elsewhere/pack"]) as served:
        assert served == {}


@pytest.mark.parametrize("switch", analyzers.OFF_ENVS)
def test_it_can_be_turned_off(monkeypatch, switch):
    monkeypatch.setenv(switch, "1")
    with analyzers.serving(ARGS) as served:
        assert served == {}


def _stack_request(gpus: int):
    from google.protobuf import struct_pb2
    from pulumi.runtime.proto import analyzer_pb2

    props = struct_pb2.Struct()
    props.update({"plan": {"cluster": "c", "cloud": "local", "region": "local", "accelerators_per_node": gpus,
                           "num_nodes": 1}})
    return analyzer_pb2.AnalyzeStackRequest(resources=[analyzer_pb2.AnalyzerResource(
        type="pulumi:pulumi:Stack", urn="urn:pulumi:c::p::pulumi:pulumi:Stack::p-c", name="p-c", properties=props)])


def _configure(stub, limit: float) -> None:
    from google.protobuf import struct_pb2
    from pulumi.runtime.proto import analyzer_pb2

    properties = struct_pb2.Struct()
    properties.update({"limit": limit})
    config = analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.MANDATORY, properties=properties)
    stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={"max-gpus-per-cluster": config}), timeout=10)


def test_the_served_pack_blocks_as_its_process_would_with_each_invocations_own_config():
    """Two engine calls at once, each with its own config (Configure): each is checked against its own limits."""
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

    with analyzers.serving(ARGS) as strict_env, analyzers.serving(ARGS) as lenient_env, \
            grpc.insecure_channel(f"127.0.0.1:{strict_env[analyzers.SERVED_PORT_ENV]}") as strict, \
            grpc.insecure_channel(f"127.0.0.1:{lenient_env[analyzers.SERVED_PORT_ENV]}") as lenient:
        strict_stub, lenient_stub = (analyzer_pb2_grpc.AnalyzerStub(c) for c in (strict, lenient))
        info = strict_stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=10)
        assert info.name == "stix-guardrails" and "max-gpus-per-cluster" in {p.name for p in info.policies}
        _configure(strict_stub, 4)
        _configure(lenient_stub, 100)
        found = strict_stub.AnalyzeStack(_stack_request(gpus=8), timeout=10).diagnostics
        assert [(d.policyName, d.enforcementLevel) for d in found] == [("max-gpus-per-cluster", analyzer_pb2.MANDATORY)]
        assert "8" in found[0].message and "4" in found[0].message
        assert not lenient_stub.AnalyzeStack(_stack_request(gpus=8), timeout=10).diagnostics
        with pytest.raises(grpc.RpcError) as unimplemented:  # as the pack's process answers: the engine goes on
            strict_stub.Handshake(analyzer_pb2.AnalyzerHandshakeRequest(engine_address="127.0.0.1:1"), timeout=10)
        assert unimplemented.value.code() == grpc.StatusCode.UNIMPLEMENTED


def _run_shim(cwd: Path, env: dict[str, str], tmp_path: Path) -> subprocess.Popen:
    shim = tmp_path / "pulumi-analyzer-policy-python"
    shim.write_text(ANALYZER_SHIM)
    shim.chmod(0o755)
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\necho \"python $*\"\n")
    fake_python.chmod(0o755)
    return subprocess.Popen([str(shim), "127.0.0.1:1", "."], cwd=cwd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            env={"PATH": os.environ["PATH"], "PULUMI_PYTHON_CMD": str(fake_python), **env})


def test_the_shim_prints_the_served_port_in_the_builtin_pack_and_waits_for_the_engine(tmp_path):
    env = {analyzers.SERVED_PORT_ENV: "4321", analyzers.SERVED_PACK_ENV: str(BUILTIN_PACK.resolve())}
    shim = _run_shim(BUILTIN_PACK, env, tmp_path)
    assert shim.stdout is not None and shim.stdout.readline() == "4321\n"
    assert shim.poll() is None, "the plugin must live until the engine ends it"
    shim.stdin.close()  # the engine is gone
    assert shim.wait(timeout=10) == 0 and shim.stdout.read() == "", "no python was started"


def test_the_shim_starts_python_for_any_other_pack(tmp_path):
    other = tmp_path / "pack"
    other.mkdir()
    env = {analyzers.SERVED_PORT_ENV: "4321", analyzers.SERVED_PACK_ENV: str(BUILTIN_PACK.resolve())}
    shim = _run_shim(other, env, tmp_path)
    out, _ = shim.communicate(timeout=10)
    assert out == "python -u .\n"
    shim = _run_shim(BUILTIN_PACK, {}, tmp_path)  # not served (turned off): the pack's own process
    out, _ = shim.communicate(timeout=10)
    assert out == "python -u .\n"
