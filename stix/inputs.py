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
        from stix.pools import choose_hosts, load_pools

        pool = load_pools()[chosen.region]
        holders, own = _pool_holders(home, cluster)
        hosts = choose_hosts(pool, num_nodes, holders, own)
        pool_hosts = tuple((h.ip, h.port, h.user, h.host_key) for h in hosts)
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


def _pool_holders(home: StixHome, cluster: str):
    """Pool hosts held by the other clusters in the index, by cluster name; and the hosts this one holds."""
    from stix.index import ClusterIndex
    from stix.spec import ClusterSpec

    holders: dict[tuple[str, int, str], str] = {}
    own: tuple[tuple[str, int, str], ...] = ()
    for record in ClusterIndex(home.index_db).all():
        try:
            spec = ClusterSpec.from_json((home.cluster_dir(record.name) / "spec.json").read_text())
        except (OSError, ValueError, KeyError, TypeError):
            continue  # never applied, or unreadable: the host's own holder record still guards it
        hosts = tuple((ip, port, user) for ip, port, user, _ in spec.pool_hosts)
        if record.name == cluster:
            own = hosts
        else:
            holders.update({host: record.name for host in hosts})
    return holders, own
