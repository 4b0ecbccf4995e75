"""AWS: VPC network, EC2 VM group, S3 bucket, network load balancer."""

from __future__ import annotations

from typing import Any

from stix.components.base import Cloud
from stix.spec import ClusterSpec


class Aws(Cloud):
    name = "aws"
    spot = True
    bucket = True
    load_balancer = True

    @classmethod
    def deploy(cls, spec: ClusterSpec) -> dict[str, Any]:
        import pulumi
        import pulumi_aws as aws

        from stix.components.aws.bucket import AwsBucket, AwsBucketArgs
        from stix.components.aws.load_balancer import AwsLoadBalancer, AwsLoadBalancerArgs
        from stix.components.aws.network import AwsNetwork, AwsNetworkArgs
        from stix.components.aws.vm_group import AwsVmGroup, AwsVmGroupArgs

        cls.check(spec)
        provider = aws.Provider("aws", region=spec.region)
        opts = pulumi.ResourceOptions(provider=provider)
        network = AwsNetwork("net", AwsNetworkArgs(spec), opts)
        group = AwsVmGroup("vms", AwsVmGroupArgs(spec, network.subnet.id, network.security_group.id), opts)
        outputs: dict[str, Any] = {"nodes": group.nodes}
        outputs["buckets"] = [AwsBucket(f"bucket-{i}", AwsBucketArgs(spec, bucket), opts).url
                              for i, bucket in enumerate(spec.buckets)]
        if spec.load_balancer_port:
            balancer = AwsLoadBalancer("lb", AwsLoadBalancerArgs(spec, network.vpc.id, [network.subnet.id],
                                                                 [i.id for i in group.instances]), opts)
            outputs["endpoint"] = balancer.endpoint
        return outputs


CLOUD = Aws
