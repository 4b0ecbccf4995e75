"""Drift: what a refresh found changed behind stix's back, as typed records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stix.engine.changes import display_type


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

    def on_event(self, event: Any) -> None:
        done = getattr(event, "res_outputs_event", None)
        if done is None:
            return
        meta = done.metadata
        op = getattr(meta.op, "value", str(meta.op))
        if op not in ("update", "delete"):
            return
        old = dict(meta.old.inputs) if meta.old else {}
        new = dict(meta.new.inputs) if meta.new else {}
        properties = tuple(
            (key, old.get(key), new.get(key))
            for key in sorted(set(old) | set(new))
            if not key.startswith("__") and old.get(key) != new.get(key)
        )
        self.resources.append(
            DriftedResource(meta.urn.rsplit("::", 1)[-1], display_type(meta.type), op, properties)
        )
