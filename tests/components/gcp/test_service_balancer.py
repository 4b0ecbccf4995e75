"""The GCP service balancer under Pulumi's mocks: a regional external Application Load Balancer in front of an
internet NEG of the replicas."""

from __future__ import annotations

import dataclasses
import json

import pulumi
import pytest

from stix.components.base import ServiceBalancers, cloud_for
from stix.errors import UsageError
from stix.serve.balancer import BalancerSpec
from tests.components.mocks import StrictMocks, run_program

TARGETS = ("203.0.113.5:8080", "203.0.113.6:8080")


def balancer_spec(**changes) -> BalancerSpec:
    fields = dict(service="chat", cloud="gcp", region="us-central1", replica_port=8080, health_path="/health",
                  labels=(("team", "ml"),))
    return BalancerSpec(**{**fields, **changes})


def deploy(spec: BalancerSpec, targets=TARGETS) -> tuple[StrictMocks, str]:
    mocks = StrictMocks()
    spec = dataclasses.replace(spec, targets=tuple(targets))
    # As the service's stack program (stix.engine.program.deploy_balancer) declares it.
    endpoint = run_program(
        lambda: cloud_for("gcp").make_service_balancer(spec, pulumi.ResourceOptions()).endpoint, mocks)
    return mocks, endpoint


def test_gcp_is_a_service_balancer_cloud():
    assert issubclass(cloud_for("gcp"), ServiceBalancers)


def test_the_forwarding_rule_listens_on_the_service_port_only():
    mocks, endpoint = deploy(balancer_spec(listen_port=8000))
    rule = mocks.one("gcp:compute/forwardingRule:ForwardingRule")
    assert rule.inputs["portRange"] == "8000" and rule.inputs["loadBalancingScheme"] == "EXTERNAL_MANAGED"
    assert rule.inputs["target"] == "service-lb-proxy-id"
    assert rule.inputs["ipAddress"] == "service-lb-ip-id"  # the reserved address
    assert endpoint.startswith("198.51.100.") and endpoint.endswith(":8000")  # the rule's address, as the mocks give it
    assert mocks.one("gcp:compute/regionUrlMap:RegionUrlMap").inputs["defaultService"] == "service-lb-backend-id"
    assert mocks.one("pulumi:providers:gcp").inputs["region"] == "us-central1"


def test_targets_are_internet_endpoints_health_checked_at_the_readiness_path():
    mocks, _ = deploy(balancer_spec())
    group = mocks.one("gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup")
    assert group.inputs["networkEndpointType"] == "INTERNET_IP_PORT"
    endpoints = mocks.of_type("gcp:compute/regionNetworkEndpoint:RegionNetworkEndpoint")
    assert sorted((e.inputs["ipAddress"], e.inputs["port"]) for e in endpoints) == [("203.0.113.5", 8080),
                                                                                    ("203.0.113.6", 8080)]
    assert {e.inputs["regionNetworkEndpointGroup"] for e in endpoints} == {"service-lb-neg"}
    check = mocks.one("gcp:compute/regionHealthCheck:RegionHealthCheck").inputs["httpHealthCheck"]
    assert check == {"portSpecification": "USE_SERVING_PORT", "requestPath": "/health"}
    backend = mocks.one("gcp:compute/regionBackendService:RegionBackendService")
    assert backend.inputs["healthChecks"] == "service-lb-health-id"
    assert [b["group"] for b in backend.inputs["backends"]] == ["service-lb-neg-id"]


def test_a_target_named_by_host_is_an_fqdn_endpoint():
    mocks, _ = deploy(balancer_spec(), ("replica-1.example.com:8080",))
    endpoint = mocks.one("gcp:compute/regionNetworkEndpoint:RegionNetworkEndpoint")
    assert endpoint.inputs["fqdn"] == "replica-1.example.com" and "ipAddress" not in endpoint.inputs


def test_a_changed_target_set_keeps_the_names_of_the_targets_that_stay():
    before, _ = deploy(balancer_spec(), TARGETS)
    after, _ = deploy(balancer_spec(), (TARGETS[1],))
    names = lambda mocks: {e.name for e in mocks.of_type("gcp:compute/regionNetworkEndpoint:RegionNetworkEndpoint")}
    assert names(after) == {"service-lb-target-203-0-113-6-8080"} and names(after) < names(before)


def test_the_policy_maps_to_the_backend_locality_policy():
    mocks, _ = deploy(balancer_spec(policy="least_load", stream_timeout_s=600))
    backend = mocks.one("gcp:compute/regionBackendService:RegionBackendService")
    assert backend.inputs["localityLbPolicy"] == "LEAST_REQUEST" and backend.inputs["timeoutSec"] == 600
    mocks, _ = deploy(balancer_spec())
    assert mocks.one("gcp:compute/regionBackendService:RegionBackendService").inputs["localityLbPolicy"] == "ROUND_ROBIN"


def test_resources_carry_the_service_name_and_no_firewall_is_opened():
    mocks, _ = deploy(balancer_spec())
    assert json.loads(mocks.one("pulumi:providers:gcp").inputs["defaultLabels"]) == {"stix-service": "chat"}
    for kind in ("gcp:compute/address:Address", "gcp:compute/forwardingRule:ForwardingRule"):
        assert mocks.one(kind).inputs["labels"] == {"team": "ml", "stix-service": "chat", "stix-role": "load-balancer"}
    described = [r for r in mocks.resources if not r.type.startswith(("stix:", "pulumi:"))
                 and r.type != "gcp:compute/regionNetworkEndpoint:RegionNetworkEndpoint"]
    assert len(described) == 9
    for resource in described:
        assert resource.inputs["description"] == "stix service chat", resource.name
    assert mocks.of_type("gcp:compute/firewall:Firewall") == []
    proxies = mocks.one("gcp:compute/subnetwork:Subnetwork")
    assert (proxies.inputs["purpose"], proxies.inputs["role"]) == ("REGIONAL_MANAGED_PROXY", "ACTIVE")


def test_tls_is_refused_in_one_line():
    spec = balancer_spec(tls_certfile="/tmp/cert.pem", tls_keyfile="/tmp/key.pem")
    with pytest.raises(UsageError, match=r"^not supported yet: service.tls on gcp \(TLS is served on the local"):
        cloud_for("gcp").check_service_balancer(spec)  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="service.tls on gcp"):
        deploy(spec)


def test_without_a_readiness_path_the_health_check_is_tcp():
    mocks, _ = deploy(balancer_spec(health_path=""))
    check = mocks.one("gcp:compute/regionHealthCheck:RegionHealthCheck").inputs
    assert check["tcpHealthCheck"] == {"portSpecification": "USE_SERVING_PORT"} and "httpHealthCheck" not in check
