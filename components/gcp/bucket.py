"""GcpBucket: a Cloud Storage bucket with uniform access and public access prevented."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_gcp as gcp

from stix.components.gcp import plan


@dataclass(frozen=True)
class GcpBucketArgs:
    bucket_name: str
    region: str
    labels: dict[str, str] = field(default_factory=dict)


class GcpBucket(pulumi.ComponentResource):
    def __init__(self, name: str, args: GcpBucketArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:gcp:Bucket", name, None, opts)
        self.bucket = gcp.storage.Bucket(
            f"{name}-bucket", name=args.bucket_name, location=args.region.upper(),
            uniform_bucket_level_access=True, public_access_prevention="enforced", force_destroy=False,
            labels=plan.bucket_labels(args.labels), opts=pulumi.ResourceOptions(parent=self))
        self.url = self.bucket.name.apply(lambda bucket: f"gs://{bucket}")
        self.register_outputs({"url": self.url})
