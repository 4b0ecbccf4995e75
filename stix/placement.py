"""From a task to a placement: catalogs, enabled clouds and the optimizer, in one call."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from stix.config import EffectiveConfig
from stix.models.task import Task
from stix.optimizer import COST, Candidate, NoFeasiblePlacement, Placement, optimize

ALL = "all"


def place(task: Task, target: str = COST, clouds: Optional[Sequence[str]] = None,
          config: Optional[EffectiveConfig] = None) -> Placement:
    """clouds (`--clouds`): None plans over the enabled clouds; ('all',) over every cloud, credentials or not;
    names over those clouds only, credentials or not. config: its allowed_clouds limits all three (default: the
    user's, the project's and the task's config files)."""
    from stix.catalog.load import load_catalog
    from stix.errors import UsageError
    from stix.pools import pool_sizes
    from stix.project import config_for

    foreign = task.resources.foreign_clouds()
    if foreign:
        raise UsageError(f"not supported yet: {', '.join(foreign)}")
    config = config if config is not None else config_for(task)
    check_allowed(task, config)
    considered, only = considered_clouds(clouds, config)
    catalog = load_catalog(config.allowed_clouds)  # every allowed catalog, so a refusal can say where it would fit
    try:
        return optimize(task.resources, task.num_nodes, catalog, considered, target, pools=pool_sizes(), only=only)
    except NoFeasiblePlacement as exc:
        if config.allowed_clouds is None:
            raise
        raise NoFeasiblePlacement(f"{exc.message}; allowed_clouds is {', '.join(config.allowed_clouds)} "
                                  f"({config.source('allowed_clouds')})") from None


def considered_clouds(clouds: Optional[Sequence[str]], config: Optional[EffectiveConfig] = None
                      ) -> tuple[list[str], Optional[frozenset[str]]]:
    """(the clouds the optimizer may place on, the clouds it is limited to or None); config's allowed_clouds
    limits both."""
    from stix.components.base import CLOUD_NAMES
    from stix.credentials import enabled_clouds
    from stix.errors import UsageError
    from stix.models.values import CLOUD_ALIASES

    allowed = config.allowed_clouds if config is not None else None
    if clouds is None:
        return enabled_clouds(config=config), None  # enabled_clouds already keeps to allowed_clouds
    if tuple(clouds) == (ALL,):
        if allowed is not None:
            return [name for name in CLOUD_NAMES if name in allowed], frozenset(allowed)
        return list(CLOUD_NAMES), None
    names = [CLOUD_ALIASES.get(name, name) for name in clouds]
    for name in names:
        if name not in CLOUD_NAMES:
            raise UsageError(f"--clouds {name!r}: not a cloud; expected all, or a comma list of "
                             f"{', '.join(CLOUD_NAMES)}")
        if allowed is not None and name not in allowed:
            assert config is not None
            raise UsageError(f"--clouds {name}: the config forbids it: allowed_clouds is {', '.join(allowed)} "
                             f"({config.source('allowed_clouds')})")
    return names, frozenset(names)


def check_allowed(task: Task, config: EffectiveConfig) -> None:
    """A task that names a cloud outside allowed_clouds is refused, naming the file that says so."""
    from stix.errors import UsageError

    allowed = config.allowed_clouds
    if allowed is None:
        return
    resources = task.resources
    named = [("resources", resources.placement.cloud)]
    for kind in ("any_of", "ordered"):
        named += [(f"resources.{kind}[{i}]", alt.placement.cloud) for i, alt in enumerate(getattr(resources, kind) or [])]
    for where, cloud in named:
        if cloud is not None and cloud not in allowed:
            raise UsageError(f"{where}: cloud {cloud}: the config forbids it: allowed_clouds is {', '.join(allowed)} "
                             f"({config.source('allowed_clouds')})")


def without_credentials(clouds: Sequence[str]) -> list[str]:
    """Which of clouds have no credentials on this machine (they plan and preview, but cannot apply)."""
    from stix.credentials import enabled_clouds

    enabled = set(enabled_clouds())
    return [name for name in dict.fromkeys(clouds) if name not in enabled]


def placement_dict(placement: Placement, target: str, lacking: set[str]) -> dict[str, Any]:
    """`stix optimize --format json`: the chosen placement and every candidate, best first, each saying whether
    this machine has credentials for its cloud (lacking: the clouds without, from without_credentials)."""

    def one(c: Candidate) -> dict[str, Any]:
        return {"cloud": c.cloud, "region": c.region, "zone": c.zone, "instance_type": c.instance_type,
                "accelerators": {c.accelerator: c.accelerator_count} if c.accelerator else None,
                "cpus": c.vcpus, "memory": c.memory_gib, "use_spot": c.spot, "num_nodes": c.num_nodes,
                "hourly_cost": round(c.hourly_cost, 6), "price_per_node": c.price_per_node,
                "credentials": c.cloud not in lacking}

    return {"target": target, "chosen": one(placement.chosen), "candidates": [one(c) for c in placement.candidates]}
