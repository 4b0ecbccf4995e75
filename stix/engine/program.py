"""The inline Pulumi program: a ClusterSpec in, component resources and stack outputs out."""

from __future__ import annotations

from typing import Callable

from stix.spec import ClusterSpec

VM_GROUP_NAME = "vms"


def make_program(spec: ClusterSpec) -> Callable[[], None]:
    def program() -> None:
        import pulumi

        if spec.cloud != "local":
            raise RuntimeError(f"cloud {spec.cloud!r} has no components yet")
        from stix.components.local.vm_group import VmGroup, VmGroupArgs

        group = VmGroup(
            VM_GROUP_NAME,
            VmGroupArgs(
                cluster=spec.cluster,
                num_nodes=spec.num_nodes,
                node_root=spec.node_root,
                authorized_key=spec.ssh_public_key,
            ),
        )
        pulumi.export("cluster", spec.cluster)
        pulumi.export("cloud", spec.cloud)
        pulumi.export("nodes", group.node_outputs)

    return program


def empty_program() -> None:
    """For operations that never run the program (destroy, refresh)."""
