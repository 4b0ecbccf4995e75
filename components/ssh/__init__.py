"""SSH node pools: machines the user already has. Nothing to provision, no network, bucket or
load balancer; the VM group authorizes the cluster key on each host and reports them as nodes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional

from stix.components.base import Cloud, CloudCheck

if TYPE_CHECKING:
    from stix.spec import ClusterSpec
    from stix.catalog.offers import Candidate, Catalog, HostLimits, Request


class Ssh(Cloud):
    name = "ssh"
    gated = False  # naming a pool that exists is what enables it
    explicit_only = True
    ssh_rule = False  # the user's own machines and network
    preset_host_keys = False  # pinned from the pool file
    probes_capacity = True
    pooled = True

    @classmethod
    def candidates(cls, request: "Request", catalog: "Catalog", num_nodes: int,
                   host: Optional["HostLimits"] = None, pools: Optional[dict[str, int]] = None) -> list["Candidate"]:
        """The named pool, whole machines as they are: no accelerators asked of them, no spot, no instance types."""
        from stix.catalog.offers import Candidate

        size = (pools or {}).get(request.region or "", 0)
        if request.accelerator or request.use_spot or request.instance_type or size < num_nodes:
            return []
        return [Candidate(cls.name, request.region or "", "", f"pool:{request.region}", "", 0.0, None, None, False,
                          0.0, num_nodes)]

    @classmethod
    def why_not(cls, requests: list["Request"], num_nodes: int, pools: Optional[dict[str, int]]) -> Optional[str]:
        for pool in sorted({r.region for r in requests if r.cloud == cls.name and r.region}):
            size = (pools or {}).get(pool)
            if size is None:
                return f"no SSH node pool named {pool!r} (pools are listed in the pool file; see `stix check ssh`)"
            if size < num_nodes:
                return f"SSH node pool {pool!r} has {size} host(s); the task needs {num_nodes}"
        return None

    @classmethod
    def check_credentials(cls, env: Mapping[str, str]) -> CloudCheck:
        from stix.pools import PoolError, load_pools, pools_file

        path = pools_file()
        try:
            pools = load_pools(path)
        except PoolError as exc:
            return CloudCheck(cls.name, False, exc.message)
        if not pools:
            return CloudCheck(cls.name, False, f"no SSH node pools: list your machines in {path}")
        return CloudCheck(cls.name, True, f"pools {', '.join(sorted(pools))} in {path}")

    @classmethod
    def vm_group(cls, spec: ClusterSpec, network: Any, opts: Any) -> Any:
        from stix.components.ssh.vm_group import PoolGroup, PoolGroupArgs

        return PoolGroup("vms", PoolGroupArgs(spec), opts)


CLOUD = Ssh
