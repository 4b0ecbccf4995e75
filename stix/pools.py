"""SSH node pools: machines a user already has, listed in a pool file, used with `infra: ssh/<pool>`.

The file ($STIX_SSH_POOLS, default $STIX_HOME/ssh_node_pools.yaml) follows SkyPilot's shape, plus the
host key of every machine, which stix pins (get it with `ssh-keyscan -t ed25519 -p PORT HOST` and check
it out of band):

    my-pool:
      user: ubuntu                      # default for the hosts
      identity_file: ~/.ssh/id_ed25519  # used once per host, to authorize the cluster's own key
      hosts:
        - ip: 10.0.0.5
          port: 22
          host_key: ssh-ed25519 AAAA...
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from stix.errors import PoolError, PoolHostBusy
from stix.home import StixHome


@dataclass(frozen=True)
class PoolHost:
    ip: str
    port: int
    user: str
    host_key: str


@dataclass(frozen=True)
class Pool:
    name: str
    identity_file: str
    hosts: tuple[PoolHost, ...]


def pools_file(home: Optional[StixHome] = None) -> Path:
    override = os.environ.get("STIX_SSH_POOLS")
    return Path(override).expanduser() if override else (home or StixHome.from_env()).root / "ssh_node_pools.yaml"


def load_pools(path: Optional[Path] = None) -> dict[str, Pool]:
    path = path or pools_file()
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise PoolError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise PoolError(f"{path}: expected a mapping of pool names to pools")
    return {str(name): _pool(path, str(name), spec) for name, spec in data.items()}


def _pool(path: Path, name: str, spec) -> Pool:
    where = f"{path}: {name}"
    if not isinstance(spec, dict) or not isinstance(spec.get("hosts"), list) or not spec["hosts"]:
        raise PoolError(f"{where}: a pool needs a non-empty `hosts` list")
    identity = spec.get("identity_file")
    if not identity:
        raise PoolError(f"{where}: `identity_file` is required (the key that logs in to the hosts)")
    hosts = []
    for i, host in enumerate(spec["hosts"]):
        if isinstance(host, str):
            host = {"ip": host}
        if not isinstance(host, dict) or not host.get("ip"):
            raise PoolError(f"{where}.hosts[{i}]: expected an address or a mapping with `ip`")
        user = host.get("user") or spec.get("user")
        if not user:
            raise PoolError(f"{where}.hosts[{i}]: no `user` (set it on the host or the pool)")
        key = host.get("host_key")
        if not key or len(str(key).split()) < 2:
            raise PoolError(f"{where}.hosts[{i}]: `host_key` is required so stix can pin it; "
                            f"get it with: ssh-keyscan -t ed25519 -p {host.get('port', 22)} {host['ip']}")
        hosts.append(PoolHost(str(host["ip"]), int(host.get("port", 22)), str(user), " ".join(str(key).split()[:2])))
    return Pool(name, str(Path(str(identity)).expanduser()), tuple(hosts))


def pool_sizes() -> dict[str, int]:
    try:
        return {name: len(pool.hosts) for name, pool in load_pools().items()}
    except PoolError:
        return {}


HostId = tuple[str, int, str]
"""(ip, port, user): a host as a cluster holds it (stix's agent directory is per user's home)."""


def choose_hosts(pool: Pool, num_nodes: int, holders: dict[HostId, str],
                 own: tuple[HostId, ...] = ()) -> tuple[PoolHost, ...]:
    """The hosts a cluster gets: those it already holds, in their order, then the first free ones.

    holders: hosts held by other clusters (in this stix home's index), by cluster name. The host itself
    also records its holder (components/ssh/remote.py), which covers other stix homes and machines.
    """
    by_id = {(h.ip, h.port, h.user): h for h in pool.hosts}
    chosen = [by_id[i] for i in own if i in by_id and i not in holders][:num_nodes]
    chosen += [h for h in pool.hosts if (h.ip, h.port, h.user) not in holders and h not in chosen]
    if len(chosen) < num_nodes:
        held = sorted({name for i, name in holders.items() if i in by_id})
        raise PoolHostBusy(f"SSH node pool {pool.name!r}: {len(chosen)} of {len(pool.hosts)} host(s) free, the task "
                           f"needs {num_nodes}; the others are held by cluster(s) {', '.join(held)} "
                           f"(`stix destroy` one to free its hosts)")
    return tuple(chosen[:num_nodes])


def leftovers_file(cluster_dir: Path) -> Path:
    """Where a pool host's delete records that it could not reach the host (see take_leftovers)."""
    return cluster_dir / "pool-unreachable.txt"


def take_leftovers(cluster_dir: Path) -> list[str]:
    """The lines destroy should print: one per pool host that kept the cluster key because it was unreachable."""
    path = leftovers_file(cluster_dir)
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []
    path.unlink(missing_ok=True)
    return list(dict.fromkeys(lines))
