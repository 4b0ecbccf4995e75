"""What compiling a cluster needs from this machine: its keys (made once, 0600), who may reach SSH,
and the pool hosts. Everything here touches files or the network; compile itself stays pure."""

from __future__ import annotations

from stix.compile import ClusterInputs
from stix.home import StixHome
from stix.keys import ensure_cluster_key, ensure_host_keys
from stix.optimizer import Candidate


def cluster_inputs(home: StixHome, cluster: str, chosen: Candidate, num_nodes: int,
                   ssh_cidrs: tuple[str, ...] = ()) -> ClusterInputs:
    """ssh_cidrs: the pinned rule, if any; otherwise this machine's address is looked up where the cloud needs one."""
    from stix.components.base import cloud_for

    cloud = cloud_for(chosen.cloud)
    if cloud.ssh_rule and not ssh_cidrs:
        from stix.ssh_source import ssh_cidrs as detect

        ssh_cidrs = detect()
    host_key_dir = home.key_path(cluster).parent / "hosts"
    host_keys = ensure_host_keys(host_key_dir, cluster, num_nodes) if cloud.preset_host_keys else ()
    pool_hosts: tuple[tuple[str, int, str, str], ...] = ()
    pool_identity = ""
    if cloud.pooled:
        from stix.pools import load_pools

        pool = load_pools()[chosen.region]
        pool_hosts = tuple((h.ip, h.port, h.user, h.host_key) for h in pool.hosts[:num_nodes])
        pool_identity = pool.identity_file
    return ClusterInputs(
        ssh_public_key=ensure_cluster_key(home.key_path(cluster), cluster),
        node_root=str(home.cluster_dir(cluster) / "nodes"),
        host_public_keys=host_keys,
        host_key_dir=str(host_key_dir) if host_keys else "",
        ssh_cidrs=tuple(ssh_cidrs) if cloud.ssh_rule else (),
        pool_hosts=pool_hosts,
        pool_identity_file=pool_identity,
    )
