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

    @classmethod
    def deploy(cls, spec: ClusterSpec) -> dict[str, Any]:
        import pulumi
        import pulumi_azure_native as azure

        from stix.components.azure.bucket import AzureBucket, AzureBucketArgs
        from stix.components.azure.load_balancer import AzureLoadBalancer, AzureLoadBalancerArgs
        from stix.components.azure.network import AzureNetwork, AzureNetworkArgs
        from stix.components.azure.vm_group import AzureVmGroup, AzureVmGroupArgs

        cls.check(spec)
        provider = azure.Provider("azure", location=spec.region)
        opts = pulumi.ResourceOptions(provider=provider)
        network = AzureNetwork("net", AzureNetworkArgs(spec), opts)
        group = AzureVmGroup("vms", AzureVmGroupArgs(spec, network.group.name, network.subnet.id,
                                                     network.security_group.id), opts)
        outputs: dict[str, Any] = {"nodes": group.nodes}
        outputs["buckets"] = [AzureBucket(f"bucket-{i}", AzureBucketArgs(spec, bucket, network.group.name), opts).url
                              for i, bucket in enumerate(spec.buckets)]
        if spec.load_balancer_port:
            balancer = AzureLoadBalancer("lb", AzureLoadBalancerArgs(
                spec, network.group.name, network.group.id, network.vnet.id, group.private_ips), opts)
            outputs["endpoint"] = balancer.endpoint
        return outputs


CLOUD = Azure
