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
    plugin = ("kubernetes", "pulumi-kubernetes")

    @classmethod
    def provider(cls, spec: ClusterSpec) -> Any:
        import pulumi_kubernetes as k8s

        return k8s.Provider("k8s", context=spec.region or None, namespace="default")

    @classmethod
    def network(cls, spec: ClusterSpec, opts: Any) -> Any:
        from stix.components.kubernetes.network import KubernetesNetwork, KubernetesNetworkArgs

        return KubernetesNetwork("net", KubernetesNetworkArgs(spec), opts)

    @classmethod
    def vm_group(cls, spec: ClusterSpec, network: Any, opts: Any) -> Any:
        from stix.components.kubernetes.vm_group import KubernetesVmGroup, KubernetesVmGroupArgs

        return KubernetesVmGroup("vms", KubernetesVmGroupArgs(spec, network.service_name), opts)

    @classmethod
    def make_load_balancer(cls, spec: ClusterSpec, network: Any, group: Any, opts: Any) -> Any:
        from stix.components.kubernetes.load_balancer import KubernetesLoadBalancer, KubernetesLoadBalancerArgs

        return KubernetesLoadBalancer("lb", KubernetesLoadBalancerArgs(spec), opts)


CLOUD = Kubernetes
