"""AWS: VPC network, EC2 VM group, S3 bucket, network load balancer."""

from __future__ import annotations

from typing import Any

from stix.components.base import Cloud
from stix.spec import ClusterSpec


class Aws(Cloud):
    name = "aws"
    spot = True
    stop = True
    bucket = True
    load_balancer = True
    plugin = ("aws", "pulumi-aws")

    @classmethod
    def provider(cls, spec: ClusterSpec) -> Any:
        import pulumi_aws as aws

        return aws.Provider("aws", region=spec.region)

    @classmethod
    def network(cls, spec: ClusterSpec, opts: Any) -> Any:
        from stix.components.aws.network import AwsNetwork, AwsNetworkArgs

        return AwsNetwork("net", AwsNetworkArgs(spec), opts)

    @classmethod
    def vm_group(cls, spec: ClusterSpec, network: Any, opts: Any) -> Any:
        from stix.components.aws.vm_group import AwsVmGroup, AwsVmGroupArgs

        return AwsVmGroup("vms", AwsVmGroupArgs(spec, network.subnet.id, network.security_group.id), opts)

    @classmethod
    def make_bucket(cls, spec: ClusterSpec, name: str, bucket: str, network: Any, opts: Any) -> Any:
        from stix.components.aws.bucket import AwsBucket, AwsBucketArgs

        return AwsBucket(name, AwsBucketArgs(spec, bucket), opts)

    @classmethod
    def make_load_balancer(cls, spec: ClusterSpec, network: Any, group: Any, opts: Any) -> Any:
        from stix.components.aws.load_balancer import AwsLoadBalancer, AwsLoadBalancerArgs

        return AwsLoadBalancer("lb", AwsLoadBalancerArgs(spec, network.vpc.id, [network.subnet.id],
                                                         [i.id for i in group.instances]), opts)


CLOUD = Aws
