"""Planned and applied changes, collected from the engine's event stream as typed records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CHANGE_OPS = ("create", "update", "replace", "delete")
_OP_ALIASES = {"create-replacement": "replace", "delete-replaced": None, "same": "same",
               "discard": "delete", "refresh": None, "read": None}


@dataclass(frozen=True)
class ResourceChange:
    op: str
    type: str
    name: str
    diffs: tuple[str, ...] = ()


@dataclass
class ChangeSet:
    changes: list[ResourceChange] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {op: 0 for op in (*CHANGE_OPS, "same")}
        for change in self.changes:
            out[change.op] = out.get(change.op, 0) + 1
        return out

    @property
    def has_changes(self) -> bool:
        return any(change.op in CHANGE_OPS for change in self.changes)

    def on_event(self, event: Any) -> None:
        pre = getattr(event, "resource_pre_event", None)
        if pre is None:
            return
        meta = pre.metadata
        op = getattr(meta.op, "value", str(meta.op))
        op = _OP_ALIASES.get(op, op)
        if op is None or meta.type == "pulumi:pulumi:Stack" or meta.type.startswith("pulumi:providers:"):
            return
        name = meta.urn.rsplit("::", 1)[-1]
        if any(existing.name == name and existing.type == display_type(meta.type) for existing in self.changes):
            return
        diffs = tuple(key for key in (meta.diffs or []) if not key.startswith("__")) or _changed_inputs(meta)
        self.changes.append(ResourceChange(op=op, type=display_type(meta.type), name=name, diffs=diffs))


def display_type(type_token: str) -> str:
    """Dynamic resources carry Pulumi's generic token; show them as stix's own."""
    prefix = "pulumi-python:dynamic/"
    return "stix:" + type_token[len(prefix):] if type_token.startswith(prefix) else type_token


def _changed_inputs(meta: Any) -> tuple[str, ...]:
    """Dynamic providers report no per-property diff; compare the recorded and planned inputs instead."""
    old = dict(meta.old.inputs) if getattr(meta, "old", None) else {}
    new = dict(meta.new.inputs) if getattr(meta, "new", None) else {}
    if not old or not new:
        return ()
    return tuple(sorted(k for k in set(old) | set(new) if not k.startswith("__") and old.get(k) != new.get(k)))
