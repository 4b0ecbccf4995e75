"""The built-in pack's checks, pure: plain records in, violation messages out (stix.policy.builtin adapts them to
pulumi-policy; tests call them directly).

Plan-wide checks read the `plan` stack output (stix.engine.program.deploy exports it): what the optimizer chose,
so a budget or a GPU limit is checked on the numbers the preview shows, by the engine, in every plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

PLAN_OUTPUT = "plan"


@dataclass(frozen=True)
class PlanView:
    cluster: str
    cloud: str
    region: str
    zone: str = ""
    instance_type: str = ""
    accelerator: str = ""
    accelerators_per_node: float = 0.0
    num_nodes: int = 1
    spot: bool = False
    hourly_cost: float = 0.0
    ports: tuple[tuple[int, int], ...] = field(default_factory=tuple)

    @property
    def gpus(self) -> float:
        return self.accelerators_per_node * self.num_nodes

    @classmethod
    def from_output(cls, value: Mapping[str, Any]) -> "PlanView":
        return cls(
            cluster=str(value.get("cluster", "")), cloud=str(value.get("cloud", "")),
            region=str(value.get("region", "")), zone=str(value.get("zone", "")),
            instance_type=str(value.get("instance_type", "")), accelerator=str(value.get("accelerator", "")),
            accelerators_per_node=float(value.get("accelerators_per_node") or 0),
            num_nodes=int(value.get("num_nodes") or 1), spot=bool(value.get("spot")),
            hourly_cost=float(value.get("hourly_cost") or 0),
            ports=tuple((int(p[0]), int(p[1])) for p in value.get("ports") or ()),
        )


def plan_output(spec: Any) -> dict[str, Any]:
    """The `plan` stack output of a ClusterSpec (plain values only: the engine shows them to every pack)."""
    return {
        "cluster": spec.cluster, "cloud": spec.cloud, "region": spec.region, "zone": spec.zone,
        "instance_type": spec.instance_type, "accelerator": spec.accelerator,
        "accelerators_per_node": spec.accelerator_count, "num_nodes": spec.num_nodes, "spot": spec.use_spot,
        "hourly_cost": round(spec.hourly_cost, 6), "ports": [list(p) for p in spec.ports],
    }


def instance_family(instance_type: str) -> str:
    """g5.xlarge -> g5, a2-highgpu-1g -> a2, Standard_NC24ads_A100_v4 -> Standard_NC24ads; local -> local."""
    if "." in instance_type:
        return instance_type.split(".", 1)[0]
    if instance_type.startswith("Standard_"):
        return "_".join(instance_type.split("_")[:2])
    return instance_type.split("-", 1)[0]


def cloud_not_allowed(plan: PlanView, clouds: Optional[list[str]]) -> Optional[str]:
    if clouds is None or plan.cloud in clouds:
        return None
    return f"cluster {plan.cluster} is placed on {plan.cloud}; allowed clouds: {', '.join(clouds) or 'none'}"


def region_not_allowed(plan: PlanView, regions: Optional[list[str]]) -> Optional[str]:
    if regions is None or plan.region in regions:
        return None
    return f"cluster {plan.cluster} is placed in {plan.region}; allowed regions: {', '.join(regions) or 'none'}"


def family_not_allowed(plan: PlanView, families: Optional[list[str]]) -> Optional[str]:
    if families is None:
        return None
    family = instance_family(plan.instance_type)
    if any(family == allowed or plan.instance_type.startswith(allowed) for allowed in families):
        return None
    return (f"cluster {plan.cluster} uses {plan.instance_type} (family {family}); allowed families: "
            f"{', '.join(families) or 'none'}")


def too_many_gpus(plan: PlanView, limit: Optional[float]) -> Optional[str]:
    if limit is None or plan.gpus <= limit:
        return None
    return (f"cluster {plan.cluster} has {_count(plan.gpus)} {plan.accelerator or 'accelerator'}(s) "
            f"({plan.num_nodes} node(s) x {_count(plan.accelerators_per_node)}); the limit is {_count(limit)}")


def over_cluster_budget(plan: PlanView, limit: Optional[float]) -> Optional[str]:
    if limit is None or plan.hourly_cost <= limit:
        return None
    return f"cluster {plan.cluster} costs ${plan.hourly_cost:,.2f}/hr; the budget per cluster is ${limit:,.2f}/hr"


def over_project_budget(plan: PlanView, limit: Optional[float], others: float) -> Optional[str]:
    if limit is None or plan.hourly_cost + others <= limit:
        return None
    return (f"the project's clusters would cost ${plan.hourly_cost + others:,.2f}/hr (this one "
            f"${plan.hourly_cost:,.2f}/hr, the others up ${others:,.2f}/hr); the budget per project is "
            f"${limit:,.2f}/hr")


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
