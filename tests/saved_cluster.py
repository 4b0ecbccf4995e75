"""A cluster as stix records it after an apply (index row, saved plan, saved node list), without the engine:
for tests of what reads those records (status records, endpoints)."""

from stix import cluster_jobs
from stix.home import StixHome
from stix.index import ClusterIndex
from stix.spec import ClusterInfo, ClusterSpec, NodeInfo
from stix.stages import save_spec


def save_cluster(home: StixHome, name: str, status: str = "UP", ports=(), num_nodes: int = 2,
                 autostop=None) -> ClusterSpec:
    spec = ClusterSpec(name, "local", num_nodes, "ssh-ed25519 AAAA", str(home.root / "nodes"), ports=tuple(ports),
                       price_per_node=0.25)
    nodes = tuple(NodeInfo(f"{name}-{rank}", rank, f"127.0.0.{5 + rank}", 22, "stix", "ssh-ed25519 AAAA",
                           f"/nodes/{rank}") for rank in range(num_nodes))
    index = ClusterIndex(home.index_db)
    index.upsert(name, "local", num_nodes, status, "/tasks/t.yaml")
    index.set_autostop(name, autostop)
    save_spec(home, spec)
    cluster_jobs.save_info(home, ClusterInfo(name, "local", nodes, str(home.key_path(name))))
    return spec
