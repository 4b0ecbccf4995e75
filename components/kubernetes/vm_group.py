"""KubernetesVmGroup: a StatefulSet of num_nodes pods running sshd, GPUs requested the Kubernetes way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from stix.components.base import SSH_PORT, node_output, read_host_key
from stix.components.kubernetes import plan
from stix.spec import ClusterSpec


@dataclass(frozen=True)
class KubernetesVmGroupArgs:
    spec: ClusterSpec
    service_name: str


class KubernetesVmGroup(pulumi.ComponentResource):
    def __init__(self, name: str, args: KubernetesVmGroupArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:kubernetes:VmGroup", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        keys = {"authorized_keys": spec.ssh_public_key + "\n"}
        keys.update({f"host-{rank}": read_host_key(spec, rank) for rank in range(spec.num_nodes)})
        secret = k8s.core.v1.Secret(
            f"{name}-keys", metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{spec.cluster}-ssh-keys",
                                                                namespace=plan.namespace(spec),
                                                                labels=plan.labels(spec, "keys")),
            string_data=pulumi.Output.secret(keys), type="Opaque", opts=child)
        resources = plan.pod_resources(spec)
        ports = [{"name": "ssh", "containerPort": SSH_PORT}] + [{"containerPort": low} for low, _ in spec.ports]
        pod_labels = {**plan.labels(spec, "node"), **plan.selector(spec)}
        statefulset_name = spec.cluster
        pod_spec: dict = {
            "containers": [{
                "name": "node",
                "image": plan.image(spec),
                "command": ["/bin/bash", "-c", plan.BOOTSTRAP],
                "env": [{"name": "STIX_USER", "value": spec.ssh_user}, {"name": "STIX_KEYS", "value": plan.KEY_MOUNT}],
                "ports": ports,
                "resources": {"limits": resources, "requests": resources},
                "readinessProbe": {"tcpSocket": {"port": SSH_PORT}, "periodSeconds": 5},
                "volumeMounts": [{"name": "keys", "mountPath": plan.KEY_MOUNT, "readOnly": True}],
            }],
            "volumes": [{"name": "keys", "secret": {"secretName": secret.metadata.name, "defaultMode": 0o400}}],
        }
        if spec.accelerator:
            pod_spec["nodeSelector"] = plan.node_selector(spec)
            pod_spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": plan.selector(spec)}, "topologyKey": "kubernetes.io/hostname"}]}}
        # The node pod in the API's own (camelCase) form, so config kubernetes.pod_config merges into it as written.
        template = plan.merge_pod(spec.pod_config, {"metadata": {"labels": pod_labels}, "spec": pod_spec})
        k8s.apps.v1.StatefulSet(
            f"{name}-pods",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=statefulset_name, namespace=plan.namespace(spec),
                                                labels=plan.labels(spec, "node")),
            spec=k8s.apps.v1.StatefulSetSpecArgs(
                service_name=args.service_name,
                replicas=spec.num_nodes,
                pod_management_policy="Parallel",
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=plan.selector(spec)),
                template=template,
            ),
            opts=child)
        nodes = []
        for rank, node_name in enumerate(spec.node_names()):
            pod_name = f"{statefulset_name}-{rank}"
            access = k8s.core.v1.Service(
                f"{name}-ssh-{rank}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{pod_name}-ssh", namespace=plan.namespace(spec),
                                                    labels=plan.labels(spec, "node")),
                spec=k8s.core.v1.ServiceSpecArgs(
                    type="LoadBalancer", load_balancer_source_ranges=list(spec.ssh_cidrs),
                    publish_not_ready_addresses=True,
                    selector={"statefulset.kubernetes.io/pod-name": pod_name},
                    ports=[k8s.core.v1.ServicePortArgs(name="ssh", port=SSH_PORT, target_port=SSH_PORT)]),
                opts=child)
            ingress = access.status.load_balancer.ingress
            ip = ingress.apply(lambda items: (items[0].ip or items[0].hostname) if items else None)
            nodes.append(node_output(node_name, rank, ip, access.spec.cluster_ip, SSH_PORT, spec.ssh_user,
                                     spec.host_public_keys[rank], f"/home/{spec.ssh_user}"))
        self.nodes = pulumi.Output.all(*nodes)
        self.register_outputs({"nodes": self.nodes})
