"""Kubernetes: a StatefulSet of sshd pods with GPU limits, a headless Service and NetworkPolicy, a
LoadBalancer Service for ports. No bucket: storage comes from the clouds' own buckets."""

from __future__ import annotations

from typing import Any

from stix.components.base import Cloud
from stix.spec import ClusterSpec


class Kubernetes(Cloud):
    name = "kubernetes"
    spot = False
    bucket = False
    load_balancer = True

    @classmethod
    def deploy(cls, spec: ClusterSpec) -> dict[str, Any]:
        import pulumi
        import pulumi_kubernetes as k8s

        from stix.components.kubernetes.load_balancer import KubernetesLoadBalancer, KubernetesLoadBalancerArgs
        from stix.components.kubernetes.network import KubernetesNetwork, KubernetesNetworkArgs
        from stix.components.kubernetes.vm_group import KubernetesVmGroup, KubernetesVmGroupArgs

        cls.check(spec)
        provider = k8s.Provider("k8s", context=spec.region or None, namespace="default")
        opts = pulumi.ResourceOptions(provider=provider)
        network = KubernetesNetwork("net", KubernetesNetworkArgs(spec), opts)
        group = KubernetesVmGroup("vms", KubernetesVmGroupArgs(spec, network.service_name), opts)
        outputs: dict[str, Any] = {"nodes": group.nodes, "buckets": []}
        if spec.load_balancer_port:
            outputs["endpoint"] = KubernetesLoadBalancer("lb", KubernetesLoadBalancerArgs(spec), opts).endpoint
        return outputs


CLOUD = Kubernetes
