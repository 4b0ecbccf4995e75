"""SeaweedFS's `weed`, built once from Go modules and cached beside the engine (every stix home shares it).

A copy is good when its stamp (written only after the binary ran `weed version`) names the pinned version;
a binary that is there without a stamp (built by hand) is checked once and stamped, never rebuilt.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from stix import gobuild
from stix.errors import PrerequisiteMissing, ProvisionError
from stix.home import cache_dir

MODULE = "github.com/seaweedfs/seaweedfs"
VERSION = "v0.0.0-20261109003541-7506e5f91cd6"
PACKAGE = f"{MODULE}/weed"
GO_INSTALL_HINT = ("Go is needed to build the local cloud's object store (SeaweedFS): apt-get install -y golang-go "
                   "(Go 1.22 or newer), then run: stix store install")
EXPECTED = "about 5 minutes on 2 cores (modules about 40 s, compiling about 3.5 min)"
PROBE_TIMEOUT_S = 30.0


def store_dir() -> Path:
    """The build's wrapper module and its result: <cache>/objectstore/<version>/."""
    return cache_dir() / "objectstore" / VERSION


def binary_path() -> Path:
    return store_dir() / "bin" / "weed"


def stamp_path() -> Path:
    return store_dir() / "stamp.json"


def build_steps(go: str, work_dir: Path) -> list[gobuild.Step]:
    return [
        gobuild.Step("fetching modules", (go, "get", f"{PACKAGE}@{VERSION}")),
        gobuild.Step("compiling", (go, "build", "-trimpath", "-ldflags", "-s -w",
                                   "-o", str(work_dir / "bin" / "weed"), PACKAGE)),
    ]


def probe(binary: Path) -> Optional[str]:
    """What `weed version` says (its first line), or None where it does not run."""
    try:
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = out.stdout.strip().splitlines()
    return lines[0].strip() if out.returncode == 0 and lines and lines[0].startswith("version") else None


def cached() -> Optional[Path]:
    """The stamped binary; an unstamped one that runs is stamped now."""
    binary = binary_path()
    if not os.access(binary, os.X_OK):
        return None
    try:
        if json.loads(stamp_path().read_text()).get("version") == VERSION:
            return binary
    except (OSError, ValueError, AttributeError):
        pass
    reported = probe(binary)
    if reported is None:
        return None
    _write_stamp(reported)
    return binary


def _write_stamp(reported: str) -> None:
    tmp = stamp_path().with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": VERSION, "reports": reported}))
    os.replace(tmp, stamp_path())


def find_weed(provide: bool = False, log=lambda line: print(line, file=sys.stderr)) -> Path:
    """The store's binary; with provide, built from Go modules when there is no good copy."""
    found = cached()
    if found:
        return found
    if not provide:
        raise PrerequisiteMissing(f"the local cloud's object store (SeaweedFS) is not installed in {store_dir()}; "
                                  f"run: stix store install")
    return build(log)


def build(log=lambda line: print(line, file=sys.stderr)) -> Path:
    go = gobuild.find_go(GO_INSTALL_HINT)
    work_dir = store_dir()
    log(f"stix: building the local cloud's object store (SeaweedFS {VERSION}) from Go modules "
        f"(one time; {EXPECTED})")
    log(f"stix: build directory {work_dir}, log {work_dir / 'build.log'}")
    started = time.monotonic()
    gobuild.write_wrapper(work_dir, "stix.invalid/object-store")
    gobuild.run_steps(build_steps(go, work_dir), work_dir, "the object store", ProvisionError, log, started)
    reported = probe(binary_path())
    if reported is None:
        raise ProvisionError(f"the object store built at {binary_path()} does not run `weed version`; "
                             f"see {work_dir / 'build.log'}")
    _write_stamp(reported)
    log(f"stix: object store built in {time.monotonic() - started:.0f}s: {binary_path()}")
    return binary_path()
