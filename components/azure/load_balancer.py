"""AzureLoadBalancer: a Standard load balancer on one port, TCP-probed, with the nodes as its pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_azure_native as azure

from stix.components.azure import plan
from stix.spec import ClusterSpec


@dataclass(frozen=True)
class AzureLoadBalancerArgs:
    spec: ClusterSpec
    resource_group_name: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    vnet_id: pulumi.Input[str]
    node_private_ips: Sequence[pulumi.Input[str]]


class AzureLoadBalancer(pulumi.ComponentResource):
    def __init__(self, name: str, args: AzureLoadBalancerArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:azure:LoadBalancer", name, None, opts)
        spec = args.spec
        port = spec.load_balancer_port
        child = pulumi.ResourceOptions(parent=self)
        lb_name = f"{spec.cluster}-lb"
        address = azure.network.PublicIPAddress(
            f"{name}-ip", resource_group_name=args.resource_group_name, location=spec.region,
            public_ip_allocation_method="Static", sku=azure.network.PublicIPAddressSkuArgs(name="Standard"),
            tags=plan.tags(spec, "load-balancer"), opts=child)

        def part(kind: str, part_name: str) -> azure.network.SubResourceArgs:
            return azure.network.SubResourceArgs(id=pulumi.Output.concat(
                args.resource_group_id, "/providers/Microsoft.Network/loadBalancers/", lb_name, f"/{kind}/{part_name}"))

        azure.network.LoadBalancer(
            f"{name}-lb", load_balancer_name=lb_name, resource_group_name=args.resource_group_name,
            location=spec.region, sku=azure.network.LoadBalancerSkuArgs(name="Standard"),
            frontend_ip_configurations=[azure.network.FrontendIPConfigurationArgs(
                name="frontend", public_ip_address=azure.network.PublicIPAddressArgs(id=address.id))],
            backend_address_pools=[azure.network.BackendAddressPoolArgs(
                name="nodes",
                load_balancer_backend_addresses=[
                    azure.network.LoadBalancerBackendAddressArgs(
                        name=f"node-{rank}", ip_address=ip,
                        virtual_network=azure.network.SubResourceArgs(id=args.vnet_id))
                    for rank, ip in enumerate(args.node_private_ips)])],
            probes=[azure.network.ProbeArgs(name="tcp", protocol="Tcp", port=port, interval_in_seconds=10,
                                            number_of_probes=2)],
            load_balancing_rules=[azure.network.LoadBalancingRuleArgs(
                name="service", protocol="Tcp", frontend_port=port, backend_port=port,
                frontend_ip_configuration=part("frontendIPConfigurations", "frontend"),
                backend_address_pool=part("backendAddressPools", "nodes"),
                probe=part("probes", "tcp"))],
            tags=plan.tags(spec, "load-balancer"), opts=child)
        self.endpoint = address.ip_address.apply(lambda ip: f"{ip}:{port}")
        self.register_outputs({"endpoint": self.endpoint})
