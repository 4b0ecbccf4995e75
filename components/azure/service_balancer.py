"""AzureServiceBalancer: a service's Standard load balancer in a resource group and VNet of its own, with the
ready replicas as the backend pool's addresses, HTTP-probed at the readiness path (TCP where the spec gives none).

A Standard load balancer's backend addresses belong to a VNet: the targets are the replicas' private addresses,
reachable from this VNet (a peering or a shared network).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_azure_native as azure

from stix.components.serving import ip_targets, listen_port, refuse_tls, service_labels, stack_outputs
from stix.serve.balancer import BalancerSpec

VNET_CIDR = "10.41.0.0/16"
DISTRIBUTIONS = {"round_robin": "Default", "least_load": "Default"}
"""Azure's load balancer spreads flows by a 5-tuple hash; it has no least-connections mode."""


@dataclass(frozen=True)
class AzureServiceBalancerArgs:
    spec: BalancerSpec


def target_key(host: str, port: int) -> str:
    return f"{host.replace('.', '-').replace(':', '-')}-{port}"


class AzureServiceBalancer(pulumi.ComponentResource):
    def __init__(self, name: str, args: AzureServiceBalancerArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:azure:ServiceBalancer", name, None, opts)
        spec = args.spec
        refuse_tls(spec, "azure")
        targets = ip_targets(spec.targets, "azure")
        ports = {target_port for _, target_port in targets} or {spec.replica_port}
        if len(ports) > 1:
            raise ValueError(f"service {spec.service}: an Azure load balancer rule has one backend port; the targets "
                             f"serve on {sorted(ports)}")
        backend_port = ports.pop()
        port = listen_port(spec)
        child = pulumi.ResourceOptions(parent=self)
        lb_name = f"{spec.service}-lb"
        group = azure.resources.ResourceGroup(f"{name}-rg", location=spec.region,
                                              tags=service_labels(spec, "network"), opts=child)
        vnet = azure.network.VirtualNetwork(
            f"{name}-vnet", resource_group_name=group.name, location=spec.region,
            address_space=azure.network.AddressSpaceArgs(address_prefixes=[VNET_CIDR]),
            tags=service_labels(spec, "network"), opts=child)
        address = azure.network.PublicIPAddress(
            f"{name}-ip", resource_group_name=group.name, location=spec.region,
            public_ip_allocation_method="Static", sku=azure.network.PublicIPAddressSkuArgs(name="Standard"),
            tags=service_labels(spec, "load-balancer"), opts=child)

        def part(kind: str, part_name: str) -> azure.network.SubResourceArgs:
            return azure.network.SubResourceArgs(id=pulumi.Output.concat(
                group.id, "/providers/Microsoft.Network/loadBalancers/", lb_name, f"/{kind}/{part_name}"))

        azure.network.LoadBalancer(
            f"{name}-lb", load_balancer_name=lb_name, resource_group_name=group.name,
            location=spec.region, sku=azure.network.LoadBalancerSkuArgs(name="Standard"),
            frontend_ip_configurations=[azure.network.FrontendIPConfigurationArgs(
                name="frontend", public_ip_address=azure.network.PublicIPAddressArgs(id=address.id))],
            backend_address_pools=[azure.network.BackendAddressPoolArgs(
                name="replicas",
                load_balancer_backend_addresses=[
                    azure.network.LoadBalancerBackendAddressArgs(
                        name=f"replica-{target_key(host, target_port)}", ip_address=host,
                        virtual_network=azure.network.SubResourceArgs(id=vnet.id))
                    for host, target_port in targets])],
            probes=[azure.network.ProbeArgs(name="readiness", protocol="Http" if spec.health_path else "Tcp",
                                            port=backend_port, request_path=spec.health_path or None,
                                            interval_in_seconds=10, number_of_probes=2)],
            load_balancing_rules=[azure.network.LoadBalancingRuleArgs(
                name="service", protocol="Tcp", frontend_port=port, backend_port=backend_port,
                load_distribution=DISTRIBUTIONS.get(spec.policy, "Default"),
                idle_timeout_in_minutes=min(30, max(4, int(spec.stream_timeout_s // 60))),
                frontend_ip_configuration=part("frontendIPConfigurations", "frontend"),
                backend_address_pool=part("backendAddressPools", "replicas"),
                probe=part("probes", "readiness"))],
            tags=service_labels(spec, "load-balancer"), opts=child)
        self.endpoint = address.ip_address.apply(lambda ip: f"{ip}:{port}")
        self.outputs = stack_outputs(spec)
        self.register_outputs({"endpoint": self.endpoint})
