"""Which policy packs check a plan, and the config each gets: the built-in pack (its limits from stix's config
files), a project's `policies/*/`, and the packs config names. Handed to the engine as --policy-pack flags."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from stix.atomic import write_atomic
from stix.config import EffectiveConfig
from stix.errors import ConfigError
from stix.policy.builtin import PACK_DIR

BUILTIN_PACK = PACK_DIR
PACK_FILE = "PulumiPolicy.yaml"
PROJECT_PACKS = "policies"
"""A project's own packs: each directory under <project>/policies/ that holds a PulumiPolicy.yaml."""
PACK_CONFIG_FILE = "policy-config.json"
"""A pack's own config beside its PulumiPolicy.yaml, handed to the engine with it (Pulumi's --policy-pack-config)."""


@dataclass(frozen=True)
class PlanFacts:
    """What only stix knows about a plan, which the built-in pack's budget per project needs: what the project's
    other clusters cost while up."""

    other_clusters_hourly_cost: float = 0.0


@dataclass(frozen=True)
class PolicyRun:
    packs: tuple[Path, ...]
    configs: tuple[Path, ...]
    """One per pack, in the same order (the engine pairs --policy-pack-config with --policy-pack)."""
    names: dict[str, str] = field(default_factory=dict)
    """Pack directory -> where it was named (for errors about a pack that fails to load)."""

    def engine_args(self) -> dict[str, Any]:
        if not self.packs:
            return {}
        return {"policy_packs": [str(p) for p in self.packs], "policy_pack_configs": [str(c) for c in self.configs]}


def builtin_config(config: EffectiveConfig, facts: PlanFacts = PlanFacts()) -> dict[str, Any]:
    """The built-in pack's config, Pulumi's shape: {policy-name: {enforcementLevel?, <its properties>}}."""
    policy = config.values.policy
    out: dict[str, dict[str, Any]] = {}

    def put(name: str, **properties: Any) -> None:
        values = {key: value for key, value in properties.items() if value is not None}
        if values:
            out.setdefault(name, {}).update(values)

    put("allowed-clouds", clouds=list(config.allowed_clouds) if config.allowed_clouds is not None else None)
    if policy is not None:
        put("allowed-regions", regions=policy.allowed_regions)
        put("allowed-instance-families", families=policy.allowed_instance_families)
        put("max-gpus-per-cluster", limit=policy.max_gpus_per_cluster)
        put("max-hourly-cost-per-cluster", limit=policy.max_hourly_cost_per_cluster)
        put("max-hourly-cost-per-project", limit=policy.max_hourly_cost_per_project,
            otherClustersHourlyCost=facts.other_clusters_hourly_cost if policy.max_hourly_cost_per_project else None)
        for name, level in (policy.enforcement or {}).items():
            out.setdefault(name, {})["enforcementLevel"] = level
    return out


def policy_run(config: EffectiveConfig, project_root: Optional[Path], scratch: Path,
               facts: PlanFacts = PlanFacts()) -> PolicyRun:
    """The packs for one plan, their config files written under scratch (a directory of stix's home)."""
    named: dict[Path, str] = {BUILTIN_PACK: "stix's built-in pack"}
    if project_root is not None and (project_root / PROJECT_PACKS).is_dir():
        for directory in sorted((project_root / PROJECT_PACKS).iterdir()):
            if (directory / PACK_FILE).is_file():
                named.setdefault(directory.resolve(), f"the project's {PROJECT_PACKS}/{directory.name}")
    policy = config.values.policy
    for path in (policy.packs or []) if policy is not None else []:
        directory = Path(path)
        where = config.source("policy.packs")
        if not (directory / PACK_FILE).is_file():
            raise ConfigError(f"{where}: policy.packs: {directory} is not a policy pack (no {PACK_FILE} in it)")
        named.setdefault(directory.resolve(), f"policy.packs in {where}")
    scratch.mkdir(parents=True, exist_ok=True)
    configs = []
    for pack in named:
        body = builtin_config(config, facts) if pack == BUILTIN_PACK else _own_config(pack)
        text = json.dumps(body, indent=2, sort_keys=True) + "\n"
        # Named after its content: a run beside this one (the same cluster) never rewrites this run's files.
        target = scratch / f"pack-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
        if not target.exists():
            write_atomic(target, text)
        configs.append(target)
    return PolicyRun(tuple(named), tuple(configs), {str(k): v for k, v in named.items()})


def _own_config(pack: Path) -> dict[str, Any]:
    path = pack / PACK_CONFIG_FILE
    if not path.exists():
        return {}
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the pack's config: {exc}") from None
    if not isinstance(body, dict):
        raise ConfigError(f"{path}: a pack's config is a JSON object of policy names, got {type(body).__name__}")
    return body


def pack_failure(error: Exception, policies: Optional[PolicyRun]) -> Exception:
    """An engine failure that is a pack failing to load or start, as a PolicyError naming the pack (a pack that
    cannot run is an error, never a pass); any other failure as it was."""
    from stix.errors import PolicyError

    message = getattr(error, "message", str(error))
    if policies is None or "policy pack" not in message.lower():
        return error
    where = next((named for pack, named in policies.names.items() if pack in message), None)
    return PolicyError(f"a policy pack could not run{f' ({where})' if where else ''}: {message}")
