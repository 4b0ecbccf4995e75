"""Whole-or-nothing writes of stix's own state files (spec.json, info.json, pins).

A crash or Ctrl-C mid-write must leave the old file or the new one, never a
truncated one: write a temporary file beside it, fsync, rename over it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: str | bytes, new_mode: int = 0o600, mode: int | None = None) -> None:
    """new_mode: a new file's permissions; a replaced file keeps its own, unless `mode` says what it gets.
    The temporary file is its owner's alone until then, whatever the umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except OSError:
            mode = new_mode
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
