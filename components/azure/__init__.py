"""Azure: resource group, VNet and security group, VM group, blob container, Standard load balancer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from stix.components.base import Buckets, Cloud, CloudCheck, LoadBalancers, Spot, user_home

if TYPE_CHECKING:
    from stix.spec import BucketSpec, ClusterSpec


class Azure(Spot, Buckets, LoadBalancers, Cloud):
    name = "azure"
    store = "azure"
    uri_scheme = "https"
    plugin = ("azure-native", "pulumi-azure-native")
    catalog = True
    prices = "stix.catalog.fetch.azure"
    capacity_errors = (
        r"SkuNotAvailable", r"\bAllocationFailed\b", r"ZonalAllocationFailed", r"OverconstrainedAllocationRequest",
        r"OverconstrainedZonalAllocationRequest", r"QuotaExceeded",
    )

    @classmethod
    def check_credentials(cls, env: Mapping[str, str]) -> CloudCheck:
        if env.get("AZURE_CLIENT_ID") and env.get("AZURE_TENANT_ID") and (
                env.get("AZURE_CLIENT_SECRET") or env.get("AZURE_FEDERATED_TOKEN_FILE")):
            return CloudCheck("azure", True, "service principal in the environment (AZURE_CLIENT_ID)")
        profile = Path(env.get("AZURE_CONFIG_DIR") or user_home(env) / ".azure")
        if (profile / "azureProfile.json").is_file() and (profile / "msal_token_cache.json").is_file():
            return CloudCheck("azure", True, f"az login session in {profile}")
        return CloudCheck("azure", False,
                          "no credentials: run `az login` or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET")

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
    def make_bucket(cls, spec: ClusterSpec, name: str, bucket: BucketSpec, network: Any, opts: Any) -> Any:
        from stix.components.azure.bucket import AzureBucket, AzureBucketArgs

        return AzureBucket(name, AzureBucketArgs(spec, bucket.name, network.group.name), opts)

    @classmethod
    def make_load_balancer(cls, spec: ClusterSpec, network: Any, group: Any, opts: Any) -> Any:
        from stix.components.azure.load_balancer import AzureLoadBalancer, AzureLoadBalancerArgs

        return AzureLoadBalancer("lb", AzureLoadBalancerArgs(spec, network.group.name, network.group.id,
                                                             network.vnet.id, group.private_ips), opts)


CLOUD = Azure
