"""GCP: VPC network with firewall rules, Compute Engine VM group, Cloud Storage bucket, TCP load balancer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional

from stix.components.base import (Buckets, Cloud, CloudCheck, LoadBalancers, ServiceBalancers, Spot, Stoppable,
                                  bucket_labels, user_home)

if TYPE_CHECKING:
    from stix.home import StixHome
    from stix.spec import BucketSpec, ClusterSpec
    from stix.storage.mounts import BucketRef
    from stix.catalog.offers import Candidate, Catalog, HostLimits, Offer, Request


DEFAULT_BUCKET_LOCATION = "US"
"""Where a GCS bucket goes when nothing places it (a persistent bucket, or one beside another cloud's cluster)."""


class Gcp(Spot, Stoppable, Buckets, LoadBalancers, ServiceBalancers, Cloud):
    name = "gcp"
    store = "gcs"
    uri_scheme = "gs"
    plugin = ("gcp", "pulumi-gcp")
    catalog = True
    prices = "stix.catalog.fetch.gcp"
    capacity_errors = (
        r"ZONE_RESOURCE_POOL_EXHAUSTED(_WITH_DETAILS)?", r"QUOTA_EXCEEDED", r"Quota '[^']+' exceeded",
        r"\bstockout\b", r"does not have enough resources available",
    )

    @classmethod
    def candidates(cls, request: "Request", catalog: "Catalog", num_nodes: int,
                   host: Optional["HostLimits"] = None, pools: Optional[dict[str, int]] = None) -> list["Candidate"]:
        """The catalog's instances, plus GPUs that attach to an N1 host in the same zone."""
        from stix.catalog.offers import place_ok

        out = super().candidates(request, catalog, num_nodes, host, pools)
        if request.accelerator is None:
            return out
        for gpu in catalog.of_cloud(cls.name, request.accelerator.name):
            if gpu.attachable and place_ok(gpu, request) \
                    and abs(gpu.accelerator_count - request.accelerator.count) <= 1e-9:
                out.extend(_attached(gpu, request, catalog, num_nodes))
        return out

    @classmethod
    def check_credentials(cls, env: Mapping[str, str]) -> CloudCheck:
        path = env.get("GOOGLE_APPLICATION_CREDENTIALS")
        if path and Path(path).is_file():
            return CloudCheck("gcp", True, f"GOOGLE_APPLICATION_CREDENTIALS={path}")
        adc = Path(env.get("CLOUDSDK_CONFIG") or user_home(env) / ".config" / "gcloud") / \
            "application_default_credentials.json"
        if adc.is_file():
            return CloudCheck("gcp", True, f"application default credentials in {adc}")
        return CloudCheck("gcp", False, "no credentials: run `gcloud auth application-default login` or set "
                                        "GOOGLE_APPLICATION_CREDENTIALS")

    @classmethod
    def provider(cls, spec: ClusterSpec) -> Any:
        import pulumi_gcp as gcp

        return gcp.Provider("gcp", region=spec.region, zone=spec.zone or None,
                            default_labels={"stix-cluster": spec.cluster})

    @classmethod
    def network(cls, spec: ClusterSpec, opts: Any) -> Any:
        from stix.components.gcp.network import GcpNetwork, GcpNetworkArgs

        return GcpNetwork("net", GcpNetworkArgs(spec), opts)

    @classmethod
    def vm_group(cls, spec: ClusterSpec, network: Any, opts: Any) -> Any:
        from stix.components.gcp.vm_group import GcpVmGroup, GcpVmGroupArgs

        return GcpVmGroup("vms", GcpVmGroupArgs(spec, network.subnet_id, network.network_id), opts)

    @classmethod
    def make_bucket(cls, spec: Optional[ClusterSpec], name: str, bucket: BucketSpec, network: Any, opts: Any) -> Any:
        from stix.components.gcp.bucket import GcpBucket, GcpBucketArgs

        region = bucket.region or (spec.region if spec is not None and network is not None else DEFAULT_BUCKET_LOCATION)
        return GcpBucket(name, GcpBucketArgs(bucket.name, region, bucket_labels(bucket, spec)), opts)

    @classmethod
    def bucket_provider(cls, bucket: BucketSpec) -> Any:
        import pulumi_gcp as gcp

        return gcp.Provider("gcp", region=bucket.region or None)

    @classmethod
    def rclone_remote(cls, ref: BucketRef, home: StixHome) -> dict[str, str]:
        """Application default credentials (env_auth); uniform bucket-level access, so no object ACLs."""
        return {"type": "google cloud storage", "env_auth": "true", "bucket_policy_only": "true"}

    @classmethod
    def bucket_name_problem(cls, name: str) -> Optional[str]:
        from stix.components.gcp.plan import bucket_name_problem

        return bucket_name_problem(name)

    @classmethod
    def make_load_balancer(cls, spec: ClusterSpec, network: Any, group: Any, opts: Any) -> Any:
        from stix.components.gcp.load_balancer import GcpLoadBalancer, GcpLoadBalancerArgs

        return GcpLoadBalancer("lb", GcpLoadBalancerArgs(spec, network.network_id,
                                                         [i.self_link for i in group.instances]), opts)

    @classmethod
    def make_service_balancer(cls, spec: Any, opts: Any) -> Any:
        import pulumi
        import pulumi_gcp as gcp

        from stix.components.gcp.plan import label_value
        from stix.components.gcp.service_balancer import GcpServiceBalancer, GcpServiceBalancerArgs

        cls.check_service_balancer(spec)
        if opts is None or opts.provider is None:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(provider=gcp.Provider(
                "gcp", region=spec.region or None, default_labels={"stix-service": label_value(spec.service)})))
        return GcpServiceBalancer("service-lb", GcpServiceBalancerArgs(spec), opts)


def _attached(gpu: "Offer", request: "Request", catalog: "Catalog", num_nodes: int) -> list["Candidate"]:
    """A GCP GPU on an N1 host in the same zone: the host must meet the cpu/memory request."""
    from stix.catalog.offers import DEFAULT_CPUS, amount_ok, candidate, memory_ok, price_of

    gpu_price = price_of(gpu, request.use_spot)
    if gpu_price is None:
        return []
    cpus = request.cpus or (None if request.memory else DEFAULT_CPUS)
    out = []
    for host in catalog.hosts(gpu.cloud, gpu.zone):
        if not host.instance_type.startswith("n1-"):
            continue
        if request.instance_type and host.instance_type != request.instance_type:
            continue
        if not (amount_ok(host.vcpus, cpus) and memory_ok(host.memory_gib, host.vcpus, request.memory)):
            continue
        host_price = price_of(host, request.use_spot)
        if host_price is None:
            continue
        price = host_price + gpu_price
        if request.max_hourly_cost is not None and price > request.max_hourly_cost:
            continue
        out.append(candidate(gpu, host.instance_type, host.vcpus, host.memory_gib, price, request, num_nodes))
    return out


CLOUD = Gcp
