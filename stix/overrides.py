"""Resource overrides from the command line (SkyPilot's --infra, --gpus, ...), applied to a loaded task.

They apply after the load stage, to the typed Task, as SkyPilot's `Task.set_resources_override` does:
a flag wins over the task file's field, on the task's resources and on each any_of/ordered alternative.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional

from stix.models.task import Task


@dataclass(frozen=True)
class ResourceOverrides:
    infra: Optional[str] = None
    gpus: Optional[str] = None
    cpus: Optional[str] = None
    memory: Optional[str] = None
    num_nodes: Optional[int] = None
    use_spot: Optional[bool] = None
    instance_type: Optional[str] = None
    image_id: Optional[str] = None
    disk_size: Optional[int] = None
    disk_tier: Optional[str] = None
    ports: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) in (None, ()) for f in fields(self))


def apply_overrides(task: Task, overrides: Optional[ResourceOverrides]) -> Task:
    """The task with the overrides applied (a copy); bad values are one-line UsageErrors naming the flag."""
    if overrides is None or overrides.empty:
        return task
    raise NotImplementedError("resource overrides: issue 19")
