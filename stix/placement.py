"""From a task to a placement: catalogs, enabled clouds and the optimizer, in one call."""

from __future__ import annotations

from typing import Optional

from stix.models.task import Task
from stix.optimizer import COST, Placement, optimize


def place(task: Task, target: str = COST, clouds: Optional[list[str]] = None) -> Placement:
    from stix.catalog.load import load_catalog
    from stix.credentials import enabled_clouds

    from stix.pools import pool_sizes

    enabled = clouds if clouds is not None else enabled_clouds()
    catalog = load_catalog()  # every catalog, so a refusal can say where the request would fit
    return optimize(task.resources, task.num_nodes, catalog, enabled, target, pools=pool_sizes())
