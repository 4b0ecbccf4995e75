"""Build a Go program from Go modules in a small wrapper module, the way stix builds every Go program it
needs (the Pulumi engine, the local cloud's object store): CGO off, module mode, the local toolchain only,
the build log in the work directory, the result copied into place atomically."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from stix.errors import PrerequisiteMissing

Log = Callable[[str], None]
GO_ENV = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}


@dataclass(frozen=True)
class Step:
    label: str
    """What the progress line says (`fetching modules`, `compiling`)."""
    command: tuple[str, ...]


def find_go(hint: str) -> str:
    go = shutil.which("go")
    if not go:
        raise PrerequisiteMissing(hint)
    return go


def go_env() -> dict[str, str]:
    return {**os.environ, **GO_ENV}


def write_wrapper(work_dir: Path, module: str, extra: str = "") -> None:
    """The wrapper module (once: a later run keeps what `go get` resolved)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    go_mod = work_dir / "go.mod"
    if not go_mod.exists():
        go_mod.write_text(f"module {module}\n\ngo 1.22\n\n{extra}")


def run_steps(steps: Sequence[Step], work_dir: Path, what: str, error: Callable[[str], Exception], log: Log,
              started: float) -> None:
    """Each step with its output in work_dir/build.log; the first that fails raises error(message)."""
    env = go_env()
    with open(work_dir / "build.log", "a") as build_log:
        for step in steps:
            log(f"stix: {step.label} ({time.monotonic() - started:.0f}s elapsed)")
            done = subprocess.run(list(step.command), cwd=work_dir, env=env, stdin=subprocess.DEVNULL,
                                  stdout=build_log, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                raise error(f"building {what} failed while {step.label} (exit {done.returncode}); "
                            f"see {work_dir / 'build.log'}")


def install(built: Path, target: Path) -> Path:
    """Copy the built binary to target atomically (a reader never sees half a file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    shutil.copy2(built, tmp)
    os.replace(tmp, target)
    return target
