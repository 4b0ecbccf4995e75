"""The Pulumi programs: a ClusterSpec in, component resources and stack outputs out."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from stix.spec import CONFIG_NAMESPACE, BucketSpec, ClusterSpec

if TYPE_CHECKING:
    from stix.serve.balancer import BalancerSpec


def deploy(spec: ClusterSpec, seen: Optional[Callable[[dict[str, Any]], None]] = None) -> None:
    """seen: called once with every stack output's value, when all of them are known (an update; a preview in
    which no output would change)."""
    import pulumi

    from stix.components.base import cloud_for

    from stix.policy.rules import PLAN_OUTPUT, plan_output

    outputs = {
        PLAN_OUTPUT: plan_output(spec),  # what every policy pack checks budgets and limits against
        "cluster_name": spec.cluster,
        "cloud": spec.cloud,
        "num_nodes": spec.num_nodes,
        **cloud_for(spec.cloud).deploy(spec),
    }
    found: dict[str, Any] = {}

    def saw(key: str, value: Any) -> Any:
        found[key] = value
        if seen is not None and len(found) == len(outputs):
            seen(dict(found))
        return value

    for key, value in outputs.items():
        # The value itself is exported (apply keeps it secret if it was); an unknown one never reaches saw.
        pulumi.export(key, pulumi.Output.from_input(value).apply(functools.partial(saw, key)) if seen else value)


class ClusterProgram:
    """stix's own inline program (the spec is already planned). It runs in this process, so it sees the stack
    outputs as the engine resolves them: `seen` holds them after the last run in which all were known. Reading
    them there spares the two engine processes (each deriving the passphrase key) that reading them back costs."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.seen: Optional[dict[str, Any]] = None

    def __call__(self) -> None:
        self.seen = None
        deploy(self.spec, self._saw)

    def _saw(self, outputs: dict[str, Any]) -> None:
        self.seen = outputs


def make_program(spec: ClusterSpec) -> ClusterProgram:
    return ClusterProgram(spec)


def deploy_bucket(bucket: BucketSpec) -> None:
    import pulumi

    for key, value in bucket_outputs(bucket).items():
        pulumi.export(key, value)


def bucket_outputs(bucket: BucketSpec) -> dict:
    """A persistent bucket's own stack: the store's cloud builds it with its provider, tagged as the bucket's."""
    import pulumi

    from stix.components.base import store_cloud

    cloud = store_cloud(bucket.store)
    if cloud is None:
        raise pulumi.RunError(f"bucket {bucket.name}: no cloud of stix's has the store {bucket.store}")
    provider = cloud.bucket_provider(bucket)  # type: ignore[attr-defined]
    opts = pulumi.ResourceOptions(provider=provider) if provider is not None else None
    made = cloud.make_bucket(None, "bucket", bucket, None, opts)  # type: ignore[attr-defined]
    return {"name": bucket.name, "store": bucket.store, "url": made.url}


def bucket_program(bucket: BucketSpec) -> Callable[[], None]:
    return lambda: deploy_bucket(bucket)


def deploy_balancer(spec: "BalancerSpec") -> None:
    """A service's own stack (stix serve): one load balancer on the replicas' cloud, never a cluster."""
    import pulumi

    from stix.components.base import ServiceBalancers, cloud_for

    cloud = cloud_for(spec.cloud)
    if not issubclass(cloud, ServiceBalancers):
        raise pulumi.RunError(f"service {spec.service}: {spec.cloud} has no service load balancer")
    made = cloud.make_service_balancer(spec, pulumi.ResourceOptions())
    pulumi.export("service", spec.service)
    pulumi.export("cloud", spec.cloud)
    pulumi.export("endpoint", made.endpoint)
    for key, value in (getattr(made, "outputs", None) or {}).items():
        pulumi.export(key, value)


def balancer_program(spec: "BalancerSpec") -> Callable[[], None]:
    return lambda: deploy_balancer(spec)


def project_program(root: Path) -> Callable[[], None]:
    """The program plain `pulumi` runs in a stix project: the spec `stix up` stored in the stack's config."""

    def program() -> None:
        import pulumi

        cluster = pulumi.get_stack()
        stored = pulumi.Config(CONFIG_NAMESPACE).get_object("spec")
        if stored is None:
            raise pulumi.RunError(f"stack {cluster}: config: {CONFIG_NAMESPACE}:spec is missing; run `stix up` for "
                                  f"the cluster once, which stores it")
        try:
            spec = ClusterSpec.from_dict(stored)
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            raise pulumi.RunError(f"stack {cluster}: config: {CONFIG_NAMESPACE}:spec: {exc}") from None
        deploy(spec)

    return program


def empty_program() -> None:
    """For operations that never run the program (destroy, refresh)."""
