"""Calling the engine: one error mapping, Ctrl-C that lets the engine finish, and update progress as events."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

from stix.engine.events import ResourceEvent, listener
from stix.errors import Aborted, ProvisionError, StackLocked
from stix.events import EventSink, Note, ResourceChanged, ResourceFailed

T = TypeVar("T")


def engine_call(fn: Callable[[], T], what: str, cluster: str = "CLUSTER") -> T:
    from pulumi import automation as auto

    try:
        return fn()
    except auto.CommandError as exc:
        lines = _engine_lines(exc)
        if any("currently locked" in line for line in lines):
            holder = next((line.split(": created by ", 1)[1] for line in lines if ": created by " in line), "unknown")
            raise StackLocked(
                f"engine refused {what}: the cluster's stack is locked by another update (created by {holder}); "
                f"nothing was changed. Wait for it to finish; if that process died, `stix unlock {cluster}` frees it"
            ) from None
        raise ProvisionError(f"engine failed while {what}: {_engine_message(lines)}") from None


def _engine_lines(exc: Exception) -> list[str]:
    text = f"{getattr(exc, 'stderr', '')}\n{getattr(exc, 'stdout', '')}\n{exc}"
    return [line.strip() for line in text.splitlines()]


def _engine_message(lines: list[str]) -> str:
    errors = [line.split("error:", 1)[1].strip() for line in lines
              if "error:" in line and "update failed" not in line and "preview failed" not in line]
    chosen = next((e for e in errors if e), None) or next((line for line in lines if line), "unknown error")
    return chosen[:500]


def progress(events: EventSink) -> Callable[[Any], None]:
    """An engine event callback that reports each resource changed or failed."""

    def report(record: ResourceEvent) -> None:
        if record.phase == "done" and record.op not in ("same", "refresh"):
            events(ResourceChanged(record.op, record.name))
        elif record.phase == "error":
            events(ResourceFailed(record.name, record.message))

    return listener(report)


@contextmanager
def interrupts_deferred(events: EventSink, cluster: str, what: str) -> Iterator[None]:
    """Let the engine finish or cancel cleanly on Ctrl-C, then stop with a way out.

    A terminal's Ctrl-C reaches the engine too (same process group), which then
    cancels gracefully; stix keeps serving the program until the engine exits,
    so state is written and `stix destroy` can clean up whatever was created.
    """
    interrupted: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        if not interrupted:
            events(Note(f"Interrupted: waiting for the engine to stop the {what} safely...", "warning"))
        interrupted.append(signum)

    # Signal handlers belong to the main thread; elsewhere (the managed-jobs controller's threads) a
    # launch has no Ctrl-C of its own to defer.
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, handler) if on_main else None
    try:
        yield
    except ProvisionError:
        if interrupted:
            raise Aborted(f"{what} interrupted; cluster {cluster} may be partly created: "
                          f"`stix destroy {cluster}` removes it") from None
        raise
    finally:
        if on_main:
            signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise Aborted(f"{what} interrupted after it finished; cluster {cluster} is as shown by `stix status`")
