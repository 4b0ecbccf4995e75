"""Executables a test puts on a PATH of its own (version probes of the engine and the object store)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest


def executable(path: Path, script: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{script}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A cache and a PATH of the test's own."""
    monkeypatch.setenv("STIX_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "path-bin"))
    return tmp_path
