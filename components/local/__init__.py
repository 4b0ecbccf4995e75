"""The local cloud: real sshd nodes on loopback addresses, managed by a dynamic provider."""

from __future__ import annotations

from typing import Any

from stix.components.base import Cloud
from stix.spec import ClusterSpec


class Local(Cloud):
    name = "local"

    @classmethod
    def deploy(cls, spec: ClusterSpec) -> dict[str, Any]:
        from stix.components.local.vm_group import VmGroup, VmGroupArgs

        cls.check(spec)
        group = VmGroup("vms", VmGroupArgs(cluster=spec.cluster, num_nodes=spec.num_nodes,
                                          node_root=spec.node_root, authorized_key=spec.ssh_public_key))
        return {"nodes": group.node_outputs}


CLOUD = Local
