"""SSH node pools: machines the user already has. Nothing to provision, no network, bucket or
load balancer; the VM group authorizes the cluster key on each host and reports them as nodes."""

from __future__ import annotations

from typing import Any

from stix.components.base import Cloud
from stix.spec import ClusterSpec


class Ssh(Cloud):
    name = "ssh"
    ssh_rule = False  # the user's own machines and network
    preset_host_keys = False  # pinned from the pool file
    probes_capacity = True
    pooled = True

    @classmethod
    def vm_group(cls, spec: ClusterSpec, network: Any, opts: Any) -> Any:
        from stix.components.ssh.vm_group import PoolGroup, PoolGroupArgs

        return PoolGroup("vms", PoolGroupArgs(spec), opts)


CLOUD = Ssh
