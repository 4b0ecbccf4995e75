"""The Azure service balancer under Pulumi's mocks: a Standard load balancer whose pool is the replicas."""

from __future__ import annotations

import dataclasses
import pulumi
import pytest

from stix.components.base import ServiceBalancers, cloud_for
from stix.errors import UsageError
from stix.serve.balancer import BalancerSpec
from tests.components.mocks import StrictMocks, run_program

TARGETS = ("10.40.1.5:8080", "10.40.1.6:8080")


def balancer_spec(**changes) -> BalancerSpec:
    fields = dict(service="chat", cloud="azure", region="eastus", replica_port=8080, health_path="/health",
                  labels=(("team", "ml"),))
    return BalancerSpec(**{**fields, **changes})


def deploy(spec: BalancerSpec, targets=TARGETS) -> tuple[StrictMocks, str]:
    mocks = StrictMocks()
    spec = dataclasses.replace(spec, targets=tuple(targets))
    # As the service's stack program (stix.engine.program.deploy_balancer) declares it.
    endpoint = run_program(
        lambda: cloud_for("azure").make_service_balancer(spec, pulumi.ResourceOptions()).endpoint, mocks)
    return mocks, endpoint


def balancer(mocks: StrictMocks) -> dict:
    return mocks.one("azure-native:network:LoadBalancer").inputs


def test_azure_is_a_service_balancer_cloud():
    assert issubclass(cloud_for("azure"), ServiceBalancers)


def test_one_rule_on_the_service_port_to_the_replica_port():
    mocks, endpoint = deploy(balancer_spec(listen_port=8000))
    rules = balancer(mocks)["loadBalancingRules"]
    assert [(r["protocol"], r["frontendPort"], r["backendPort"]) for r in rules] == [("Tcp", 8000, 8080)]
    address = mocks.one("azure-native:network:PublicIPAddress")
    assert endpoint.endswith(":8000") and endpoint.startswith("192.0.2.")
    assert balancer(mocks)["frontendIPConfigurations"][0]["publicIPAddress"]["id"] == f"{address.name}-id"
    assert mocks.one("pulumi:providers:azure-native").inputs["location"] == "eastus"


def test_targets_are_the_pool_addresses_probed_over_http_at_the_readiness_path():
    mocks, _ = deploy(balancer_spec())
    inputs = balancer(mocks)
    [pool] = inputs["backendAddressPools"]
    addresses = pool["loadBalancerBackendAddresses"]
    assert sorted(a["ipAddress"] for a in addresses) == ["10.40.1.5", "10.40.1.6"]
    assert {a["virtualNetwork"]["id"] for a in addresses} == {"service-lb-vnet-id"}
    [probe] = inputs["probes"]
    assert (probe["protocol"], probe["port"], probe["requestPath"]) == ("Http", 8080, "/health")
    assert inputs["loadBalancingRules"][0]["probe"]["id"].endswith("/probes/readiness")


def test_a_changed_target_set_keeps_the_names_of_the_addresses_that_stay():
    before, _ = deploy(balancer_spec(), TARGETS)
    after, _ = deploy(balancer_spec(), (TARGETS[0], "10.40.1.7:8080"))
    names = lambda mocks: {a["name"] for a in balancer(mocks)["backendAddressPools"][0]["loadBalancerBackendAddresses"]}
    assert names(before) & names(after) == {"replica-10-40-1-5-8080"}


def test_targets_on_different_ports_are_refused():
    with pytest.raises(Exception, match=r"one backend port; the targets serve on \[8080, 9090\]"):
        deploy(balancer_spec(), ("10.40.1.5:8080", "10.40.1.6:9090"))


def test_every_resource_carries_the_service_name_and_nothing_else_is_opened():
    mocks, _ = deploy(balancer_spec())
    made = [r for r in mocks.resources if not r.type.startswith(("stix:", "pulumi:"))]
    assert len(made) == 4
    for resource in made:
        assert resource.inputs["tags"]["stix-service"] == "chat", resource.name
        assert resource.inputs["tags"]["team"] == "ml", resource.name
    assert mocks.of_type("azure-native:network:NetworkSecurityGroup") == []
    assert mocks.of_type("azure-native:network:InboundNatRule") == []
    assert "inboundNatRules" not in balancer(mocks) and "inboundNatPools" not in balancer(mocks)


def test_tls_is_refused_in_one_line():
    spec = balancer_spec(tls_certfile="/tmp/cert.pem", tls_keyfile="/tmp/key.pem")
    with pytest.raises(UsageError, match=r"^not supported yet: service.tls on azure \(TLS is served on the local"):
        cloud_for("azure").check_service_balancer(spec)  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="service.tls on azure"):
        deploy(spec)


def test_without_a_readiness_path_the_probe_is_tcp():
    mocks, _ = deploy(balancer_spec(health_path=""))
    [probe] = balancer(mocks)["probes"]
    assert probe["protocol"] == "Tcp" and "requestPath" not in probe
