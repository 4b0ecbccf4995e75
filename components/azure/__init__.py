"""Azure: resource group, VNet and security group, VM group, blob container, Standard load balancer."""

from __future__ import annotations

from typing import Any

from stix.components.base import Cloud
from stix.spec import ClusterSpec


class Azure(Cloud):
    name = "azure"
    spot = True
    bucket = True
    load_balancer = True
    plugin = ("azure-native", "pulumi-azure-native")

    @classmethod
    def provider(cls, spec: ClusterSpec) -> Any:
        import pulumi_azure_native as azure

        return azure.Provider("azure", location=spec.region)

    @classmethod
    def network(cls, spec: ClusterSpec, opts: Any) -> Any:
        from stix.components.azure.network import AzureNetwork, AzureNetworkArgs

        return AzureNetwork("net", AzureNetworkArgs(spec), opts)

    @classmethod
    def vm_group(cls, spec: ClusterSpec, network: Any, opts: Any) -> Any:
        from stix.components.azure.vm_group import AzureVmGroup, AzureVmGroupArgs

        return AzureVmGroup("vms", AzureVmGroupArgs(spec, network.group.name, network.subnet.id,
                                                    network.security_group.id), opts)

    @classmethod
    def make_bucket(cls, spec: ClusterSpec, name: str, bucket: str, network: Any, opts: Any) -> Any:
        from stix.components.azure.bucket import AzureBucket, AzureBucketArgs

        return AzureBucket(name, AzureBucketArgs(spec, bucket, network.group.name), opts)

    @classmethod
    def make_load_balancer(cls, spec: ClusterSpec, network: Any, group: Any, opts: Any) -> Any:
        from stix.components.azure.load_balancer import AzureLoadBalancer, AzureLoadBalancerArgs

        return AzureLoadBalancer("lb", AzureLoadBalancerArgs(spec, network.group.name, network.group.id,
                                                             network.vnet.id, group.private_ips), opts)


CLOUD = Azure
