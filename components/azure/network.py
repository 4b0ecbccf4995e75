"""AzureNetwork: the cluster's resource group, a VNet and subnet, and a network security group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_azure_native as azure

from stix.components.azure import plan
from stix.components.firewall import ingress_rules
from stix.spec import ClusterSpec


@dataclass(frozen=True)
class AzureNetworkArgs:
    spec: ClusterSpec


class AzureNetwork(pulumi.ComponentResource):
    def __init__(self, name: str, args: AzureNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:azure:Network", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        self.group = azure.resources.ResourceGroup(f"{name}-rg", location=spec.region, tags=plan.tags(spec, "network"),
                                                   opts=child)
        rules = [
            azure.network.SecurityRuleArgs(
                name=rule.name, priority=100 + i, direction="Inbound", access="Allow", protocol="Tcp",
                source_address_prefixes=list(rule.cidrs), source_port_range="*", destination_address_prefix="*",
                destination_port_range=str(rule.from_port) if rule.from_port == rule.to_port
                else f"{rule.from_port}-{rule.to_port}",
                description=rule.description)
            for i, rule in enumerate(ingress_rules(spec))
        ]
        self.security_group = azure.network.NetworkSecurityGroup(
            f"{name}-nsg", resource_group_name=self.group.name, location=spec.region, security_rules=rules,
            tags=plan.tags(spec, "network"), opts=child)
        self.vnet = azure.network.VirtualNetwork(
            f"{name}-vnet", resource_group_name=self.group.name, location=spec.region,
            address_space=azure.network.AddressSpaceArgs(address_prefixes=[plan.VNET_CIDR]),
            tags=plan.tags(spec, "network"), opts=child)
        self.subnet = azure.network.Subnet(
            f"{name}-subnet", resource_group_name=self.group.name, virtual_network_name=self.vnet.name,
            address_prefix=plan.SUBNET_CIDR,
            network_security_group=azure.network.NetworkSecurityGroupArgs(id=self.security_group.id), opts=child)
        self.register_outputs({"resource_group": self.group.name, "subnet_id": self.subnet.id})
