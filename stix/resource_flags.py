"""The command line's resource flags (SkyPilot's --infra, --gpus, ...) as given, before stix.overrides parses
and applies them to a task. Standard library only: every CLI module imports this at startup, and `stix queue`,
`logs` and `cancel` must not pay for the task models' import."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional


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


FLAGS = {"infra": "--infra", "gpus": "--gpus", "cpus": "--cpus", "memory": "--memory", "num_nodes": "--num-nodes",
         "use_spot": "--use-spot", "instance_type": "--instance-type", "image_id": "--image-id",
         "disk_size": "--disk-size", "disk_tier": "--disk-tier", "ports": "--ports"}

JOB_DEMAND = ("gpus", "cpus", "memory", "num_nodes")
"""What a job on an existing cluster may ask for (`stix exec`); the rest shape the cluster itself."""
