"""Typed records between layers.

ClusterSpec is the contract between the planner and the Pulumi program;
ClusterInfo is the contract between Pulumi's stack outputs and the SSH hooks.
Both are plain data that round-trip through JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClusterSpec:
    cluster: str
    cloud: str
    num_nodes: int
    ssh_public_key: str
    node_root: str
    """Local cloud only: the directory under which node directories live."""
    labels: dict[str, str] = field(default_factory=dict)
    instance_type: str = "local"
    region: str = "local"
    zone: str = ""
    price_per_node: float = 0.0
    """On-demand or spot $/hr of one node, from the catalog the optimizer used."""

    @property
    def hourly_cost(self) -> float:
        return self.price_per_node * self.num_nodes

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ClusterSpec":
        return cls(**json.loads(text))


@dataclass(frozen=True)
class NodeInfo:
    name: str
    rank: int
    ip: str
    port: int
    user: str
    host_public_key: str
    """The node's host key as 'ssh-ed25519 AAAA...', pinned by the client."""
    home: str
    """The directory the node's commands run under (HOME on the node)."""

    @classmethod
    def from_output(cls, data: dict[str, Any]) -> "NodeInfo":
        return cls(
            name=str(data["name"]),
            rank=int(data["rank"]),
            ip=str(data["ip"]),
            port=int(data["port"]),
            user=str(data["user"]),
            host_public_key=str(data["host_public_key"]),
            home=str(data["home"]),
        )


@dataclass(frozen=True)
class ClusterInfo:
    cluster: str
    cloud: str
    nodes: tuple[NodeInfo, ...]
    ssh_private_key_path: str

    @property
    def head(self) -> NodeInfo:
        return self.nodes[0]

    @property
    def ips(self) -> list[str]:
        return [node.ip for node in self.nodes]

    @classmethod
    def from_outputs(cls, outputs: dict[str, Any], ssh_private_key_path: str) -> "ClusterInfo":
        nodes = sorted((NodeInfo.from_output(n) for n in outputs["nodes"]), key=lambda n: n.rank)
        return cls(
            cluster=str(outputs["cluster"]),
            cloud=str(outputs["cloud"]),
            nodes=tuple(nodes),
            ssh_private_key_path=ssh_private_key_path,
        )
