"""The Pulumi programs: a ClusterSpec in, component resources and stack outputs out."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from stix.spec import ClusterSpec


def deploy(spec: ClusterSpec) -> None:
    import pulumi

    from stix.components.base import cloud_for

    outputs = cloud_for(spec.cloud).deploy(spec)
    pulumi.export("cluster", spec.cluster)
    pulumi.export("cloud", spec.cloud)
    for key, value in outputs.items():
        pulumi.export(key, value)


def make_program(spec: ClusterSpec) -> Callable[[], None]:
    """stix's own inline program: the spec is already planned."""
    return lambda: deploy(spec)


def project_program(root: Path) -> Callable[[], None]:
    """The program plain `pulumi` runs in a stix project: the stack's pinned config, planned the way stix plans it."""

    def program() -> None:
        import pulumi

        from stix.errors import StixError
        from stix.home import StixHome
        from stix.pin import NAMESPACE, Pin, spec_from_pin

        config = pulumi.Config(NAMESPACE)
        cluster = pulumi.get_stack()
        try:
            pin = Pin.from_config(config.get("task"), config.get_object("placement"), config.get_bool("stopped") or False,
                                  where=f"stack {cluster}")
            spec = spec_from_pin(StixHome.from_env(), root, cluster, pin)
        except StixError as exc:
            raise pulumi.RunError(exc.message) from None
        deploy(spec)

    return program


def empty_program() -> None:
    """For operations that never run the program (destroy, refresh)."""
