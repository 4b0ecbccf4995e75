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
    accelerator: str = ""
    accelerator_count: float = 0.0
    vcpus: float = 0.0
    memory_gib: float = 0.0
    """Size of one node, from the catalog (Kubernetes: the pod's requests)."""
    use_spot: bool = False
    disk_size_gb: int = 256
    disk_tier: str = "medium"
    image_id: str = ""
    """Empty: the cloud's GPU-ready default image."""
    ports: tuple[tuple[int, int], ...] = ()
    ssh_cidrs: tuple[str, ...] = ()
    """Who may reach SSH: by default only the launching machine's address."""
    host_public_keys: tuple[str, ...] = ()
    """Clouds: one pre-generated host key per node (rank order), installed by cloud-init and pinned."""
    host_key_dir: str = ""
    """Clouds: where the matching private host keys are (files `host-<rank>`, 0600)."""
    autostop_down: bool = False
    """An on-node autostop terminates (True) or stops (False) the machine."""
    buckets: tuple[str, ...] = ()
    load_balancer_port: int = 0
    """Non-zero: put the nodes behind a load balancer on this port, health-checked."""
    ssh_user: str = "stix"
    pool_hosts: tuple[tuple[str, int, str, str], ...] = ()
    """SSH node pools: (ip, port, user, pinned host key) of each node, in rank order."""
    pool_identity_file: str = ""
    """SSH node pools: the user's key, used only to authorize the cluster's own key on each host."""
    stopped: bool = False
    """`stix stop`: the nodes exist (disks, files) but do not run."""

    @property
    def hourly_cost(self) -> float:
        return self.price_per_node * self.num_nodes

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ClusterSpec":
        data = json.loads(text)
        data["ports"] = tuple(tuple(pair) for pair in data.get("ports", ()))
        for key in ("ssh_cidrs", "host_public_keys", "buckets"):
            data[key] = tuple(data.get(key, ()))
        data["pool_hosts"] = tuple(tuple(host) for host in data.get("pool_hosts", ()))
        return cls(**data)

    def node_names(self) -> list[str]:
        """The head is rank 0; workers are numbered from 1, as SkyPilot names them."""
        return [f"{self.cluster}-head"] + [f"{self.cluster}-worker{i}" for i in range(1, self.num_nodes)]

    def labels_for(self, role: str) -> dict[str, str]:
        """Tags/labels on every resource: the task's labels plus the cluster name (never overridden)."""
        return {**self.labels, "stix-cluster": self.cluster, "stix-role": role}


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
