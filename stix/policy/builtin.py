"""The built-in pack as pulumi-policy sees it: each check of stix.policy.rules wrapped as a Policy, with its
config schema (the limits stix writes from its config files; stix.policy.packs.builtin_config): the plan-wide
limits, the checks over every resource of the plan (ports, tags, encryption) and, per resource, plaintext secrets."""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional

from stix.policy import rules

PACK_DIR = Path(__file__).parent / "pack"
"""The pack's directory, which the engine is handed (stix.policy.packs.BUILTIN_PACK)."""
PACK_NAME = "stix-guardrails"
PACK_VERSION = "0.0.1"
"""What pulumi-policy's PolicyPack reports for a Python pack (the engine takes PulumiPolicy.yaml's version)."""
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
"""How the engine marks a secret in a request's properties (Pulumi's property wire format)."""


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


def _plain(value: Any) -> Any:
    """A copy of pulumi-policy's property proxy as plain dicts and lists, unknowns as rules.UNKNOWN (the proxy
    raises on reading one)."""
    from pulumi_policy.proxy import UnknownValueError

    def read(container: Any, key: Any) -> Any:
        try:
            return _plain(container[key])
        except UnknownValueError:
            return rules.UNKNOWN

    if isinstance(value, Mapping):
        return {key: read(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [read(value, i) for i in range(len(value))]
    return value


def _views(args: Any) -> list[rules.ResourceView]:
    return [rules.ResourceView(r.urn, r.resource_type, r.name, _plain(r.props),
                               r.parent.urn if getattr(r, "parent", None) is not None else "")
            for r in args.resources]


def _resources_policy(name: str, description: str,
                      check: Callable[[list[rules.ResourceView], Optional[rules.PlanView]], list[tuple[str, str]]],
                      needs_plan: bool = True):
    """A check over every resource of the plan, each finding reported against its resource's URN. A stack policy,
    not a per-resource one, because the checks need the plan (the ports the task asked for, the cluster's name);
    it reads each resource's outputs, which in a preview are its planned inputs (and a component's, what it
    registered). needs_plan: skipped on a stack that is not a stix cluster's (no `plan` output)."""
    from pulumi_policy import StackValidationPolicy

    def validate(args: Any, report_violation: Callable[..., None]) -> None:
        plan = _plan_of(args)
        if needs_plan and plan is None:
            return
        for urn, message in check(_views(args), plan):
            report_violation(message, urn)

    return StackValidationPolicy(name=name, description=description, validate=validate)


# --- which inputs were secrets ----------------------------------------------------------------------------------
# pulumi-policy unwraps secrets before a policy sees a resource's inputs (props hold plain values), so a check for
# plaintext secrets cannot tell a wrapped key from a leaked one. The raw request still marks them: this wrapper of
# pulumi-policy's deserialization (the one function its analyzer calls on every request, right before it calls each
# policy's validate in the same thread) records the marked paths for the policy to read. It returns exactly what
# pulumi-policy's own function returns.

_seen = threading.local()


def secret_paths(raw: Any, path: rules.SecretPath = ()) -> Iterator[rules.SecretPath]:
    """The paths of a request's properties (Pulumi's wire format, as MessageToDict gives them) marked secret."""
    if isinstance(raw, Mapping):
        if raw.get(SECRET_SIG_KEY) == SECRET_SIG:
            yield path
            return
        for key, value in raw.items():
            yield from secret_paths(value, path + (key,))
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            yield from secret_paths(value, path + (i,))


def recording_deserialize(original: Callable[..., Any]) -> Callable[..., Any]:
    def deserialize_properties(props: Any, proxy_secrets: bool = False) -> Any:
        _seen.secret_paths = frozenset(secret_paths(props))
        return original(props, proxy_secrets)

    deserialize_properties.recording = True  # type: ignore[attr-defined]
    deserialize_properties.__wrapped__ = original  # type: ignore[attr-defined]
    return deserialize_properties


def keeping_paths(original: Callable[..., Any]) -> Callable[..., Any]:
    """pulumi-policy's analyzer decodes the resource's provider (its own properties, through the same
    deserialization) after the resource, right before the policy runs: the paths recorded are the resource's."""
    def _get_provider_resource(self: Any, request: Any) -> Any:
        kept = last_secret_paths()
        try:
            return original(self, request)
        finally:
            _seen.secret_paths = kept

    _get_provider_resource.recording = True  # type: ignore[attr-defined]
    return _get_provider_resource


def record_secret_paths() -> None:
    """Install the wrappers in pulumi-policy's analyzer (once per process)."""
    from pulumi_policy import policy as analyzer

    if not getattr(analyzer.deserialize_properties, "recording", False):
        analyzer.deserialize_properties = recording_deserialize(analyzer.deserialize_properties)
    servicer = analyzer._PolicyAnalyzerServicer
    if not getattr(servicer._get_provider_resource, "recording", False):
        servicer._get_provider_resource = keeping_paths(servicer._get_provider_resource)  # type: ignore[method-assign]


def last_secret_paths() -> frozenset[rules.SecretPath]:
    return getattr(_seen, "secret_paths", frozenset())


def _plaintext_secrets_policy():
    from pulumi_policy import ResourceValidationPolicy

    def validate(args: Any, report_violation: Callable[..., None]) -> None:
        found = rules.plaintext_secrets(_plain(args.props), last_secret_paths())
        if found:
            report_violation(f"private-key text in {', '.join(found)} is not a secret (wrap it in "
                             f"pulumi.Output.secret: the engine would keep it in plain text)")

    return ResourceValidationPolicy(name="no-plaintext-secrets",
                                    description="No private key in a resource's inputs unless marked secret.",
                                    validate=validate)


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
        _resources_policy("no-world-open-ports", "Nothing reachable from anywhere beyond the ports the task asked for.",
                          lambda views, plan: rules.world_open_ports(views, plan.ports if plan else ())),
        _resources_policy("resources-tagged-with-cluster", "Every taggable resource carries stix-cluster=<cluster>.",
                          lambda views, plan: rules.untagged(views, plan.cluster if plan else "")),
        _resources_policy("disks-encrypted", "Disks and buckets encrypted where the cloud lets them be unencrypted.",
                          lambda views, plan: rules.unencrypted_disks(views), needs_plan=False),
        _plaintext_secrets_policy(),
    ]


ENFORCEMENT = "mandatory"
"""The pack's enforcement level (each policy's, unless stix's config says otherwise)."""


def serve() -> None:
    """Serve the pack to the engine (PolicyPack's constructor does, printing its port); never returns. The pack's
    own process: stix.engine.analyzers serves the same pack from stix's process (new_servicer)."""
    from pulumi_policy import EnforcementLevel, PolicyPack

    record_secret_paths()
    PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel(ENFORCEMENT), policies=policies())


def new_servicer() -> Any:
    """The analyzer servicer PolicyPack's constructor makes for this pack (the same arguments: its name, the version
    pulumi-policy gives Python packs, the policies, the enforcement level), for one engine invocation. It leaves the
    process's Pulumi runtime settings alone: the pack runs inside stix, whose inline program owns them (the pack
    process takes them from the engine's environment; no built-in policy reads them)."""
    from pulumi_policy import EnforcementLevel

    record_secret_paths()
    return _in_process_servicer()(PACK_NAME, PACK_VERSION, policies(), EnforcementLevel(ENFORCEMENT))


@functools.lru_cache(maxsize=1)
def _in_process_servicer() -> type:
    from pulumi_policy import policy as analyzer

    class InProcessServicer(analyzer._PolicyAnalyzerServicer):
        def _configure_runtime_settings(self) -> None:
            pass

    return InProcessServicer
