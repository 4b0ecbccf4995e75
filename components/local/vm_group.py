"""VmGroup: the local cloud's cluster of num_nodes nodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi

from stix.components.local.node import LocalNode


@dataclass(frozen=True)
class VmGroupArgs:
    cluster: str
    num_nodes: int
    node_root: str
    authorized_key: str
    state: str = "running"
    port: int = 2222
    region: str = ""
    zone: str = ""
    private_address: bool = False
    """Each node listens on a second address, its private_ip, which the head uses for it (as on a cloud)."""


def node_names(cluster: str, num_nodes: int) -> list[str]:
    """The head is rank 0; workers are numbered from 1, as SkyPilot names them (ClusterSpec.node_names)."""
    return [f"{cluster}-head"] + [f"{cluster}-worker{i}" for i in range(1, num_nodes)]


class VmGroup(pulumi.ComponentResource):
    nodes: pulumi.Output[list[Any]]  # one record per node, as every cloud's VmGroup

    def __init__(self, name: str, args: VmGroupArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:local:VmGroup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        nodes = [
            LocalNode(
                f"{name}-node-{rank}",
                cluster=args.cluster,
                node_name=node_name,
                rank=rank,
                root=args.node_root,
                authorized_key=args.authorized_key,
                state=args.state,
                port=args.port,
                private_address=args.private_address,
                region=args.region,
                zone=args.zone,
                opts=child,
            )
            for rank, node_name in enumerate(node_names(args.cluster, args.num_nodes))
        ]
        self.node_outputs = pulumi.Output.all(
            *[
                pulumi.Output.all(
                    name=node_name,
                    rank=rank,
                    ip=node.ip,
                    private_ip=node.private_ip,
                    port=node.port,
                    user=node.user,
                    host_public_key=node.host_public_key,
                    home=node.home,
                )
                for rank, (node_name, node) in enumerate(zip(node_names(args.cluster, args.num_nodes), nodes))
            ]
        )
        self.nodes = self.node_outputs
        self.register_outputs({"nodes": self.node_outputs})
