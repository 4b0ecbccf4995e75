"""Policies every cloud's service balancer (stix serve) must satisfy, checked over everything the mocks recorded:
the world reaches the service's port and nothing else, no SSH, every resource names the service, one provider in
the service's region, children named after the component."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from stix.engine.program import deploy_balancer
from stix.serve.balancer import BalancerSpec
from stix.serve.cloud_balancer import spec_from
from tests.components.mocks import StrictMocks, reveal, run_program
from tests.components.test_policies import COMPONENT_PREFIX, UNTAGGABLE, WORLD, open_ports

REGIONS = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus", "kubernetes": "my-context"}
TARGETS = ("10.0.0.5:8080", "10.0.0.6:8080")
PORT = 8000
# GCP resources of the balancer whose API has no labels field (they carry the service in their description).
DESCRIBED = {
    "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup",
    "gcp:compute/regionNetworkEndpoint:RegionNetworkEndpoint", "gcp:compute/regionUrlMap:RegionUrlMap",
    "gcp:compute/regionTargetHttpProxy:RegionTargetHttpProxy",
}


def run_stack(spec: BalancerSpec, mocks: StrictMocks) -> dict[str, Any]:
    """The service's stack program (stix.engine.program.deploy_balancer) under the mocks; what it exports."""
    exported: dict[str, Any] = {}
    real = pulumi.export
    pulumi.export = lambda key, value: exported.__setitem__(key, value)  # type: ignore[assignment]
    try:
        return run_program(lambda: (deploy_balancer(spec), exported)[1], mocks)
    finally:
        pulumi.export = real  # type: ignore[assignment]


@pytest.fixture(params=sorted(REGIONS))
def service_stack(request):
    cloud = request.param
    spec = BalancerSpec(service="chat", cloud=cloud, region=REGIONS[cloud], replica_port=8080, listen_port=PORT,
                        health_path="/ready", labels=(("team", "ml"),), targets=TARGETS)
    mocks = StrictMocks()
    outputs = run_stack(spec, mocks)
    return cloud, spec, mocks, outputs["endpoint"]


def test_the_stack_exports_what_the_controller_applies_again(service_stack):
    cloud, spec, _, _ = service_stack
    outputs = run_stack(spec, StrictMocks())
    assert (outputs["service"], outputs["cloud"]) == ("chat", cloud)
    assert spec_from(outputs["spec"]) == spec


def world_ports(cloud: str, mocks: StrictMocks) -> set[int]:
    """Ports anyone may connect to: firewall rules open to the world, and the balancers' own listeners."""
    ports = {port for low, high, sources in open_ports(cloud, mocks) if set(sources) & set(WORLD)
             for port in range(int(low), int(high) + 1)}
    for rule in mocks.of_type("gcp:compute/forwardingRule:ForwardingRule"):
        low, _, high = rule.inputs["portRange"].partition("-")
        ports |= set(range(int(low), int(high or low) + 1))
    for balancer in mocks.of_type("azure-native:network:LoadBalancer"):
        ports |= {rule["frontendPort"] for rule in balancer.inputs["loadBalancingRules"]}
        ports |= {rule["frontendPort"] for rule in balancer.inputs.get("inboundNatRules", [])}
    for listener in mocks.of_type("aws:lb/listener:Listener"):
        ports.add(int(listener.inputs["port"]))
    return ports


def test_the_world_reaches_the_service_port_only(service_stack):
    cloud, spec, mocks, endpoint = service_stack
    assert world_ports(cloud, mocks) == {PORT}, cloud
    assert endpoint.endswith(f":{PORT}")


def test_no_ssh_rule(service_stack):
    cloud, spec, mocks, _ = service_stack
    assert not any(low <= 22 <= high for low, high, _ in open_ports(cloud, mocks)), cloud


def test_every_resource_carries_the_service(service_stack):
    cloud, spec, mocks, _ = service_stack
    for resource in mocks.resources:
        if resource.type.startswith(COMPONENT_PREFIX) or resource.type.startswith("pulumi:providers:"):
            continue
        inputs = resource.inputs
        if resource.type in UNTAGGABLE | DESCRIBED:
            if resource.type.startswith("gcp:") and "description" in inputs:
                assert inputs["description"] == "stix service chat", resource.name
            continue
        metadata = reveal(inputs.get("metadata")) or {}
        candidates = (inputs.get("tags"), inputs.get("labels"), metadata.get("labels"))
        tags = next((c for c in candidates if isinstance(c, dict)), None)
        assert isinstance(tags, dict) and tags.get("stix-service") == "chat", f"{cloud}: {resource.type} untagged"
        assert tags.get("team") == "ml" and "stix-cluster" not in tags, f"{cloud}: {resource.name}"


def test_one_provider_in_the_services_region_and_children_named_after_the_component(service_stack):
    cloud, spec, mocks, _ = service_stack
    providers = [r for r in mocks.resources if r.type.startswith("pulumi:providers:")]
    assert len(providers) == 1
    assert spec.region in (providers[0].inputs.get(key) for key in ("region", "location", "context"))
    for resource in mocks.resources:
        if resource is providers[0]:
            continue
        assert resource.name.startswith("service-lb"), resource.name
        assert "chat" not in resource.name, f"{resource.name}: logical names must not derive from user fields"
        if not resource.type.startswith(COMPONENT_PREFIX):
            assert resource.provider and resource.provider.split("::")[-1].startswith(providers[0].name), resource.name


def test_the_readiness_path_is_the_health_check_where_the_cloud_checks(service_stack):
    cloud, spec, mocks, _ = service_stack
    paths = {
        "aws": lambda: [mocks.one("aws:lb/targetGroup:TargetGroup").inputs["healthCheck"]["path"]],
        "gcp": lambda: [mocks.one("gcp:compute/regionHealthCheck:RegionHealthCheck")
                        .inputs["httpHealthCheck"]["requestPath"]],
        "azure": lambda: [p["requestPath"] for p in mocks.one("azure-native:network:LoadBalancer").inputs["probes"]],
        # Kubernetes routes to pods whose own readiness probe passes: the Service has no check of its own.
        "kubernetes": lambda: ["/ready"],
    }[cloud]()
    assert paths == ["/ready"]
