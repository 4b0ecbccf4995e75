"""The local cloud: real sshd nodes on loopback addresses, managed by a dynamic provider.

No network (loopback needs none), bucket or load balancer: the capabilities say so.
"""

from __future__ import annotations

from typing import Any, Optional

from stix.components.base import Cloud
from stix.spec import ClusterSpec


class Local(Cloud):
    name = "local"
    stop = True
    ssh_rule = False  # loopback
    preset_host_keys = False  # the node provider makes each node's key and reports it
    vm_fields = False  # a node is a directory on this machine
    nodes_are_processes = True

    @classmethod
    def missing_on_host(cls) -> Optional[str]:
        from stix.components.local import sshd

        try:
            sshd.find_sshd()
        except sshd.NodeProcessError as exc:
            return str(exc)
        return None

    @classmethod
    def vm_group(cls, spec: ClusterSpec, network: Any, opts: Any) -> Any:
        from stix.components.local.vm_group import VmGroup, VmGroupArgs

        return VmGroup("vms", VmGroupArgs(cluster=spec.cluster, num_nodes=spec.num_nodes, node_root=spec.node_root,
                                         authorized_key=spec.ssh_public_key,
                                         state="stopped" if spec.stopped else "running"), opts)


CLOUD = Local
