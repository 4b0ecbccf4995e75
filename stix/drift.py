"""Drift: what a refresh found changed behind stix's back, as typed records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stix.engine.events import ResourceEvent


@dataclass(frozen=True)
class DriftedResource:
    name: str
    type: str
    op: str
    """'update' (a property changed) or 'delete' (the resource is gone)."""
    properties: tuple[tuple[str, Any, Any], ...] = ()
    """(property, recorded value, real value)."""

    def describe(self) -> str:
        if self.op == "delete":
            return f"{self.name} ({self.type}): gone"
        changed = ", ".join(f"{key}: {old!r} -> {new!r}" for key, old, new in self.properties)
        return f"{self.name} ({self.type}): {changed or 'changed'}"


@dataclass
class DriftReport:
    cluster: str
    resources: list[DriftedResource] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.resources)

    def add(self, record: ResourceEvent) -> None:
        if record.phase != "done" or record.op not in ("update", "delete"):
            return
        properties = tuple((key, record.old_inputs.get(key), record.new_inputs.get(key))
                           for key in record.changed_inputs)
        self.resources.append(DriftedResource(record.name, record.type, record.op, properties))
