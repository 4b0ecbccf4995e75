"""GCP: VPC network with firewall rules, Compute Engine VM group, Cloud Storage bucket, TCP load balancer."""

from __future__ import annotations

from typing import Any

from stix.components.base import Cloud
from stix.spec import ClusterSpec


class Gcp(Cloud):
    name = "gcp"
    spot = True
    stop = True
    bucket = True
    load_balancer = True
    plugin = ("gcp", "pulumi-gcp")

    @classmethod
    def provider(cls, spec: ClusterSpec) -> Any:
        import pulumi_gcp as gcp

        return gcp.Provider("gcp", region=spec.region, zone=spec.zone or None,
                            default_labels={"stix-cluster": spec.cluster})

    @classmethod
    def network(cls, spec: ClusterSpec, opts: Any) -> Any:
        from stix.components.gcp.network import GcpNetwork, GcpNetworkArgs

        return GcpNetwork("net", GcpNetworkArgs(spec), opts)

    @classmethod
    def vm_group(cls, spec: ClusterSpec, network: Any, opts: Any) -> Any:
        from stix.components.gcp.vm_group import GcpVmGroup, GcpVmGroupArgs

        return GcpVmGroup("vms", GcpVmGroupArgs(spec, network.subnet.id), opts)

    @classmethod
    def make_bucket(cls, spec: ClusterSpec, name: str, bucket: str, network: Any, opts: Any) -> Any:
        from stix.components.gcp.bucket import GcpBucket, GcpBucketArgs

        return GcpBucket(name, GcpBucketArgs(spec, bucket), opts)

    @classmethod
    def make_load_balancer(cls, spec: ClusterSpec, network: Any, group: Any, opts: Any) -> Any:
        from stix.components.gcp.load_balancer import GcpLoadBalancer, GcpLoadBalancerArgs

        return GcpLoadBalancer("lb", GcpLoadBalancerArgs(spec, network.network.id,
                                                         [i.self_link for i in group.instances]), opts)


CLOUD = Gcp
