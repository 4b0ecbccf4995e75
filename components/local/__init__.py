"""The local cloud: real sshd nodes on loopback addresses, managed by a dynamic provider.

No network (loopback needs none) or cluster load balancer: the capabilities say so. A service's load balancer
is a real HAProxy on 127.0.0.1 (load_balancer.py), driven through its runtime API. Its buckets live in a real
S3-compatible store (SeaweedFS) that stix runs per home on 127.0.0.1 (stix.objectstore).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional

from stix.components.base import Buckets, Cloud, CloudCheck, ServiceBalancers, Stoppable

if TYPE_CHECKING:
    from stix.home import StixHome
    from stix.serve.balancer import Balancer, BalancerSpec
    from stix.spec import BucketSpec, ClusterSpec
    from stix.storage.mounts import BucketRef
    from stix.catalog.offers import Candidate, Catalog, HostLimits, Request


class Local(Stoppable, Buckets, ServiceBalancers, Cloud):
    name = "local"
    store = "local"
    serves_tls = True  # HAProxy binds with the task's certificate
    uri_scheme = "local"
    store_is_local = True
    catalog = True
    placement_label = "the local cloud (nodes on this machine)"
    host_program = "sshd"
    ssh_rule = False  # loopback
    preset_host_keys = False  # the node provider makes each node's key and reports it
    vm_fields = False  # a node is a directory on this machine
    ports_reachable = True  # a node's own 127.0.0.N: every port its processes open is reachable
    nodes_are_processes = True
    nodes_share_host = True
    capacity_errors = (r"InsufficientCapacity: zone \S+ has no capacity",)
    """What components/local/faults.py refuses a create with."""

    @classmethod
    def candidates(cls, request: "Request", catalog: "Catalog", num_nodes: int,
                   host: Optional["HostLimits"] = None, pools: Optional[dict[str, int]] = None) -> list["Candidate"]:
        """A node is this machine: it holds any request the host can (and the GPUs it declares)."""
        from dataclasses import replace

        from stix.catalog.offers import Candidate, HostLimits, amount_ok, memory_ok, place_ok

        host = host or HostLimits.detect()
        have = host.accelerator
        if request.use_spot:
            return []
        if request.accelerator and not (have and have.name.lower() == request.accelerator.name.lower()
                                        and request.accelerator.count <= have.count):
            return []
        cpus = None if request.cpus is None else replace(request.cpus, at_least=True)
        memory = None if request.memory is None else replace(request.memory, at_least=True)
        if not (amount_ok(host.vcpus, cpus) and memory_ok(host.memory_gib, host.vcpus, memory)):
            return []
        return [Candidate(offer.cloud, offer.region, offer.zone, offer.instance_type, have.name if have else "",
                          have.count if have else 0.0, host.vcpus, host.memory_gib, False, offer.price or 0.0, num_nodes)
                for offer in catalog.of_cloud(cls.name)
                if place_ok(offer, request)
                and request.instance_type in (None, offer.instance_type)]

    @classmethod
    def check_credentials(cls, env: Mapping[str, str]) -> CloudCheck:
        return CloudCheck(cls.name, True, "always enabled")

    @classmethod
    def host_check(cls) -> tuple[bool, str]:
        from stix.components.local import sshd

        try:
            return True, sshd.find_sshd()
        except sshd.NodeProcessError as exc:
            return False, str(exc)

    @classmethod
    def vm_group(cls, spec: ClusterSpec, network: Any, opts: Any) -> Any:
        from stix.components.local.sshd import cloud_like, configured_port
        from stix.components.local.vm_group import VmGroup, VmGroupArgs

        return VmGroup("vms", VmGroupArgs(cluster=spec.cluster, num_nodes=spec.num_nodes, node_root=spec.node_root,
                                         authorized_key=spec.ssh_public_key,
                                         state="stopped" if spec.stopped else "running",
                                         port=configured_port(), private_address=cloud_like(),
                                         region=spec.region, zone=spec.zone), opts)

    @classmethod
    def make_bucket(cls, spec: Optional["ClusterSpec"], name: str, bucket: "BucketSpec", network: Any, opts: Any) -> Any:
        from stix.components.local.bucket import LocalBucket, LocalBucketArgs
        from stix.home import StixHome

        return LocalBucket(name, LocalBucketArgs(bucket.name, str(StixHome.from_env().root)), opts)

    @classmethod
    def rclone_remote(cls, ref: "BucketRef", home: "StixHome") -> dict[str, str]:
        """The store's s3 remote; starts the store if it is not running (its keys are read from the home)."""
        from stix.objectstore import s3, server

        return s3.remote_options(server.ensure_running(home))

    @classmethod
    def make_service_balancer(cls, spec: "BalancerSpec", opts: Any) -> Any:
        from stix.components.local.load_balancer import LocalLoadBalancer

        if not spec.state_dir or not spec.log:
            raise ValueError(f"service {spec.service}: the local balancer needs state_dir and log")
        return LocalLoadBalancer("balancer", spec, opts)

    @classmethod
    def balancer_driver(cls, home: "StixHome", outputs: Mapping[str, Any]) -> Optional["Balancer"]:
        from stix.serve.haproxy import HaproxyBalancer

        return HaproxyBalancer(str(outputs["admin_socket"]), bool(outputs.get("health_checks", True)),
                               float(outputs.get("drain_timeout_s") or 0) or None)

    @classmethod
    def bucket_name_problem(cls, name: str) -> Optional[str]:
        from stix.objectstore import s3

        return s3.bucket_name_problem(name)


CLOUD = Local
