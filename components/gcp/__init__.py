"""GCP: VPC network with firewall rules, Compute Engine VM group, Cloud Storage bucket, TCP load balancer."""

from __future__ import annotations

from typing import Any

from stix.components.base import Cloud
from stix.spec import ClusterSpec


class Gcp(Cloud):
    name = "gcp"
    spot = True
    bucket = True
    load_balancer = True

    @classmethod
    def deploy(cls, spec: ClusterSpec) -> dict[str, Any]:
        import pulumi
        import pulumi_gcp as gcp

        from stix.components.gcp.bucket import GcpBucket, GcpBucketArgs
        from stix.components.gcp.load_balancer import GcpLoadBalancer, GcpLoadBalancerArgs
        from stix.components.gcp.network import GcpNetwork, GcpNetworkArgs
        from stix.components.gcp.vm_group import GcpVmGroup, GcpVmGroupArgs

        cls.check(spec)
        provider = gcp.Provider("gcp", region=spec.region, zone=spec.zone or None,
                                default_labels={"stix-cluster": spec.cluster})
        opts = pulumi.ResourceOptions(provider=provider)
        network = GcpNetwork("net", GcpNetworkArgs(spec), opts)
        group = GcpVmGroup("vms", GcpVmGroupArgs(spec, network.subnet.id), opts)
        outputs: dict[str, Any] = {"nodes": group.nodes}
        outputs["buckets"] = [GcpBucket(f"bucket-{i}", GcpBucketArgs(spec, bucket), opts).url
                              for i, bucket in enumerate(spec.buckets)]
        if spec.load_balancer_port:
            balancer = GcpLoadBalancer("lb", GcpLoadBalancerArgs(spec, network.network.id,
                                                                 [i.self_link for i in group.instances]), opts)
            outputs["endpoint"] = balancer.endpoint
        return outputs


CLOUD = Gcp
