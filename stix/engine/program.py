"""The inline Pulumi program: a ClusterSpec in, component resources and stack outputs out."""

from __future__ import annotations

from typing import Callable

from stix.spec import ClusterSpec

def make_program(spec: ClusterSpec) -> Callable[[], None]:
    def program() -> None:
        import pulumi

        from stix.components.base import cloud_for

        outputs = cloud_for(spec.cloud).deploy(spec)
        pulumi.export("cluster", spec.cluster)
        pulumi.export("cloud", spec.cloud)
        for key, value in outputs.items():
            pulumi.export(key, value)

    return program


def empty_program() -> None:
    """For operations that never run the program (destroy, refresh)."""
