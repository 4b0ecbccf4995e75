"""Typed records between layers.

ClusterSpec is the contract between the planner and the Pulumi program;
ClusterInfo is the contract between Pulumi's stack outputs and the SSH hooks.
Both are plain data that round-trip through JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any


CONFIG_NAMESPACE = "stix"
"""Stack config keys stix writes (`stix:spec`, `stix:placement`, ...)."""


@dataclass(frozen=True)
class BucketSpec:
    """A bucket a stack makes: in the cluster's stack (non-persistent, gone with destroy) or in a storage
    stack of its own (persistent)."""

    name: str
    store: str
    """SkyPilot's store name (s3, gcs, azure) or `local`; the cloud whose store it is builds it."""
    region: str = ""

    @classmethod
    def from_value(cls, value: Any, default_store: str) -> "BucketSpec":
        """A stored spec's entry: a mapping, or a bare name (what stix wrote before stores were typed)."""
        if isinstance(value, str):
            return cls(value, default_store)
        return cls(str(value["name"]), str(value["store"]), str(value.get("region") or ""))


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
    buckets: tuple[BucketSpec, ...] = ()
    """Non-persistent buckets of the task's storage mounts: made and deleted with the cluster's stack."""
    load_balancer_port: int = 0
    """Non-zero: put the nodes behind a load balancer on this port, health-checked."""
    ssh_user: str = "stix"
    pool_hosts: tuple[tuple[str, int, str, str], ...] = ()
    """SSH node pools: (ip, port, user, pinned host key) of each node, in rank order."""
    pool_identity_file: str = ""
    """SSH node pools: the user's key, used only to authorize the cluster's own key on each host."""
    stopped: bool = False
    """`stix stop`: the nodes exist (disks, files) but do not run."""
    vpc_name: str = ""
    """Config (aws/gcp vpc_name): an existing network, by name, the nodes join; empty: the cluster makes its own."""
    security_group_name: str = ""
    """Config (aws security_group_name): an existing security group the nodes use instead of the cluster's own."""
    use_internal_ips: bool = False
    """Config: nodes have no public address and are reached at their private one."""
    k8s_namespace: str = ""
    """Config (kubernetes namespace): where every object of the cluster lives; empty: the provider's default."""
    pod_config: dict[str, Any] = field(default_factory=dict)
    """Config (kubernetes pod_config): a Pod manifest merged into every node pod."""

    @property
    def hourly_cost(self) -> float:
        return self.price_per_node * self.num_nodes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ClusterSpec":
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ClusterSpec":
        data = dict(data)
        for key in ("ssh_cidrs", "host_public_keys"):
            data[key] = tuple(data.get(key, ()))
        data["buckets"] = tuple(BucketSpec.from_value(b, str(data["cloud"])) for b in data.get("buckets", ()))
        data["pool_hosts"] = tuple((str(h[0]), int(h[1]), str(h[2]), str(h[3])) for h in data.get("pool_hosts", ()))
        data["ports"] = tuple((int(low), int(high)) for low, high in data.get("ports", ()))
        data["num_nodes"] = int(data["num_nodes"])
        data["disk_size_gb"] = int(data.get("disk_size_gb", 256))
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
    private_ip: str = ""
    """The address other nodes of the cluster reach it on (clouds: inside the network)."""
    cpus: float = 0.0
    gpus: float = 0.0
    """What the node has, from the placement (SSH pools: cpus probed after apply)."""
    accelerator: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "NodeInfo":
        """Also reads what older stix versions wrote (no capacity fields); the engine hands numbers back as floats."""
        return cls(
            name=str(data["name"]), rank=int(data["rank"]), ip=str(data["ip"]), port=int(data["port"]),
            user=str(data["user"]), host_public_key=str(data["host_public_key"]), home=str(data["home"]),
            private_ip=str(data.get("private_ip") or data["ip"]), cpus=float(data.get("cpus") or 0.0),
            gpus=float(data.get("gpus") or 0.0), accelerator=str(data.get("accelerator") or ""),
        )


@dataclass(frozen=True)
class ClusterInfo:
    """What Pulumi made, as SSH needs it. Its one serialisation (to_dict) is the stack outputs' shape,
    the client's info.json, the head agent's cluster.json and SKYPILOT_CLUSTER_INFO."""

    cluster: str
    cloud: str
    nodes: tuple[NodeInfo, ...]
    ssh_private_key_path: str = ""
    """On this machine; never serialised."""

    @property
    def head(self) -> NodeInfo:
        return self.nodes[0]

    @property
    def ips(self) -> list[str]:
        return [node.ip for node in self.nodes]

    def to_dict(self) -> dict[str, Any]:
        return {"cluster_name": self.cluster, "cloud": self.cloud, "num_nodes": len(self.nodes),
                "nodes": [node.to_dict() for node in self.nodes]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], ssh_private_key_path: str = "") -> "ClusterInfo":
        nodes = sorted((NodeInfo.from_dict(n) for n in data["nodes"]), key=lambda n: n.rank)
        return cls(
            cluster=str(data.get("cluster_name") or data["cluster"]),
            cloud=str(data["cloud"]),
            nodes=tuple(nodes),
            ssh_private_key_path=ssh_private_key_path,
        )

    def first(self, num_nodes: int) -> "ClusterInfo":
        """The nodes a job of num_nodes runs on."""
        return replace(self, nodes=self.nodes[:num_nodes])

    def with_capacity(self, cpus: float) -> "ClusterInfo":
        return replace(self, nodes=tuple(replace(node, cpus=cpus) for node in self.nodes))
