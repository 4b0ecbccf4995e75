"""Find or provide the Pulumi CLI, in DESIGN.md's order.

1. `pulumi` on PATH at the pinned version;
2. the copy stix installed in its cache;
3. the official release download, when the machine is online;
4. a build from Go modules.
A good cached copy is never rebuilt. The cache is shared by every stix home.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from stix.engine import PULUMI_VERSION
from stix.engine.build import build_from_go_modules
from stix.errors import EngineError
from stix.home import cache_dir

RELEASE_URL = "https://get.pulumi.com/releases/sdk/pulumi-v{v}-linux-x64.tar.gz"
DOWNLOAD_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Engine:
    path: Path
    version: str
    source: str
    """How stix got it: 'PATH', 'cache (built from Go modules)', 'cache (downloaded)'."""

    @property
    def root(self) -> Path:
        """The directory whose bin/pulumi is the CLI, as the Automation API wants it."""
        return self.path.parent.parent


def engine_dir() -> Path:
    return cache_dir() / "engine" / f"v{PULUMI_VERSION}"


def _cached_binary() -> Path:
    return engine_dir() / "bin" / "pulumi"


def _stamp() -> Path:
    return engine_dir() / "stamp.json"


def probe_version(binary: Path) -> Optional[str]:
    try:
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30,
                             env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().lstrip("v") if out.returncode == 0 else None


def find_engine(provide: bool = True, log=lambda line: print(line, file=sys.stderr)) -> Engine:
    """Return a usable engine; with provide=False, never download or build."""
    on_path = shutil.which("pulumi")
    if on_path and probe_version(Path(on_path)) == PULUMI_VERSION:
        return Engine(Path(on_path), PULUMI_VERSION, "PATH")
    cached = _cached_engine()
    if cached:
        return cached
    if not provide:
        raise EngineError(f"Pulumi engine v{PULUMI_VERSION} is not installed; run: stix engine install")
    target = _cached_binary()
    source = _download(target, log) or _build(target, log)
    version = probe_version(target)
    if version != PULUMI_VERSION:
        target.unlink(missing_ok=True)
        raise EngineError(f"the Pulumi engine at {target} reports version {version!r}, expected {PULUMI_VERSION}")
    _stamp().write_text(json.dumps({"version": version, "source": source}))
    return Engine(target, version, source)


def _cached_engine() -> Optional[Engine]:
    binary = _cached_binary()
    try:
        stamp = json.loads(_stamp().read_text())
    except (OSError, ValueError):
        return None
    if stamp.get("version") == PULUMI_VERSION and os.access(binary, os.X_OK):
        return Engine(binary, PULUMI_VERSION, str(stamp.get("source", "cache")))
    return None


def _download(target: Path, log) -> Optional[str]:
    url = RELEASE_URL.format(v=PULUMI_VERSION)
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            payload = response.read()
    except Exception as exc:  # offline machines land here, quickly
        log(f"stix: release download unavailable ({type(exc).__name__}); building from Go modules instead")
        return None
    log(f"stix: downloaded the Pulumi engine from {url}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(payload)) as archive:
        member = archive.extractfile("pulumi/pulumi")
        if member is None:
            return None
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(member.read())
        tmp.chmod(0o755)
        os.replace(tmp, target)
    return "cache (downloaded release)"


def _build(target: Path, log) -> str:
    build_from_go_modules(cache_dir() / "engine-build", target, log)
    return "cache (built from Go modules)"
