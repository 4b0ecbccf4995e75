"""AzureBucket: a private blob container in its own storage account (HTTPS only, TLS 1.2). Outside a
cluster (a storage stack) it makes its own resource group, as a cluster's network would have."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_azure_native as azure

from stix.components.azure import plan


@dataclass(frozen=True)
class AzureBucketArgs:
    bucket_name: str
    region: str
    resource_group_name: Optional[pulumi.Input[str]] = None
    """The cluster network's group; None: the bucket makes a group of its own."""
    labels: dict[str, str] = field(default_factory=dict)


class AzureBucket(pulumi.ComponentResource):
    def __init__(self, name: str, args: AzureBucketArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:azure:Bucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group_name = args.resource_group_name
        if group_name is None:
            group = azure.resources.ResourceGroup(f"{name}-rg", location=args.region, tags=args.labels, opts=child)
            group_name = group.name
        account_name = plan.storage_account_name(args.bucket_name)
        account = azure.storage.StorageAccount(
            f"{name}-account", account_name=account_name, resource_group_name=group_name,
            location=args.region, kind="StorageV2", sku=azure.storage.SkuArgs(name="Standard_LRS"),
            allow_blob_public_access=False, enable_https_traffic_only=True, minimum_tls_version="TLS1_2",
            tags=args.labels, opts=child)
        azure.storage.BlobContainer(
            f"{name}-container", container_name=args.bucket_name, account_name=account.name,
            resource_group_name=group_name, public_access="None", opts=child)
        self.url = account.name.apply(lambda account: f"https://{account}.blob.core.windows.net/{args.bucket_name}")
        self.register_outputs({"url": self.url})
