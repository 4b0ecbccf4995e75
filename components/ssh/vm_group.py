"""PoolGroup: the pool hosts a cluster uses, one PoolHost per node."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi

from stix.components.base import node_output
from stix.components.ssh.host import PoolHost
from stix.pools import leftovers_file
from stix.spec import ClusterSpec


@dataclass(frozen=True)
class PoolGroupArgs:
    spec: ClusterSpec


class PoolGroup(pulumi.ComponentResource):
    def __init__(self, name: str, args: PoolGroupArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:ssh:PoolGroup", name, None, opts)
        spec = args.spec
        nodes = []
        for rank, ((ip, port, user, host_key), node_name) in enumerate(zip(spec.pool_hosts, spec.node_names())):
            host = PoolHost(f"{name}-node-{rank}", ip=ip, port=port, user=user, host_key=host_key,
                            identity_file=spec.pool_identity_file, authorized_key=spec.ssh_public_key,
                            cluster=spec.cluster, notes_file=str(leftovers_file(Path(spec.node_root).parent)),
                            opts=pulumi.ResourceOptions(parent=self))
            nodes.append(node_output(node_name, rank, ip, ip, port, user, host_key, host.home))
        self.nodes = pulumi.Output.all(*nodes)
        self.register_outputs({"nodes": self.nodes})
