"""AwsBucket: an S3 bucket, private and encrypted, tagged (the cluster's tags, or the bucket's own)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AwsBucketArgs:
    bucket_name: str
    labels: dict[str, str] = field(default_factory=dict)


class AwsBucket(pulumi.ComponentResource):
    def __init__(self, name: str, args: AwsBucketArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:aws:Bucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(f"{name}-bucket", bucket=args.bucket_name, force_destroy=False,
                                    tags={**args.labels, "Name": args.bucket_name}, opts=child)
        aws.s3.BucketPublicAccessBlock(f"{name}-private", bucket=self.bucket.id, block_public_acls=True,
                                       block_public_policy=True, ignore_public_acls=True,
                                       restrict_public_buckets=True, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=self.bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"))],
            opts=child)
        self.url = self.bucket.bucket.apply(lambda bucket: f"s3://{bucket}")
        self.register_outputs({"url": self.url})
