"""The built-in pack as pulumi-policy sees it: each check of stix.policy.rules wrapped as a Policy, with its
config schema (the limits stix writes from its config files; stix.policy.packs.builtin_config)."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from stix.policy import rules

PACK_NAME = "stix-guardrails"


def _plan_of(args: Any) -> Optional[rules.PlanView]:
    """The `plan` output of the stack resource, None when the stack is not a stix cluster's."""
    for resource in args.resources:
        if resource.resource_type == "pulumi:pulumi:Stack":
            value: Any = resource.props.get(rules.PLAN_OUTPUT) if hasattr(resource.props, "get") else None
            if isinstance(value, Mapping):
                return rules.PlanView.from_output(value)
    return None


def _plan_policy(name: str, description: str, check: Callable[[rules.PlanView, dict], Optional[str]],
                 properties: dict[str, Any]):
    from pulumi_policy import PolicyConfigSchema, StackValidationPolicy

    def validate(args: Any, report_violation: Callable[..., None]) -> None:
        plan = _plan_of(args)
        if plan is None:
            return
        message = check(plan, dict(args.get_config() or {}))
        if message:
            report_violation(message)

    return StackValidationPolicy(name=name, description=description, validate=validate,
                                 config_schema=PolicyConfigSchema(properties=properties))


def policies() -> list[Any]:
    strings = {"type": "array", "items": {"type": "string"}}
    number = {"type": "number", "minimum": 0}
    return [
        _plan_policy("allowed-clouds", "Clusters only on the clouds stix's config allows (allowed_clouds).",
                     lambda plan, c: rules.cloud_not_allowed(plan, c.get("clouds")), {"clouds": strings}),
        _plan_policy("allowed-regions", "Clusters only in the regions policy.allowed_regions lists.",
                     lambda plan, c: rules.region_not_allowed(plan, c.get("regions")), {"regions": strings}),
        _plan_policy("allowed-instance-families", "Only the instance families policy.allowed_instance_families lists.",
                     lambda plan, c: rules.family_not_allowed(plan, c.get("families")), {"families": strings}),
        _plan_policy("max-gpus-per-cluster", "At most policy.max_gpus_per_cluster accelerators in one cluster.",
                     lambda plan, c: rules.too_many_gpus(plan, c.get("limit")), {"limit": number}),
        _plan_policy("max-hourly-cost-per-cluster", "A cluster within policy.max_hourly_cost_per_cluster ($/hr).",
                     lambda plan, c: rules.over_cluster_budget(plan, c.get("limit")), {"limit": number}),
        _plan_policy("max-hourly-cost-per-project",
                     "The project's clusters together within policy.max_hourly_cost_per_project ($/hr).",
                     lambda plan, c: rules.over_project_budget(plan, c.get("limit"),
                                                               float(c.get("otherClustersHourlyCost") or 0)),
                     {"limit": number, "otherClustersHourlyCost": number}),
    ]


def serve() -> None:
    """Serve the pack to the engine (PolicyPack's constructor does, printing its port); never returns."""
    from pulumi_policy import EnforcementLevel, PolicyPack

    PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=policies())
