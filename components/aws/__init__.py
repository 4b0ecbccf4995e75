"""AWS: VPC network, EC2 VM group, S3 bucket, network load balancer."""

from __future__ import annotations

from pathlib import Path
import os
from typing import TYPE_CHECKING, Any, Mapping, Optional

from stix.components.base import (Buckets, Cloud, CloudCheck, LoadBalancers, ServiceBalancers, Spot, Stoppable,
                                  bucket_labels, user_home)

if TYPE_CHECKING:
    from stix.home import StixHome
    from stix.spec import BucketSpec, ClusterSpec
    from stix.storage.mounts import BucketRef


class Aws(Spot, Stoppable, Buckets, LoadBalancers, ServiceBalancers, Cloud):
    name = "aws"
    store = "s3"
    uri_scheme = "s3"
    plugin = ("aws", "pulumi-aws")
    catalog = True
    prices = "stix.catalog.fetch.aws"
    capacity_errors = (
        r"InsufficientInstanceCapacity", r"\bInsufficientCapacity\b", r"InstanceLimitExceeded", r"VcpuLimitExceeded",
        r"MaxSpotInstanceCountExceeded", r"SpotMaxPriceTooLow",
        r"\bUnsupported\b.*(instance type|[Aa]vailability [Zz]one)",
    )

    @classmethod
    def check_credentials(cls, env: Mapping[str, str]) -> CloudCheck:
        if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
            return CloudCheck("aws", True, "AWS_ACCESS_KEY_ID in the environment")
        if env.get("AWS_WEB_IDENTITY_TOKEN_FILE") and env.get("AWS_ROLE_ARN"):
            return CloudCheck("aws", True, "web identity (AWS_ROLE_ARN)")
        files = [Path(env["AWS_SHARED_CREDENTIALS_FILE"])] if env.get("AWS_SHARED_CREDENTIALS_FILE") else []
        files += [user_home(env) / ".aws" / "credentials"]
        for path in files:
            if path.is_file() and "aws_access_key_id" in path.read_text(errors="replace"):
                return CloudCheck("aws", True, f"credentials in {path}")
        config = Path(env.get("AWS_CONFIG_FILE") or user_home(env) / ".aws" / "config")
        if config.is_file() and any(key in config.read_text(errors="replace")
                                    for key in ("sso_", "credential_process", "role_arn")):
            return CloudCheck("aws", True, f"profile in {config}")
        return CloudCheck("aws", False,
                          "no credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or run `aws configure`")

    @classmethod
    def provider(cls, spec: ClusterSpec) -> Any:
        import pulumi_aws as aws

        return aws.Provider("aws", region=spec.region)

    @classmethod
    def network(cls, spec: ClusterSpec, opts: Any) -> Any:
        from stix.components.aws.network import AwsNetwork, AwsNetworkArgs

        return AwsNetwork("net", AwsNetworkArgs(spec), opts)

    @classmethod
    def vm_group(cls, spec: ClusterSpec, network: Any, opts: Any) -> Any:
        from stix.components.aws.vm_group import AwsVmGroup, AwsVmGroupArgs

        return AwsVmGroup("vms", AwsVmGroupArgs(spec, network.subnet_id, network.security_group_id), opts)

    @classmethod
    def make_bucket(cls, spec: Optional[ClusterSpec], name: str, bucket: BucketSpec, network: Any, opts: Any) -> Any:
        from stix.components.aws.bucket import AwsBucket, AwsBucketArgs

        return AwsBucket(name, AwsBucketArgs(bucket.name, bucket_labels(bucket, spec)), opts)

    @classmethod
    def bucket_provider(cls, bucket: BucketSpec) -> Any:
        import pulumi_aws as aws

        return aws.Provider("aws", region=bucket.region or None)

    @classmethod
    def rclone_remote(cls, ref: BucketRef, home: StixHome) -> dict[str, str]:
        """Credentials come from the environment (env_auth): never written by stix."""
        options = {"type": "s3", "provider": "AWS", "env_auth": "true"}
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if region:
            options["region"] = region
        return options

    @classmethod
    def bucket_name_problem(cls, name: str) -> Optional[str]:
        from stix.components.aws.plan import bucket_name_problem

        return bucket_name_problem(name)

    @classmethod
    def make_load_balancer(cls, spec: ClusterSpec, network: Any, group: Any, opts: Any) -> Any:
        from stix.components.aws.load_balancer import AwsLoadBalancer, AwsLoadBalancerArgs

        return AwsLoadBalancer("lb", AwsLoadBalancerArgs(spec, network.vpc_id, [network.subnet_id],
                                                         [i.id for i in group.instances]), opts)

    @classmethod
    def make_service_balancer(cls, spec: Any, opts: Any) -> Any:
        import pulumi
        import pulumi_aws as aws

        from stix.components.aws.service_balancer import AwsServiceBalancer, AwsServiceBalancerArgs

        cls.check_service_balancer(spec)
        if opts is None or opts.provider is None:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                provider=aws.Provider("aws", region=spec.region or None)))
        return AwsServiceBalancer("service-lb", AwsServiceBalancerArgs(spec), opts)


CLOUD = Aws
