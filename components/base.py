"""The shape every cloud follows, and the pieces they share.

A cloud is one class, cheap to import, that owns its facts and behaviour: its offers (catalog
matching, or its own sizing), its credentials check, what its nodes need on this machine, how its
nodes are reached, and the component resources it builds from a ClusterSpec. Optional capabilities
are mixins (Spot, Stoppable, Buckets, LoadBalancers): the class implements the interface, so
inheriting is having. Provider SDKs are imported only inside the builders, when the cloud is used.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Optional

from stix.models import values

if TYPE_CHECKING:
    from stix.home import StixHome
    from stix.serve.balancer import Balancer, BalancerSpec
    from stix.spec import BucketSpec, ClusterSpec
    from stix.storage.mounts import BucketRef
    from stix.catalog.offers import Candidate, Catalog, HostLimits, Request

SSH_PORT = 22
CLOUD_NAMES = values.CLOUDS
"""Every cloud, in the order `stix check` lists them; each is stix.components.<name>.CLOUD. The task schema
owns the list (it validates `infra`), so there is one."""


@dataclass(frozen=True)
class CloudCheck:
    cloud: str
    enabled: bool
    detail: str


class Cloud:
    name: ClassVar[str]
    plugin: ClassVar[Optional[tuple[str, str]]] = None
    """The Pulumi provider plugin its components need, and the Python package that pins its version."""
    catalog: ClassVar[bool] = False
    """Its offers come from a catalog file (catalogs/<name>.csv, or a SkyPilot catalog directory)."""
    prices: ClassVar[Optional[str]] = None
    """The module that reprices its catalog from the cloud's public price endpoint (`stix catalog update`)."""
    gated: ClassVar[bool] = True
    """Placed only when enabled (credentials found)."""
    explicit_only: ClassVar[bool] = False
    """Placed only when the task names it: the optimizer never picks it by price."""
    ssh_rule: ClassVar[bool] = True
    """Nodes sit behind a firewall whose SSH rule names who may connect (the launching machine's address)."""
    preset_host_keys: ClassVar[bool] = True
    """stix makes each node's host key and installs it at boot, so the client pins it from the first connection."""
    vm_fields: ClassVar[bool] = True
    """Nodes are machines of their own: disk_size/disk_tier, ports, labels and image_id apply."""
    docker_image_is_node: ClassVar[bool] = False
    """image_id `docker:IMAGE` is the node itself (a pod runs that image). Elsewhere nodes boot the cloud's
    default image and setup and run execute in a container of IMAGE on each node (stix.containers)."""
    probes_capacity: ClassVar[bool] = False
    """Node sizes are not known from a catalog: ask the nodes after apply."""
    nodes_are_processes: ClassVar[bool] = False
    """A node is processes on this machine (sshd and its sessions): autostop kills them rather than shutting down."""
    ports_reachable: ClassVar[bool] = False
    """Every port of a node is reachable without a firewall rule (a node's own loopback address), so
    resources.ports runs (`stix endpoints` lists it) even where the other VM fields do not apply."""
    nodes_share_host: ClassVar[bool] = False
    """A node sees this machine's filesystem and programs, so it can run this interpreter and this stix package
    (the managed-jobs controller cluster needs that: installing stix on a remote machine is not built)."""
    pooled: ClassVar[bool] = False
    """Nodes are the hosts of a named pool (the placement's region names it)."""
    host_program: ClassVar[Optional[str]] = None
    """The program this machine must have to run the cloud's nodes (`stix doctor` checks it)."""
    placement_label: ClassVar[Optional[str]] = None
    """How a placement here reads to a user, where instance type and region say nothing."""
    capacity_errors: ClassVar[tuple[str, ...]] = ()
    """Regexes of the cloud's own capacity and quota errors (out of stock in a zone, a quota reached): an apply
    that fails with one of these is a CapacityError, and failover tries the next candidate."""

    # --- offers ------------------------------------------------------------------------------

    @classmethod
    def candidates(cls, request: "Request", catalog: "Catalog", num_nodes: int,
                   host: Optional["HostLimits"] = None, pools: Optional[dict[str, int]] = None) -> list["Candidate"]:
        """Placements here that satisfy one request; by default, its catalog's offers."""
        from stix.catalog.offers import catalog_candidates

        return catalog_candidates(cls.name, request, catalog, num_nodes)

    @classmethod
    def why_not(cls, requests: list["Request"], num_nodes: int, pools: Optional[dict[str, int]]) -> Optional[str]:
        """Why requests that name this cloud found no placement, when the cloud knows better than the catalog."""
        return None

    # --- this machine --------------------------------------------------------------------------

    @classmethod
    def check_credentials(cls, env: Mapping[str, str]) -> CloudCheck:
        """Whether credentials are present (environment, the cloud's own files); no network call, no SDK."""
        return CloudCheck(cls.name, False, "no credentials check")

    @classmethod
    def host_check(cls) -> tuple[bool, str]:
        """What this machine needs to run the cloud's nodes: (present, where it is, or the fix)."""
        return True, ""

    @classmethod
    def missing_on_host(cls) -> Optional[str]:
        ok, detail = cls.host_check()
        return None if ok else detail

    # --- the components ------------------------------------------------------------------------

    @classmethod
    def deploy(cls, spec: ClusterSpec) -> dict[str, Any]:
        """Declare the cluster's resources; return the stack outputs (nodes, buckets, endpoint)."""
        import pulumi

        cls.check(spec)
        opts = pulumi.ResourceOptions(provider=cls.provider(spec))
        network = cls.network(spec, opts)
        buckets = cls.deploy_buckets(spec, network, opts)
        # The nodes depend on the cluster's buckets, so destroy removes them (and what their mounts still write
        # back) before the buckets.
        group = cls.vm_group(spec, network, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=buckets))
                             if buckets else opts)
        outputs: dict[str, Any] = {"nodes": with_capacity(spec, group.nodes)}
        outputs["buckets"] = [bucket.url for bucket in buckets]
        if spec.load_balancer_port:
            outputs["endpoint"] = cls.make_load_balancer(spec, network, group, opts).endpoint  # type: ignore[attr-defined]
        return outputs

    @classmethod
    def deploy_buckets(cls, spec: ClusterSpec, network: Any, opts: Any) -> list[Any]:
        """The cluster's own buckets (non-persistent) as components, each built by the cloud whose store it is:
        this cloud's with the cluster's provider and network, another's with one provider of that cloud per store."""
        import pulumi

        made_all = []
        foreign: dict[str, Any] = {}
        for i, bucket in enumerate(spec.buckets):
            owner = store_cloud(bucket.store)
            assert owner is not None and issubclass(owner, Buckets)  # check() refused the others
            if owner is cls:
                made = owner.make_bucket(spec, f"bucket-{i}", bucket, network, opts)
            else:
                if bucket.store not in foreign:
                    provider = owner.bucket_provider(bucket)
                    foreign[bucket.store] = pulumi.ResourceOptions(provider=provider) if provider is not None else None
                made = owner.make_bucket(spec, f"bucket-{i}", bucket, None, foreign[bucket.store])
            made_all.append(made)
        return made_all

    @classmethod
    def provider(cls, spec: ClusterSpec) -> Any:
        """The cloud's Pulumi provider (region, credentials); None where there is none (local, pools)."""
        return None

    @classmethod
    def network(cls, spec: ClusterSpec, opts: Any) -> Any:
        """None where nodes need no network of their own (loopback, the user's machines)."""
        return None

    @classmethod
    def vm_group(cls, spec: ClusterSpec, network: Any, opts: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def check(cls, spec: ClusterSpec) -> None:
        """Refuse a spec this cloud cannot honour, before anything is declared."""
        if spec.stopped and not issubclass(cls, Stoppable):
            raise ValueError(f"{cls.name} clusters cannot be stopped by stix yet; `stix destroy` removes them")
        if spec.use_spot and not issubclass(cls, Spot):
            raise ValueError(f"{cls.name} has no spot instances")
        for bucket in spec.buckets:
            if store_cloud(bucket.store) is None:
                raise ValueError(f"no cloud of stix's has the store {bucket.store} (bucket {bucket.name})")
        if spec.load_balancer_port and not issubclass(cls, LoadBalancers):
            raise ValueError(f"{cls.name} has no load balancer component")


# --- capabilities ---------------------------------------------------------------------------


class Spot:
    """Spot / preemptible instances."""


class Stoppable:
    """Nodes stop through the stack and start again with their disks (`stix stop` / `stix start`)."""


class Buckets:
    """The cloud has an object store: it builds its buckets and tells rclone how to reach them."""

    store: ClassVar[str]
    """SkyPilot's store name for this cloud's buckets (s3, gcs, azure; `local` for the local cloud)."""
    uri_scheme: ClassVar[str]
    """How its bucket URIs start (s3, gs, https for Azure blob, local)."""
    store_is_local: ClassVar[bool] = False
    """The store runs on this machine: only nodes that share this machine (nodes_share_host) reach it."""

    @classmethod
    def make_bucket(cls, spec: Optional["ClusterSpec"], name: str, bucket: "BucketSpec", network: Any, opts: Any) -> Any:
        """Declare one bucket component (its `url` output is the bucket's URI). spec and network are the
        cluster's in a cluster stack; None in a storage stack of its own (stix.storage.stacks), where the
        bucket carries its own labels (bucket_labels) and makes what a network would have given it."""
        raise NotImplementedError

    @classmethod
    def bucket_provider(cls, bucket: "BucketSpec") -> Any:
        """The Pulumi provider a storage stack builds the bucket with (its region); None where there is none."""
        return None

    @classmethod
    def ref_for_uri(cls, uri: str) -> "BucketRef":
        """A bucket URI of this store (`scheme://bucket/prefix`) as a BucketRef."""
        from stix.storage.mounts import BucketRef

        bucket, _, prefix = uri.split("://", 1)[1].partition("/")
        return BucketRef(cls.store, bucket, prefix.strip("/"))

    @classmethod
    def uri_for(cls, ref: "BucketRef") -> str:
        """ref as a URI of this store (the inverse of ref_for_uri)."""
        return f"{cls.uri_scheme}://{ref.bucket}" + (f"/{ref.prefix}" if ref.prefix else "")

    @classmethod
    def managed_ref(cls, name: str, prefix: str = "") -> "BucketRef":
        """Where a bucket stix makes under `name` is found."""
        from stix.storage.mounts import BucketRef

        return BucketRef(cls.store, name, prefix)

    @classmethod
    def rclone_remote(cls, ref: "BucketRef", home: "StixHome") -> dict[str, str]:
        """The rclone remote's options (type=s3, ...) for reaching ref, on this machine and on the nodes."""
        raise NotImplementedError

    @classmethod
    def bucket_name_problem(cls, name: str) -> Optional[str]:
        """Why name cannot be a bucket of this store (its naming rules), or None."""
        return None


class LoadBalancers:
    @classmethod
    def make_load_balancer(cls, spec: ClusterSpec, network: Any, group: Any, opts: Any) -> Any:
        raise NotImplementedError


class ServiceBalancers:
    """A load balancer in front of a service's replicas (stix serve), in the service's own stack."""

    serves_tls: ClassVar[bool] = False
    """It terminates TLS with the task's key and certificate (service.tls)."""

    @classmethod
    def check_service_balancer(cls, spec: "BalancerSpec") -> None:
        """Refuse, in one line and before a stack is previewed, what this cloud's service balancer cannot do."""
        from stix.components.serving import refuse_tls

        if not cls.serves_tls:
            refuse_tls(spec, cls.name)  # type: ignore[attr-defined]

    @classmethod
    def make_service_balancer(cls, spec: "BalancerSpec", opts: Any) -> Any:
        """Declare it; the result has `endpoint` (host:port users send requests to) and may have `outputs` (a
        dict exported beside it: what balancer_driver needs to drive it again)."""
        raise NotImplementedError

    @classmethod
    def balancer_driver(cls, home: "StixHome", outputs: Mapping[str, Any]) -> Optional["Balancer"]:
        """The running balancer, from its stack's outputs, where the cloud changes its servers directly (the
        local cloud's HAProxy); None where the service's stack is applied again with the new targets."""
        return None


def bucket_labels(bucket: "BucketSpec", spec: Optional["ClusterSpec"]) -> dict[str, str]:
    """Tags on a bucket: the cluster's in a cluster stack, the bucket's own in a storage stack."""
    if spec is not None:
        return spec.labels_for("bucket")
    return {"stix-bucket": bucket.name, "stix-role": "bucket"}


def cloud_for(name: str) -> type[Cloud]:
    return importlib.import_module(f"stix.components.{name}").CLOUD


def store_of(cloud: str) -> Optional[str]:
    """The store of a cloud's own buckets; None where it has none (SSH pools, Kubernetes)."""
    placed = cloud_for(cloud)
    return placed.store if issubclass(placed, Buckets) else None


def bucket_uri(ref: "BucketRef") -> str:
    """ref as its store writes it (s3://, gs://, https://<account>.blob.core.windows.net/, local://)."""
    cloud = store_cloud(ref.store)
    assert cloud is not None, ref.store  # plan_mounts refuses stores without a cloud
    return cloud.uri_for(ref)  # type: ignore[attr-defined]


def store_cloud(store: str) -> Optional[type[Cloud]]:
    """The cloud whose object store `store` is (SkyPilot's store names; `local`), or None where no cloud of
    stix's has it (r2, ibm, ...)."""
    for name in CLOUD_NAMES:
        cloud = cloud_for(name)
        if issubclass(cloud, Buckets) and cloud.store == store:
            return cloud
    return None


def user_home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or os.path.expanduser("~"))


def with_capacity(spec: ClusterSpec, nodes: Any) -> Any:
    """Every node's outputs plus what it has (cpus, gpus, accelerator), so the outputs read as ClusterInfo."""
    import pulumi

    capacity = {"cpus": spec.vcpus, "gpus": spec.accelerator_count, "accelerator": spec.accelerator}
    return pulumi.Output.from_input(nodes).apply(lambda listed: [{**node, **capacity} for node in listed])


def node_output(name: str, rank: int, ip: Any, private_ip: Any, port: int, user: str, host_public_key: str,
                home: Any) -> Any:
    import pulumi

    return pulumi.Output.all(name=name, rank=rank, ip=ip, private_ip=private_ip, port=port, user=user,
                             host_public_key=host_public_key, home=home)


def read_host_key(spec: ClusterSpec, rank: int) -> str:
    return (Path(spec.host_key_dir) / f"host-{rank}").read_text()
