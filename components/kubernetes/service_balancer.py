"""KubernetesServiceBalancer: a service's LoadBalancer Service selecting its replicas' pods by the label every
replica carries (`stix-service: <service>`, from the replica task's labels).

Kubernetes keeps the Service's endpoints itself: a pod takes traffic once its own readiness probe passes, so
the controller's targets are not an input here (a replica's pod address is not what stix records of it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from stix.components.kubernetes import plan
from stix.components.serving import SERVICE_LABEL, listen_port, refuse_tls, service_labels, stack_outputs
from stix.serve.balancer import BalancerSpec


@dataclass(frozen=True)
class KubernetesServiceBalancerArgs:
    spec: BalancerSpec


def labels(spec: BalancerSpec, role: str) -> dict[str, str]:
    return {k: plan.label_value(v) for k, v in service_labels(spec, role).items()}


def object_name(spec: BalancerSpec) -> str:
    """A Service's name is a DNS label: lowercase letters, digits and '-', at most 63, starting with a letter."""
    stem = re.sub(r"[^a-z0-9-]", "-", spec.service.lower()).strip("-")[:55] or "service"
    return f"{stem if stem[0].isalpha() else 's-' + stem}-service"


def selector(spec: BalancerSpec) -> dict[str, str]:
    return {SERVICE_LABEL: plan.label_value(spec.service)}


class KubernetesServiceBalancer(pulumi.ComponentResource):
    def __init__(self, name: str, args: KubernetesServiceBalancerArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:kubernetes:ServiceBalancer", name, None, opts)
        spec = args.spec
        refuse_tls(spec, "kubernetes")
        port = listen_port(spec)
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=object_name(spec),
                                                labels=labels(spec, "load-balancer")),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="LoadBalancer", selector=selector(spec),
                session_affinity="None",
                ports=[k8s.core.v1.ServicePortArgs(name="service", port=port, target_port=spec.replica_port,
                                                   protocol="TCP")]),
            opts=pulumi.ResourceOptions(parent=self))
        self.endpoint = service.status.load_balancer.ingress.apply(
            lambda items: f"{(items[0].ip or items[0].hostname) if items else ''}:{port}")
        self.outputs = stack_outputs(spec)
        self.register_outputs({"endpoint": self.endpoint})
