"""The dynamic providers' server in stix's process: the engine attaches to it (PULUMI_DEBUG_PROVIDERS)."""

from __future__ import annotations

import os

import grpc

from stix.engine import providers


def test_the_engine_is_pointed_at_a_served_provider_and_os_environ_is_left_alone(monkeypatch):
    monkeypatch.delenv(providers.OFF_ENV, raising=False)
    env = providers.attach_env()
    name, port = env[providers.ATTACH_ENV].rsplit(":", 1)
    assert name == "pulumi-python" and providers.ATTACH_ENV not in os.environ
    assert providers.attach_env() == env  # one server per process

    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import provider_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = provider_pb2_grpc.ResourceProviderStub(channel)
        assert stub.GetPluginInfo(empty_pb2.Empty(), timeout=10).version
        from pulumi.runtime.proto import plugin_pb2

        stub.Attach(plugin_pb2.PluginAttach(address="127.0.0.1:1"), timeout=10)  # answered, not UNIMPLEMENTED


def test_it_can_be_turned_off(monkeypatch):
    monkeypatch.setenv(providers.OFF_ENV, "1")
    assert providers.attach_env() == {}
