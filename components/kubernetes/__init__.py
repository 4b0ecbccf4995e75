"""Kubernetes: a StatefulSet of sshd pods with GPU limits, a headless Service and NetworkPolicy, a
LoadBalancer Service for ports. No bucket: storage comes from the clouds' own buckets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional

from stix.components.base import Cloud, CloudCheck, LoadBalancers, ServiceBalancers, user_home

if TYPE_CHECKING:
    from stix.spec import ClusterSpec
    from stix.catalog.offers import Candidate, Catalog, HostLimits, Request

DEFAULT_CPUS = 4.0


class Kubernetes(LoadBalancers, ServiceBalancers, Cloud):
    name = "kubernetes"
    capacity_errors = (r"Insufficient nvidia\.com/gpu", r"\bUnschedulable\b", r"Insufficient (cpu|memory)\b")
    plugin = ("kubernetes", "pulumi-kubernetes")
    explicit_only = True  # stix does not price a cluster you already run
    docker_image_is_node = True

    @classmethod
    def candidates(cls, request: "Request", catalog: "Catalog", num_nodes: int,
                   host: Optional["HostLimits"] = None, pools: Optional[dict[str, int]] = None) -> list["Candidate"]:
        """A pod sized to the request: Kubernetes has no catalog."""
        from stix.catalog.offers import Candidate
        from stix.models.values import number

        if request.use_spot or request.instance_type:
            return []
        cpus = request.cpus.value if request.cpus else DEFAULT_CPUS
        if request.memory and request.memory.per_cpu is not None:
            memory = request.memory.per_cpu * cpus
        elif request.memory and request.memory.gib:
            memory = request.memory.gib
        else:
            memory = cpus * 4
        name = f"{number(cpus)}CPU--{number(memory)}GB"
        accelerator, count = "", 0.0
        if request.accelerator:
            accelerator, count = request.accelerator.name, request.accelerator.count
            name += f"--{number(count)}{accelerator}"
        return [Candidate(cls.name, request.region or "", "", name, accelerator, count, cpus, memory, False, 0.0,
                          num_nodes)]

    @classmethod
    def check_credentials(cls, env: Mapping[str, str]) -> CloudCheck:
        for raw in (env.get("KUBECONFIG") or str(user_home(env) / ".kube" / "config")).split(os.pathsep):
            if raw and Path(raw).is_file():
                return CloudCheck(cls.name, True, f"kubeconfig {raw}")
        if env.get("KUBERNETES_SERVICE_HOST"):
            return CloudCheck(cls.name, True, "in-cluster service account")
        return CloudCheck(cls.name, False, "no kubeconfig: set KUBECONFIG or create ~/.kube/config")

    @classmethod
    def provider(cls, spec: ClusterSpec) -> Any:
        import pulumi_kubernetes as k8s

        return k8s.Provider("k8s", context=spec.region or None, namespace=spec.k8s_namespace or "default")

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

    @classmethod
    def make_service_balancer(cls, spec: Any, opts: Any) -> Any:
        import pulumi
        import pulumi_kubernetes as k8s

        from stix.components.kubernetes.service_balancer import (KubernetesServiceBalancer,
                                                                 KubernetesServiceBalancerArgs)

        cls.check_service_balancer(spec)
        if opts is None or opts.provider is None:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                provider=k8s.Provider("k8s", context=spec.region or None)))
        return KubernetesServiceBalancer("service-lb", KubernetesServiceBalancerArgs(spec), opts)


CLOUD = Kubernetes
