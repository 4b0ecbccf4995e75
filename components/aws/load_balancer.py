"""AwsLoadBalancer: a network load balancer on one port, TCP health-checked, in front of every node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from stix.components.aws import plan
from stix.spec import ClusterSpec


@dataclass(frozen=True)
class AwsLoadBalancerArgs:
    spec: ClusterSpec
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    instance_ids: Sequence[pulumi.Input[str]]


class AwsLoadBalancer(pulumi.ComponentResource):
    def __init__(self, name: str, args: AwsLoadBalancerArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:aws:LoadBalancer", name, None, opts)
        spec = args.spec
        port = spec.load_balancer_port
        child = pulumi.ResourceOptions(parent=self)
        self.balancer = aws.lb.LoadBalancer(
            f"{name}-nlb", load_balancer_type="network", internal=False, subnets=list(args.subnet_ids),
            tags=plan.tags(spec, "load-balancer", f"{spec.cluster}-nlb"), opts=child)
        targets = aws.lb.TargetGroup(
            f"{name}-targets", port=port, protocol="TCP", target_type="instance", vpc_id=args.vpc_id,
            health_check=aws.lb.TargetGroupHealthCheckArgs(protocol="TCP", port=str(port), interval=10,
                                                           healthy_threshold=3, unhealthy_threshold=3),
            tags=plan.tags(spec, "load-balancer", f"{spec.cluster}-targets"), opts=child)
        aws.lb.Listener(
            f"{name}-listener", load_balancer_arn=self.balancer.arn, port=port, protocol="TCP",
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=targets.arn)],
            tags=plan.tags(spec, "load-balancer", f"{spec.cluster}-listener"), opts=child)
        for rank, instance_id in enumerate(args.instance_ids):
            aws.lb.TargetGroupAttachment(f"{name}-target-{rank}", target_group_arn=targets.arn,
                                         target_id=instance_id, port=port, opts=child)
        self.endpoint = self.balancer.dns_name.apply(lambda host: f"{host}:{port}")
        self.register_outputs({"endpoint": self.endpoint})
