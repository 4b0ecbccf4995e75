"""Planned and applied changes, collected from the engine's event stream as typed records."""

from __future__ import annotations

from dataclasses import dataclass, field

from stix.engine.events import ResourceEvent

__all__ = ["CHANGE_OPS", "ChangeSet", "ResourceChange"]

CHANGE_OPS = ("create", "update", "replace", "delete")


@dataclass(frozen=True)
class ResourceChange:
    op: str
    type: str
    name: str
    diffs: tuple[str, ...] = ()


@dataclass
class ChangeSet:
    changes: list[ResourceChange] = field(default_factory=list)
    violations: list = field(default_factory=list)
    """What the policy packs reported on the plan (stix.policy.violations.Violation), in the engine's order."""

    @property
    def blocked(self) -> bool:
        """A mandatory violation: `up` stops before anything is created."""
        return any(v.mandatory for v in self.violations)

    def counts(self) -> dict[str, int]:
        out = {op: 0 for op in (*CHANGE_OPS, "same")}
        for change in self.changes:
            out[change.op] = out.get(change.op, 0) + 1
        return out

    @property
    def has_changes(self) -> bool:
        return any(change.op in CHANGE_OPS for change in self.changes)

    def add(self, record: ResourceEvent) -> None:
        op = record.change
        if record.phase != "planned" or op is None:
            return
        if any(existing.name == record.name and existing.type == record.type for existing in self.changes):
            return
        compared = record.changed_inputs if record.old_inputs and record.new_inputs else ()
        self.changes.append(ResourceChange(op, record.type, record.name, record.diffs or compared))
