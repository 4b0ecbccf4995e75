"""GcpServiceBalancer: a service's regional external Application Load Balancer whose backend is a regional
internet NEG of the ready replicas (host:port each, reached at their public addresses), HTTP health-checked at
the readiness path (TCP where the spec gives none), in a network of its own holding only its proxy-only subnet.

An internet NEG takes any reachable address, so the replicas' own networks need no peering; the replicas admit
the replica port (resources.ports), not this network. Only resources that take labels carry them; the others
name the service in their description.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_gcp as gcp

from stix.components.gcp import plan
from stix.components.serving import listen_port, refuse_tls, service_labels, split_target, stack_outputs
from stix.serve.balancer import BalancerSpec

PROXY_SUBNET_CIDR = "10.31.0.0/23"
LOCALITY_POLICIES = {"round_robin": "ROUND_ROBIN", "least_load": "LEAST_REQUEST",
                     "instance_aware_least_load": "LEAST_REQUEST"}


@dataclass(frozen=True)
class GcpServiceBalancerArgs:
    spec: BalancerSpec


def labels(spec: BalancerSpec, role: str) -> dict[str, str]:
    return {plan.label_key(k): plan.label_value(v) for k, v in service_labels(spec, role).items()}


def target_key(host: str, port: int) -> str:
    return f"{plan.label_value(host.replace('.', '-').replace(':', '-'))}-{port}"


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class GcpServiceBalancer(pulumi.ComponentResource):
    def __init__(self, name: str, args: GcpServiceBalancerArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:gcp:ServiceBalancer", name, None, opts)
        spec = args.spec
        refuse_tls(spec, "gcp")
        targets = [split_target(target) for target in spec.targets]
        port = listen_port(spec)
        region = spec.region
        about = f"stix service {spec.service}"
        child = pulumi.ResourceOptions(parent=self)
        network = gcp.compute.Network(f"{name}-net", auto_create_subnetworks=False, description=about, opts=child)
        proxies = gcp.compute.Subnetwork(
            f"{name}-proxy-subnet", region=region, network=network.id, ip_cidr_range=PROXY_SUBNET_CIDR,
            purpose="REGIONAL_MANAGED_PROXY", role="ACTIVE", description=about, opts=child)
        group = gcp.compute.RegionNetworkEndpointGroup(
            f"{name}-neg", region=region, network=network.id, network_endpoint_type="INTERNET_IP_PORT",
            description=about, opts=child)
        for host, target_port in targets:
            address = {"ip_address": host} if is_ip(host) else {"fqdn": host}
            gcp.compute.RegionNetworkEndpoint(
                f"{name}-target-{target_key(host, target_port)}", region=region,
                region_network_endpoint_group=group.name, port=target_port, **address, opts=child)
        check = gcp.compute.RegionHealthCheck(
            f"{name}-health", region=region, check_interval_sec=10, timeout_sec=5, description=about,
            http_health_check=gcp.compute.RegionHealthCheckHttpHealthCheckArgs(
                port_specification="USE_SERVING_PORT", request_path=spec.health_path) if spec.health_path else None,
            tcp_health_check=None if spec.health_path else gcp.compute.RegionHealthCheckTcpHealthCheckArgs(
                port_specification="USE_SERVING_PORT"),
            opts=child)
        backend = gcp.compute.RegionBackendService(
            f"{name}-backend", region=region, protocol="HTTP", load_balancing_scheme="EXTERNAL_MANAGED",
            health_checks=check.id, locality_lb_policy=LOCALITY_POLICIES.get(spec.policy, "ROUND_ROBIN"),
            timeout_sec=int(spec.stream_timeout_s) if spec.stream_timeout_s else None, description=about,
            backends=[gcp.compute.RegionBackendServiceBackendArgs(group=group.id, balancing_mode="UTILIZATION",
                                                                  capacity_scaler=1.0)],
            opts=child)
        routes = gcp.compute.RegionUrlMap(f"{name}-urls", region=region, default_service=backend.id,
                                          description=about, opts=child)
        proxy = gcp.compute.RegionTargetHttpProxy(f"{name}-proxy", region=region, url_map=routes.id,
                                                  description=about, opts=child)
        address = gcp.compute.Address(f"{name}-ip", region=region, network_tier="STANDARD",
                                      labels=labels(spec, "load-balancer"), description=about, opts=child)
        self.rule = gcp.compute.ForwardingRule(
            f"{name}-rule", region=region, ip_protocol="TCP", port_range=str(port),
            load_balancing_scheme="EXTERNAL_MANAGED", target=proxy.id, network=network.id, network_tier="STANDARD",
            ip_address=address.id, labels=labels(spec, "load-balancer"), description=about,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[proxies]))
        self.endpoint = self.rule.ip_address.apply(lambda ip: f"{ip}:{port}")
        self.outputs = stack_outputs(spec)
        self.register_outputs({"endpoint": self.endpoint})
