"""KubernetesLoadBalancer: a LoadBalancer Service on one port; pods serve it only once their probe passes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from stix.components.kubernetes import plan
from stix.spec import ClusterSpec


@dataclass(frozen=True)
class KubernetesLoadBalancerArgs:
    spec: ClusterSpec


class KubernetesLoadBalancer(pulumi.ComponentResource):
    def __init__(self, name: str, args: KubernetesLoadBalancerArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:kubernetes:LoadBalancer", name, None, opts)
        spec = args.spec
        port = spec.load_balancer_port
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{spec.cluster}-service", namespace=plan.namespace(spec),
                                                labels=plan.labels(spec, "load-balancer")),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="LoadBalancer", selector=plan.selector(spec), external_traffic_policy="Local",
                ports=[k8s.core.v1.ServicePortArgs(name="service", port=port, target_port=port, protocol="TCP")]),
            opts=pulumi.ResourceOptions(parent=self))
        self.endpoint = service.status.load_balancer.ingress.apply(
            lambda items: f"{(items[0].ip or items[0].hostname) if items else ''}:{port}")
        self.register_outputs({"endpoint": self.endpoint})
