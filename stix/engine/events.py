"""The engine's event stream, read once: each Automation API event as a typed record.

ChangeSet (previews), DriftReport (refreshes) and update progress all consume these records;
nothing else looks inside the engine's events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

_OP_ALIASES = {"create-replacement": "replace", "delete-replaced": None, "discard": "delete", "refresh": None,
               "read": None}
"""Engine steps shown as the change a user reviews; None: a step that is part of another change."""


@dataclass(frozen=True)
class ResourceEvent:
    phase: str
    """planned (a step about to happen, or previewed), done (the step happened), or error (a diagnostic)."""
    name: str
    type: str
    """stix's display type: dynamic resources as stix:<module>:<Name>."""
    op: str = ""
    """The engine's step (create, update, delete, same, refresh, ...), as the engine names it."""
    diffs: tuple[str, ...] = ()
    old_inputs: dict[str, Any] = field(default_factory=dict)
    new_inputs: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    @property
    def change(self) -> Optional[str]:
        """The op as a reviewed change (create-replacement reads as replace; refresh and read as nothing)."""
        return _OP_ALIASES.get(self.op, self.op)

    @property
    def changed_inputs(self) -> tuple[str, ...]:
        """Inputs whose recorded and planned values differ (dynamic providers report no per-property diff)."""
        return tuple(sorted(key for key in set(self.old_inputs) | set(self.new_inputs)
                            if not key.startswith("__") and self.old_inputs.get(key) != self.new_inputs.get(key)))


def display_type(type_token: str) -> str:
    """Dynamic resources carry Pulumi's generic token; show them as stix's own."""
    prefix = "pulumi-python:dynamic/"
    return "stix:" + type_token[len(prefix):] if type_token.startswith(prefix) else type_token


def _internal(type_token: str) -> bool:
    return type_token == "pulumi:pulumi:Stack" or type_token.startswith("pulumi:providers:")


def read(event: Any) -> Optional[ResourceEvent]:
    """One engine event as a record, or None for events about no user-visible resource."""
    for attribute, phase in (("resource_pre_event", "planned"), ("res_outputs_event", "done")):
        step = getattr(event, attribute, None)
        if step is not None:
            meta = step.metadata
            if _internal(meta.type):
                return None
            return ResourceEvent(
                phase, meta.urn.rsplit("::", 1)[-1], display_type(meta.type), getattr(meta.op, "value", str(meta.op)),
                tuple(key for key in (meta.diffs or []) if not key.startswith("__")),
                dict(meta.old.inputs) if getattr(meta, "old", None) else {},
                dict(meta.new.inputs) if getattr(meta, "new", None) else {},
            )
    failed = getattr(event, "diagnostic_event", None)
    if failed is not None and failed.severity == "error" and failed.urn:
        return ResourceEvent("error", failed.urn.rsplit("::", 1)[-1], "", message=failed.message.strip())
    return None


def listener(handle: Callable[[ResourceEvent], None]) -> Callable[[Any], None]:
    """An Automation API on_event callback that hands each resource event to `handle`, typed."""

    def on_event(event: Any) -> None:
        record = read(event)
        if record is not None:
            handle(record)

    return on_event
