"""A cluster's opened ports (resources.ports) and where to reach them (`stix endpoints`, stix.endpoints()).

The address is the head node's, from the cluster info saved at its last apply: on the local cloud the node's
own 127.0.0.N, on a cloud the head's public IP.
"""

from __future__ import annotations

from typing import Optional

from stix.errors import ClusterNotFound, UsageError
from stix.home import StixHome


def opened_ports(ranges) -> list[int]:
    return sorted({port for low, high in ranges for port in range(int(low), int(high) + 1)})


def endpoints(home: StixHome, cluster: str, port: Optional[int] = None) -> dict[int, str]:
    """{port: 'host:port'} for every opened port, or for `port` alone (refused when it is not opened)."""
    from stix import cluster_jobs
    from stix.naming import validate_cluster_name
    from stix.stages import load_spec

    validate_cluster_name(cluster)
    spec = load_spec(home, cluster)
    if spec is None:
        raise ClusterNotFound(f"cluster {cluster!r} not found (stix status lists clusters)")
    head = cluster_jobs.load_info(home, cluster).head
    ports = opened_ports(spec.ports)
    if port is not None:
        if port not in ports:
            opened = ", ".join(str(p) for p in ports) if ports else "none (resources.ports)"
            raise UsageError(f"port {port} is not opened on cluster {cluster} (opened: {opened})")
        ports = [port]
    return {p: f"{head.ip}:{p}" for p in ports}
