"""AzureVmGroup: num_nodes VMs of the placed size with public IPs; Spot priority when asked."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_azure_native as azure

from stix.components.azure import plan
from stix.components.base import SSH_PORT, node_output
from stix.components.cloud_init import node_cloud_init
from stix.spec import ClusterSpec


@dataclass(frozen=True)
class AzureVmGroupArgs:
    spec: ClusterSpec
    resource_group_name: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    security_group_id: pulumi.Input[str]


class AzureVmGroup(pulumi.ComponentResource):
    def __init__(self, name: str, args: AzureVmGroupArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:azure:VmGroup", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        publisher, offer, sku, version = plan.image(spec)
        self.interfaces: list[azure.network.NetworkInterface] = []
        nodes = []
        for rank, node_name in enumerate(spec.node_names()):
            address = azure.network.PublicIPAddress(
                f"{name}-ip-{rank}", resource_group_name=args.resource_group_name, location=spec.region,
                public_ip_allocation_method="Static", sku=azure.network.PublicIPAddressSkuArgs(name="Standard"),
                tags=plan.tags(spec, "node"), opts=child)
            interface = azure.network.NetworkInterface(
                f"{name}-nic-{rank}", resource_group_name=args.resource_group_name, location=spec.region,
                ip_configurations=[azure.network.NetworkInterfaceIPConfigurationArgs(
                    name="primary", primary=True, private_ip_allocation_method="Dynamic",
                    subnet=azure.network.SubnetArgs(id=args.subnet_id),
                    public_ip_address=azure.network.PublicIPAddressArgs(id=address.id))],
                network_security_group=azure.network.NetworkSecurityGroupArgs(id=args.security_group_id),
                enable_accelerated_networking=bool(spec.accelerator),
                tags=plan.tags(spec, "node"), opts=child)
            cloud_init = node_cloud_init(spec, rank)
            azure.compute.VirtualMachine(
                f"{name}-node-{rank}",
                vm_name=node_name,
                resource_group_name=args.resource_group_name,
                location=spec.region,
                hardware_profile=azure.compute.HardwareProfileArgs(vm_size=spec.instance_type),
                storage_profile=azure.compute.StorageProfileArgs(
                    image_reference=azure.compute.ImageReferenceArgs(publisher=publisher, offer=offer, sku=sku,
                                                                     version=version),
                    os_disk=azure.compute.OSDiskArgs(
                        create_option="FromImage", delete_option="Delete", disk_size_gb=spec.disk_size_gb,
                        managed_disk=azure.compute.ManagedDiskParametersArgs(storage_account_type=plan.disk_type(spec)))),
                os_profile=azure.compute.OSProfileArgs(
                    computer_name=node_name,
                    admin_username=spec.ssh_user,
                    custom_data=pulumi.Output.secret(base64.b64encode(cloud_init.encode()).decode()),
                    linux_configuration=azure.compute.LinuxConfigurationArgs(
                        disable_password_authentication=True,
                        ssh=azure.compute.SshConfigurationArgs(public_keys=[azure.compute.SshPublicKeyArgs(
                            path=f"/home/{spec.ssh_user}/.ssh/authorized_keys", key_data=spec.ssh_public_key)]))),
                network_profile=azure.compute.NetworkProfileArgs(network_interfaces=[
                    azure.compute.NetworkInterfaceReferenceArgs(id=interface.id, primary=True, delete_option="Delete")]),
                priority="Spot" if spec.use_spot else "Regular",
                eviction_policy=plan.eviction_policy(spec) if spec.use_spot else None,
                billing_profile=azure.compute.BillingProfileArgs(max_price=-1) if spec.use_spot else None,
                tags=plan.tags(spec, "node"),
                opts=child,
            )
            self.interfaces.append(interface)
            private_ip = interface.ip_configurations.apply(lambda configs: configs[0].private_ip_address if configs else None)
            nodes.append(node_output(node_name, rank, address.ip_address, private_ip, SSH_PORT, spec.ssh_user,
                                     spec.host_public_keys[rank], f"/home/{spec.ssh_user}"))
        self.nodes = pulumi.Output.all(*nodes)
        self.private_ips = [n.apply(lambda node: node["private_ip"]) for n in nodes]
        self.register_outputs({"nodes": self.nodes})
