"""The Kubernetes service balancer under Pulumi's mocks: a LoadBalancer Service selecting the replicas' pods by
the label every replica carries."""

from __future__ import annotations

import dataclasses
import pulumi
import pytest

from stix.components.base import ServiceBalancers, cloud_for
from stix.errors import UsageError
from stix.serve.balancer import BalancerSpec
from tests.components.mocks import StrictMocks, run_program


def balancer_spec(**changes) -> BalancerSpec:
    fields = dict(service="chat", cloud="kubernetes", region="my-context", replica_port=8080, health_path="/health",
                  labels=(("team", "ml"),))
    return BalancerSpec(**{**fields, **changes})


def deploy(spec: BalancerSpec, targets=("10.96.0.5:8080",)) -> tuple[StrictMocks, str]:
    mocks = StrictMocks()
    spec = dataclasses.replace(spec, targets=tuple(targets))
    # As the service's stack program (stix.engine.program.deploy_balancer) declares it.
    endpoint = run_program(
        lambda: cloud_for("kubernetes").make_service_balancer(spec, pulumi.ResourceOptions()).endpoint, mocks)
    return mocks, endpoint


def test_kubernetes_is_a_service_balancer_cloud():
    assert issubclass(cloud_for("kubernetes"), ServiceBalancers)


def test_a_load_balancer_service_on_the_service_port_selects_the_replicas_by_their_service_label():
    mocks, endpoint = deploy(balancer_spec(listen_port=8000))
    service = mocks.one("kubernetes:core/v1:Service").inputs
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["selector"] == {"stix-service": "chat"}
    assert [(p["port"], p["targetPort"], p["protocol"]) for p in service["spec"]["ports"]] == [(8000, 8080, "TCP")]
    assert service["metadata"]["name"] == "chat-service"
    assert endpoint.startswith("192.0.2.") and endpoint.endswith(":8000")
    assert mocks.one("pulumi:providers:kubernetes").inputs["context"] == "my-context"


def test_the_service_carries_the_service_name_and_admits_any_source_on_its_port_only():
    mocks, _ = deploy(balancer_spec())
    service = mocks.one("kubernetes:core/v1:Service").inputs
    assert service["metadata"]["labels"] == {"team": "ml", "stix-service": "chat", "stix-role": "load-balancer"}
    assert [p["port"] for p in service["spec"]["ports"]] == [80]
    assert "loadBalancerSourceRanges" not in service["spec"]
    assert [r.type for r in mocks.resources if not r.type.startswith(("stix:", "pulumi:"))] == [
        "kubernetes:core/v1:Service"]


def test_a_service_name_is_made_a_valid_label_value_and_object_name():
    mocks, _ = deploy(balancer_spec(service="my_service.v2"))
    service = mocks.one("kubernetes:core/v1:Service").inputs
    assert service["spec"]["selector"] == {"stix-service": "my_service.v2"}
    assert service["metadata"]["name"] == "my-service-v2-service"


def test_tls_is_refused_in_one_line():
    spec = balancer_spec(tls_certfile="/tmp/cert.pem", tls_keyfile="/tmp/key.pem")
    with pytest.raises(UsageError, match=r"^not supported yet: service.tls on kubernetes \(TLS is served on the local"):
        cloud_for("kubernetes").check_service_balancer(spec)  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="service.tls on kubernetes"):
        deploy(spec)
