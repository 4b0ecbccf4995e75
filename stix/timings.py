"""STIX_TIMINGS=1: how long each step of a command took, and each engine (Pulumi CLI) invocation, printed to
stderr as the process exits. Off (the default), a step costs one boolean test."""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

ENV = "STIX_TIMINGS"
ENABLED = os.environ.get(ENV, "") not in ("", "0")
T = TypeVar("T")

_steps: list[tuple[str, float, float]] = []
"""(name, started, seconds); started is time.perf_counter()."""
_lock = threading.Lock()
_engine_counted = False


@contextmanager
def step(name: str) -> Iterator[None]:
    if not ENABLED:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        record(name, started)


def record(name: str, started: float) -> None:
    with _lock:
        _steps.append((name, started, time.perf_counter() - started))


def timed(name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A function decorated is timed as the step `name` (when timings are on)."""

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        if not ENABLED:
            return fn

        def wrapper(*args: Any, **kwargs: Any) -> T:
            with step(name):
                return fn(*args, **kwargs)

        wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        return wrapper

    return decorate


def count_engine_calls() -> None:
    """Time every Pulumi CLI process the Automation API starts, as a step named `engine: <verb>`."""
    global _engine_counted
    if not ENABLED or _engine_counted:
        return
    _engine_counted = True
    from pulumi.automation import _cmd

    original = _cmd.PulumiCommand.run

    def run(self: Any, args: list[str], *rest: Any, **kwargs: Any) -> Any:
        words = [a for a in args if not a.startswith("-")][:2]
        with step("engine: " + " ".join(words)):
            return original(self, args, *rest, **kwargs)

    _cmd.PulumiCommand.run = run  # type: ignore[method-assign]


def _process_age() -> float:
    """Seconds since this process started (Linux /proc; 0 where unknown)."""
    try:
        start_ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
        uptime = float(open("/proc/uptime").read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def report() -> str:
    now = time.perf_counter()
    age = _process_age()
    origin = now - age if age else (_steps[0][1] if _steps else now)
    lines = []
    with _lock:
        steps = sorted(_steps, key=lambda s: s[1])
    if steps and age:
        lines.append(f"{'startup (interpreter, imports, CLI)':44} {1000 * (steps[0][1] - origin):7.0f} ms")
    for name, started, seconds in steps:
        lines.append(f"{name:44} {1000 * seconds:7.0f} ms  (at {1000 * (started - origin):6.0f})")
    engine = [s for s in steps if s[0].startswith("engine: ")]
    lines.append(f"{'engine invocations':44} {len(engine):7d}      ({1000 * sum(s[2] for s in engine):.0f} ms)")
    if age:
        lines.append(f"{'whole process so far':44} {1000 * age:7.0f} ms")
    return "\n".join("stix-timings " + line for line in lines)


if ENABLED:
    import atexit

    atexit.register(lambda: print(report(), file=sys.stderr))
