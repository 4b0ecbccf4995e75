"""KubernetesNetwork: a headless Service for node addresses and a NetworkPolicy for who may connect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from stix.components.firewall import ingress_rules
from stix.components.kubernetes import plan
from stix.spec import ClusterSpec


@dataclass(frozen=True)
class KubernetesNetworkArgs:
    spec: ClusterSpec


class KubernetesNetwork(pulumi.ComponentResource):
    def __init__(self, name: str, args: KubernetesNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:kubernetes:Network", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        self.service_name = f"{spec.cluster}-nodes"
        k8s.core.v1.Service(
            f"{name}-headless",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=self.service_name, namespace=plan.namespace(spec),
                                                labels=plan.labels(spec, "network")),
            spec=k8s.core.v1.ServiceSpecArgs(cluster_ip="None", selector=plan.selector(spec),
                                             publish_not_ready_addresses=True,
                                             ports=[k8s.core.v1.ServicePortArgs(name="ssh", port=22)]),
            opts=child)
        ingress = [
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=cidr))
                       for cidr in rule.cidrs],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(
                    protocol="TCP", port=rule.from_port, end_port=rule.to_port if rule.to_port != rule.from_port else None)])
            for rule in ingress_rules(spec)
        ]
        ingress.append(k8s.networking.v1.NetworkPolicyIngressRuleArgs(
            from_=[k8s.networking.v1.NetworkPolicyPeerArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=plan.selector(spec)))]))
        k8s.networking.v1.NetworkPolicy(
            f"{name}-policy",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{spec.cluster}-ingress", namespace=plan.namespace(spec),
                                                labels=plan.labels(spec, "network")),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=plan.selector(spec)),
                policy_types=["Ingress"], ingress=ingress),
            opts=child)
        self.register_outputs({"service": self.service_name})
