"""The shape every cloud folder follows, and the pieces they share.

A cloud is a class that declares its optional capabilities as class attributes
(`spot`, `bucket`, `load_balancer`) and builds a cluster from a ClusterSpec.
The program finds it by name (`stix.components.<cloud>.CLOUD`), imported only
when that cloud is used.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar, Optional

from stix.spec import ClusterSpec

SSH_PORT = 22


class Cloud:
    name: ClassVar[str]
    spot: ClassVar[bool] = False
    stop: ClassVar[bool] = False
    """Nodes can be stopped through the stack and started again with their disks."""
    bucket: ClassVar[bool] = False
    load_balancer: ClassVar[bool] = False
    plugin: ClassVar[Optional[tuple[str, str]]] = None
    """The Pulumi provider plugin its components need, and the Python package that pins its version."""
    ssh_rule: ClassVar[bool] = True
    """Nodes sit behind a firewall whose SSH rule names who may connect (the launching machine's address)."""
    preset_host_keys: ClassVar[bool] = True
    """stix makes each node's host key and installs it at boot, so the client pins it from the first connection."""
    vm_fields: ClassVar[bool] = True
    """Nodes are machines of their own: disk_size/disk_tier, ports, labels and image_id apply."""
    probes_capacity: ClassVar[bool] = False
    """Node sizes are not known from a catalog: ask the nodes after apply."""
    nodes_are_processes: ClassVar[bool] = False
    """A node is processes on this machine (sshd and its sessions): autostop kills them rather than shutting down."""
    pooled: ClassVar[bool] = False
    """Nodes are the hosts of a named pool (the placement's region names it)."""

    @classmethod
    def missing_on_host(cls) -> Optional[str]:
        """What this machine lacks to run the cloud's nodes, as the fix to apply; None when nothing is missing."""
        return None

    @classmethod
    def deploy(cls, spec: ClusterSpec) -> dict[str, Any]:
        """Declare the cluster's resources; return the stack outputs (nodes, buckets, endpoint)."""
        import pulumi

        cls.check(spec)
        opts = pulumi.ResourceOptions(provider=cls.provider(spec))
        network = cls.network(spec, opts)
        group = cls.vm_group(spec, network, opts)
        outputs: dict[str, Any] = {"nodes": with_capacity(spec, group.nodes)}
        outputs["buckets"] = [cls.make_bucket(spec, f"bucket-{i}", bucket, network, opts).url
                              for i, bucket in enumerate(spec.buckets)]
        if spec.load_balancer_port:
            outputs["endpoint"] = cls.make_load_balancer(spec, network, group, opts).endpoint
        return outputs

    # Each cloud supplies these; the components are imported only here, when the cloud is used.

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
    def make_bucket(cls, spec: ClusterSpec, name: str, bucket: str, network: Any, opts: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def make_load_balancer(cls, spec: ClusterSpec, network: Any, group: Any, opts: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def check(cls, spec: ClusterSpec) -> None:
        """Refuse a spec this cloud cannot honour, before anything is declared."""
        if spec.stopped and not cls.stop:
            raise ValueError(f"{cls.name} clusters cannot be stopped by stix yet; `stix destroy` removes them")
        if spec.use_spot and not cls.spot:
            raise ValueError(f"{cls.name} has no spot instances")
        if spec.buckets and not cls.bucket:
            raise ValueError(f"{cls.name} has no bucket component")
        if spec.load_balancer_port and not cls.load_balancer:
            raise ValueError(f"{cls.name} has no load balancer component")


def cloud_for(name: str) -> type[Cloud]:
    return importlib.import_module(f"stix.components.{name}").CLOUD


def with_capacity(spec: ClusterSpec, nodes: Any) -> Any:
    """Every node's outputs plus what it has (cpus, gpus, accelerator), so the outputs read as ClusterInfo."""
    import pulumi

    capacity = {"cpus": spec.vcpus, "gpus": spec.accelerator_count, "accelerator": spec.accelerator}
    return pulumi.Output.from_input(nodes).apply(lambda listed: [{**node, **capacity} for node in listed])


def node_output(name: str, rank: int, ip: Any, private_ip: Any, port: int, user: str, host_public_key: str,
                home: str) -> Any:
    import pulumi

    return pulumi.Output.all(name=name, rank=rank, ip=ip, private_ip=private_ip, port=port, user=user,
                             host_public_key=host_public_key, home=home)


def read_host_key(spec: ClusterSpec, rank: int) -> str:
    from pathlib import Path

    return (Path(spec.host_key_dir) / f"host-{rank}").read_text()
