"""Azure: resource group, VNet and security group, VM group, blob container, Standard load balancer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional

from stix.components.base import (Buckets, Cloud, CloudCheck, LoadBalancers, ServiceBalancers, Spot, bucket_labels,
                                  user_home)

if TYPE_CHECKING:
    from stix.home import StixHome
    from stix.spec import BucketSpec, ClusterSpec
    from stix.storage.mounts import BucketRef


DEFAULT_BUCKET_REGION = "eastus"
"""Where a container goes when nothing places it (a persistent bucket, or one beside another cloud's cluster)."""


class Azure(Spot, Buckets, LoadBalancers, ServiceBalancers, Cloud):
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
    def make_bucket(cls, spec: Optional[ClusterSpec], name: str, bucket: BucketSpec, network: Any, opts: Any) -> Any:
        from stix.components.azure.bucket import AzureBucket, AzureBucketArgs

        region = bucket.region or (spec.region if spec is not None and network is not None else DEFAULT_BUCKET_REGION)
        group = network.group.name if network is not None else None
        return AzureBucket(name, AzureBucketArgs(bucket.name, region, group, bucket_labels(bucket, spec)), opts)

    @classmethod
    def bucket_provider(cls, bucket: BucketSpec) -> Any:
        import pulumi_azure_native as azure

        return azure.Provider("azure", location=bucket.region or None)

    @classmethod
    def rclone_remote(cls, ref: BucketRef, home: StixHome) -> dict[str, str]:
        """The account's credentials come from the environment (env_auth: az login, a managed identity)."""
        return {"type": "azureblob", "account": ref.account, "env_auth": "true"}

    @classmethod
    def bucket_name_problem(cls, name: str) -> Optional[str]:
        from stix.components.azure.plan import bucket_name_problem

        return bucket_name_problem(name)

    @classmethod
    def ref_for_uri(cls, uri: str) -> BucketRef:
        from stix.components.azure.plan import account_of_url
        from stix.storage.mounts import BucketRef

        account, path = account_of_url(uri)
        container, _, prefix = path.partition("/")
        return BucketRef(cls.store, container, prefix.strip("/"), account)

    @classmethod
    def uri_for(cls, ref: BucketRef) -> str:
        return f"https://{ref.account}.blob.core.windows.net/{ref.bucket}" + (f"/{ref.prefix}" if ref.prefix else "")

    @classmethod
    def managed_ref(cls, name: str, prefix: str = "") -> BucketRef:
        from stix.components.azure.plan import storage_account_name
        from stix.storage.mounts import BucketRef

        return BucketRef(cls.store, name, prefix, storage_account_name(name))

    @classmethod
    def make_load_balancer(cls, spec: ClusterSpec, network: Any, group: Any, opts: Any) -> Any:
        from stix.components.azure.load_balancer import AzureLoadBalancer, AzureLoadBalancerArgs

        return AzureLoadBalancer("lb", AzureLoadBalancerArgs(spec, network.group.name, network.group.id,
                                                             network.vnet.id, group.private_ips), opts)

    @classmethod
    def make_service_balancer(cls, spec: Any, opts: Any) -> Any:
        import pulumi
        import pulumi_azure_native as azure

        from stix.components.azure.service_balancer import AzureServiceBalancer, AzureServiceBalancerArgs

        cls.check_service_balancer(spec)
        if opts is None or opts.provider is None:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                provider=azure.Provider("azure", location=spec.region or None)))
        return AzureServiceBalancer("service-lb", AzureServiceBalancerArgs(spec), opts)


CLOUD = Azure
