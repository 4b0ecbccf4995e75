"""GcpLoadBalancer: a regional external forwarding rule to a TCP backend service, health-checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_gcp as gcp

from stix.components.gcp import plan
from stix.spec import ClusterSpec


@dataclass(frozen=True)
class GcpLoadBalancerArgs:
    spec: ClusterSpec
    network_id: pulumi.Input[str]
    instance_links: Sequence[pulumi.Input[str]]


class GcpLoadBalancer(pulumi.ComponentResource):
    def __init__(self, name: str, args: GcpLoadBalancerArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:gcp:LoadBalancer", name, None, opts)
        spec = args.spec
        port = spec.load_balancer_port
        child = pulumi.ResourceOptions(parent=self)
        check = gcp.compute.RegionHealthCheck(
            f"{name}-health", region=spec.region, check_interval_sec=10, timeout_sec=5,
            tcp_health_check=gcp.compute.RegionHealthCheckTcpHealthCheckArgs(port=port), opts=child)
        group = gcp.compute.InstanceGroup(
            f"{name}-group", zone=spec.zone, instances=list(args.instance_links),
            named_ports=[gcp.compute.InstanceGroupNamedPortArgs(name="service", port=port)], opts=child)
        backend = gcp.compute.RegionBackendService(
            f"{name}-backend", region=spec.region, protocol="TCP", load_balancing_scheme="EXTERNAL",
            health_checks=check.id,
            backends=[gcp.compute.RegionBackendServiceBackendArgs(group=group.self_link, balancing_mode="CONNECTION")],
            opts=child)
        gcp.compute.Firewall(
            f"{name}-health-checkers", network=args.network_id, direction="INGRESS",
            allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=[str(port)])],
            source_ranges=list(plan.HEALTH_CHECK_RANGES), target_tags=[plan.network_tag(spec)],
            description="Google health checkers", opts=child)
        self.rule = gcp.compute.ForwardingRule(
            f"{name}-rule", region=spec.region, ip_protocol="TCP", port_range=str(port),
            load_balancing_scheme="EXTERNAL", backend_service=backend.id, labels=plan.labels(spec, "load-balancer"),
            opts=child)
        self.endpoint = self.rule.ip_address.apply(lambda ip: f"{ip}:{port}")
        self.register_outputs({"endpoint": self.endpoint})
