"""A cloud's service balancer as the serve controller drives it: by re-applying the service's stack.

A cloud balancer has no runtime API stix can reach without credentials it does not keep, so its targets are
an input of the service's stack (BalancerSpec.targets): changing which replicas take traffic is an update of
that stack with the new targets, and the cloud drains what leaves (AWS's deregistration delay, GCP's and
Azure's connection draining). The spec the stack was applied with is kept in the service's record, so a
restarted controller re-applies from what was last applied.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Callable, Mapping, Sequence

from stix.components.serving import SERVICE_LABEL, stack_outputs
from stix.errors import ProvisionError, UsageError
from stix.home import StixHome
from stix.serve.balancer import Backend, BalancerInfo, BalancerSpec
from stix.serve.store import ServiceRecord, ServiceStore

Apply = Callable[[BalancerSpec], BalancerInfo]


def replica_labels(service: str) -> dict[str, str]:
    """Labels the controller adds to a replica's task: Kubernetes selects the replicas' pods by them."""
    return {SERVICE_LABEL: service}


def check_spec(spec: BalancerSpec) -> None:
    """Refuse, in one line and before any stack is previewed, a balancer the placed cloud cannot make."""
    from stix.components.base import ServiceBalancers, cloud_for

    cloud = cloud_for(spec.cloud)
    if not issubclass(cloud, ServiceBalancers):
        raise UsageError(f"not supported yet: stix serve on {spec.cloud} (no service load balancer there)")
    cloud.check_service_balancer(spec)


def spec_record(spec: BalancerSpec) -> dict[str, Any]:
    """The spec as JSON-able data, as the stack exports it and the service's record keeps it (`balancer["spec"]`)."""
    return dict(stack_outputs(spec)["spec"])


def spec_from(data: Mapping[str, Any]) -> BalancerSpec:
    known = {field.name for field in fields(BalancerSpec)}
    values = {key: value for key, value in data.items() if key in known}
    values["labels"] = tuple((str(k), str(v)) for k, v in values.get("labels", ()))
    values["targets"] = tuple(str(target) for target in values.get("targets", ()))
    return BalancerSpec(**values)


def spec_of(record: ServiceRecord) -> BalancerSpec:
    data = record.balancer.get("spec")
    if not isinstance(data, Mapping):
        raise ProvisionError(f"service {record.name}: its record holds no load balancer spec to re-apply; "
                             f"`stix serve down {record.name}` and serve it again")
    return spec_from(data)


def targets_of(backends: Sequence[Backend]) -> tuple[str, ...]:
    """host:port of each backend, sorted: the same set is the same stack input whatever its order."""
    return tuple(sorted({f"{backend.host}:{backend.port}" for backend in backends}))


class StackBalancer:
    """The Balancer of a service on a cloud: set_backends applies the service's stack again with the backends as
    its targets (nothing when they are its targets already); backends() are the names last applied. On Kubernetes
    the Service selects the replicas' pods by label, so a new target set changes only what the stack records.

    requests_total is always 0: a cloud balancer's request count is in the cloud's metrics (CloudWatch,
    Cloud Monitoring, Azure Monitor; a Kubernetes Service counts nothing), which stix does not read yet, so
    the autoscaler measures no load on a cloud and holds a service at min_replicas. That is a known gap.
    """

    def __init__(self, home: StixHome, record: ServiceRecord, apply: Apply) -> None:
        """apply: applies the service's stack with a spec (stix.serve.lb_stack.apply_balancer, which gives it)."""
        self.home = home
        self.service = record.name
        self.spec = spec_of(record)
        self._names = [str(name) for name in record.balancer.get("backends", ())]
        self._outputs = {k: v for k, v in record.balancer.items() if k not in ("spec", "backends")}
        self._apply = apply

    def set_backends(self, backends: Sequence[Backend]) -> None:
        targets = targets_of(backends)
        names = sorted(backend.name for backend in backends)
        if targets == self.spec.targets and names == self._names:
            return
        spec = replace(self.spec, targets=targets)
        if targets != self.spec.targets:
            self._outputs = dict(self._apply(spec).outputs)
        self.spec, self._names = spec, names
        ServiceStore(self.home).set_service(self.service, balancer=self.record())

    def backends(self) -> list[str]:
        return list(self._names)

    def requests_total(self) -> int:
        return 0

    def record(self) -> dict[str, Any]:
        """What the service's record keeps of this balancer: the stack's outputs, the spec applied, the names."""
        return {**self._outputs, "spec": spec_record(self.spec), "backends": list(self._names)}

