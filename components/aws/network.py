"""AwsNetwork: a VPC, one public subnet in the placed zone, and the cluster's security group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from stix.components.aws import plan
from stix.components.firewall import ingress_rules
from stix.spec import ClusterSpec


@dataclass(frozen=True)
class AwsNetworkArgs:
    spec: ClusterSpec


class AwsNetwork(pulumi.ComponentResource):
    def __init__(self, name: str, args: AwsNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:aws:Network", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        self.vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=plan.VPC_CIDR, enable_dns_hostnames=True,
                               enable_dns_support=True, tags=plan.tags(spec, "network", f"{spec.cluster}-vpc"), opts=child)
        self.subnet = aws.ec2.Subnet(f"{name}-subnet", vpc_id=self.vpc.id, cidr_block=plan.SUBNET_CIDR,
                                     availability_zone=spec.zone or None, map_public_ip_on_launch=True,
                                     tags=plan.tags(spec, "network", f"{spec.cluster}-subnet"), opts=child)
        gateway = aws.ec2.InternetGateway(f"{name}-gateway", vpc_id=self.vpc.id,
                                          tags=plan.tags(spec, "network", f"{spec.cluster}-gateway"), opts=child)
        routes = aws.ec2.RouteTable(
            f"{name}-routes", vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            tags=plan.tags(spec, "network", f"{spec.cluster}-routes"), opts=child)
        aws.ec2.RouteTableAssociation(f"{name}-routes-assoc", subnet_id=self.subnet.id, route_table_id=routes.id,
                                      opts=child)
        ingress = [
            aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=rule.from_port, to_port=rule.to_port,
                                             cidr_blocks=list(rule.cidrs), description=rule.description)
            for rule in ingress_rules(spec)
        ]
        ingress.append(aws.ec2.SecurityGroupIngressArgs(protocol="-1", from_port=0, to_port=0, self=True,
                                                        description="between the cluster's nodes"))
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg", vpc_id=self.vpc.id, description=f"stix cluster {spec.cluster}", ingress=ingress,
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"],
                                                    description="outbound")],
            tags=plan.tags(spec, "network", f"{spec.cluster}-sg"), opts=child)
        self.register_outputs({"vpc_id": self.vpc.id, "subnet_id": self.subnet.id,
                               "security_group_id": self.security_group.id})
