"""AwsServiceBalancer: a service's network load balancer, in a small VPC of its own, with the ready replicas as
IP targets of one target group, HTTP health-checked at the readiness path (TCP where the spec gives none).

IP targets must be reachable from the balancer's VPC (the replicas' private addresses over a peering or a shared
network); they sit outside its own CIDR, hence availability_zone "all".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from stix.components.serving import ip_targets, listen_port, refuse_tls, service_labels, stack_outputs
from stix.serve.balancer import BalancerSpec

VPC_CIDR = "10.21.0.0/16"
SUBNET_CIDR = "10.21.1.0/24"


@dataclass(frozen=True)
class AwsServiceBalancerArgs:
    spec: BalancerSpec


def tags(spec: BalancerSpec, role: str, name: str) -> dict[str, str]:
    return {**service_labels(spec, role), "Name": name}


def target_key(host: str, port: int) -> str:
    """A target's resource name part: stable per target, so a changed target set adds and removes only those."""
    return f"{host.replace('.', '-').replace(':', '-')}-{port}"


def health_check(spec: BalancerSpec) -> aws.lb.TargetGroupHealthCheckArgs:
    common = dict(port="traffic-port", interval=10, healthy_threshold=2, unhealthy_threshold=3)
    if spec.health_path:
        return aws.lb.TargetGroupHealthCheckArgs(protocol="HTTP", path=spec.health_path, matcher="200-399", **common)
    return aws.lb.TargetGroupHealthCheckArgs(protocol="TCP", **common)


class AwsServiceBalancer(pulumi.ComponentResource):
    def __init__(self, name: str, args: AwsServiceBalancerArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:aws:ServiceBalancer", name, None, opts)
        spec = args.spec
        refuse_tls(spec, "aws")
        targets = ip_targets(spec.targets, "aws")
        port = listen_port(spec)
        service = spec.service
        child = pulumi.ResourceOptions(parent=self)
        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=VPC_CIDR, enable_dns_hostnames=True, enable_dns_support=True,
                          tags=tags(spec, "network", f"{service}-vpc"), opts=child)
        subnet = aws.ec2.Subnet(f"{name}-subnet", vpc_id=vpc.id, cidr_block=SUBNET_CIDR,
                                tags=tags(spec, "network", f"{service}-subnet"), opts=child)
        gateway = aws.ec2.InternetGateway(f"{name}-gateway", vpc_id=vpc.id,
                                          tags=tags(spec, "network", f"{service}-gateway"), opts=child)
        routes = aws.ec2.RouteTable(
            f"{name}-routes", vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            tags=tags(spec, "network", f"{service}-routes"), opts=child)
        aws.ec2.RouteTableAssociation(f"{name}-routes-assoc", subnet_id=subnet.id, route_table_id=routes.id,
                                      opts=child)
        # Anyone may reach the service's port; the balancer reaches only its targets, on the replica port.
        group = aws.ec2.SecurityGroup(
            f"{name}-sg", vpc_id=vpc.id, description=f"stix service {service}",
            ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=port, to_port=port,
                                                      cidr_blocks=["0.0.0.0/0"], description="the service's port")],
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="tcp", from_port=target_port, to_port=target_port,
                                                    cidr_blocks=[f"{host}/32"], description="a replica")
                    for host, target_port in targets],
            tags=tags(spec, "load-balancer", f"{service}-sg"), opts=child)
        self.balancer = aws.lb.LoadBalancer(
            f"{name}-nlb", load_balancer_type="network", internal=False, subnets=[subnet.id],
            security_groups=[group.id], tags=tags(spec, "load-balancer", f"{service}-nlb"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]))
        group_of_targets = aws.lb.TargetGroup(
            f"{name}-targets", port=spec.replica_port, protocol="TCP", target_type="ip", vpc_id=vpc.id,
            deregistration_delay=str(int(max(spec.stream_timeout_s, 30))),
            health_check=health_check(spec),
            tags=tags(spec, "load-balancer", f"{service}-targets"), opts=child)
        aws.lb.Listener(
            f"{name}-listener", load_balancer_arn=self.balancer.arn, port=port, protocol="TCP",
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=group_of_targets.arn)],
            tags=tags(spec, "load-balancer", f"{service}-listener"), opts=child)
        for host, target_port in targets:
            aws.lb.TargetGroupAttachment(
                f"{name}-target-{target_key(host, target_port)}", target_group_arn=group_of_targets.arn,
                target_id=host, port=target_port, availability_zone="all", opts=child)
        self.endpoint = self.balancer.dns_name.apply(lambda host: f"{host}:{port}")
        self.outputs = stack_outputs(spec)
        self.register_outputs({"endpoint": self.endpoint})
