"""A cluster stack's outputs with as few engine processes as possible.

Each Pulumi CLI process derives the passphrase key (1,000,000 iterations) before it does anything, and the
Automation API reads outputs with two of them (masked, then plain) and, after an update, its history with a
third. stix's inline program (stix.engine.program.ClusterProgram) already saw the outputs as the engine
resolved them; those are used where it saw them all, and one process reads them otherwise.
"""

from __future__ import annotations

import datetime
import json
from typing import Any, Optional


def seen_outputs(stack: Any) -> Optional[dict[str, Any]]:
    """What the stack's inline program saw in its last run, when it saw every output; else None."""
    seen = getattr(stack.workspace.program, "seen", None)
    return dict(seen) if seen is not None else None


def read_outputs(stack: Any) -> dict[str, Any]:
    """The stack's outputs from its state: one engine process (the plain values; stix never shows them)."""
    result = stack._run_pulumi_cmd_sync(["stack", "output", "--json", "--show-secrets"])
    return json.loads(result.stdout or "{}")


def outputs_of(stack: Any) -> dict[str, Any]:
    seen = seen_outputs(stack)
    return seen if seen is not None else read_outputs(stack)


def up(stack: Any, **kwargs: Any) -> dict[str, Any]:
    """stack.up(**kwargs), returning the outputs, without the Automation API's reads after it (outputs twice,
    history once): the update's own outputs, as the program saw them (else read once)."""
    from pulumi import automation as auto

    def outputs() -> dict[str, Any]:
        return {key: auto.OutputValue(value, False) for key, value in outputs_of(stack).items()}

    def info(show_secrets: bool = True) -> auto.UpdateSummary:  # the summary is never read: not asked of the engine
        return auto.UpdateSummary(kind="update", start_time=datetime.datetime.now(), message="", environment={},
                                  config={}, result="succeeded")

    stack.outputs, stack.info = outputs, info
    try:
        result = stack.up(**kwargs)
    finally:
        del stack.outputs, stack.info
    return {key: getattr(value, "value", value) for key, value in result.outputs.items()}
