"""AwsNetwork: a VPC, one public subnet in the placed zone, and the cluster's security group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from stix.components.aws import plan
from stix.components.firewall import ingress_rules
from stix.spec import ClusterSpec


@dataclass(frozen=True)
class AwsNetworkArgs:
    spec: ClusterSpec


class AwsNetwork(pulumi.ComponentResource):
    """The cluster's own VPC, or the user's (config vpc_name) looked up by its Name tag. The cluster's own security
    group; in the user's VPC, a security_group_name is the user's group, looked up; in the cluster's own VPC
    (where no group of the user's can be), it names the cluster's group. What is looked up is never changed."""

    def __init__(self, name: str, args: AwsNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:aws:Network", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        if spec.vpc_name:
            self.vpc_id, self.subnet_id = self._existing(spec)
        else:
            self.vpc_id, self.subnet_id = self._own(name, spec, child)
        if spec.security_group_name and spec.vpc_name:
            self.security_group_id = aws.ec2.get_security_group_output(
                name=spec.security_group_name, vpc_id=self.vpc_id, opts=pulumi.InvokeOptions(parent=self)).id
        else:
            self.security_group_id = self._security_group(name, spec, child).id
        self.register_outputs({"vpc_id": self.vpc_id, "subnet_id": self.subnet_id,
                               "security_group_id": self.security_group_id})

    def _existing(self, spec: ClusterSpec) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        invoke = pulumi.InvokeOptions(parent=self)
        vpc = aws.ec2.get_vpc_output(filters=[aws.ec2.GetVpcFilterArgs(name="tag:Name", values=[spec.vpc_name])],
                                     opts=invoke)
        filters = [aws.ec2.GetSubnetsFilterArgs(name="vpc-id", values=[vpc.id])]
        if spec.zone:
            filters.append(aws.ec2.GetSubnetsFilterArgs(name="availability-zone", values=[spec.zone]))
        subnets = aws.ec2.get_subnets_output(filters=filters, opts=invoke)
        return vpc.id, subnets.ids.apply(lambda ids: plan.first_subnet(ids, spec))

    def _own(self, name: str, spec: ClusterSpec, child: pulumi.ResourceOptions) -> tuple[Any, Any]:
        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=plan.VPC_CIDR, enable_dns_hostnames=True,
                          enable_dns_support=True, tags=plan.tags(spec, "network", f"{spec.cluster}-vpc"), opts=child)
        subnet = aws.ec2.Subnet(f"{name}-subnet", vpc_id=vpc.id, cidr_block=plan.SUBNET_CIDR,
                                availability_zone=spec.zone or None, map_public_ip_on_launch=not spec.use_internal_ips,
                                tags=plan.tags(spec, "network", f"{spec.cluster}-subnet"), opts=child)
        gateway = aws.ec2.InternetGateway(f"{name}-gateway", vpc_id=vpc.id,
                                          tags=plan.tags(spec, "network", f"{spec.cluster}-gateway"), opts=child)
        routes = aws.ec2.RouteTable(
            f"{name}-routes", vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            tags=plan.tags(spec, "network", f"{spec.cluster}-routes"), opts=child)
        aws.ec2.RouteTableAssociation(f"{name}-routes-assoc", subnet_id=subnet.id, route_table_id=routes.id,
                                      opts=child)
        return vpc.id, subnet.id

    def _security_group(self, name: str, spec: ClusterSpec, child: pulumi.ResourceOptions) -> aws.ec2.SecurityGroup:
        ingress = [
            aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=rule.from_port, to_port=rule.to_port,
                                             cidr_blocks=list(rule.cidrs), description=rule.description)
            for rule in ingress_rules(spec)
        ]
        ingress.append(aws.ec2.SecurityGroupIngressArgs(protocol="-1", from_port=0, to_port=0, self=True,
                                                        description="between the cluster's nodes"))
        return aws.ec2.SecurityGroup(
            f"{name}-sg", name=spec.security_group_name or None, vpc_id=self.vpc_id,
            description=f"stix cluster {spec.cluster}", ingress=ingress,
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"],
                                                    description="outbound")],
            tags=plan.tags(spec, "network", f"{spec.cluster}-sg"), opts=child)
