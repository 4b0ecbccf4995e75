"""`stix doctor`: each prerequisite OK, or the exact fix."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from stix.home import StixHome, cache_dir


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def checks() -> list[Check]:
    from stix.components.base import CLOUD_NAMES, cloud_for
    from stix.engine.locate import engine_dir, find_engine
    from stix.errors import StixError

    home = StixHome.from_env()
    out: list[Check] = []
    try:
        engine = find_engine(provide=False)
        out.append(Check("engine", True, f"pulumi v{engine.version} at {engine.path} ({engine.source})"))
    except StixError:
        fix = "run: stix engine install"
        if not shutil.which("go"):
            fix = "install Go (apt-get install -y golang-go), then run: stix engine install"
        out.append(Check("engine", False, f"not installed in {engine_dir()}; {fix}"))
    for name in CLOUD_NAMES:
        cloud = cloud_for(name)
        if cloud.host_program:
            ok, detail = cloud.host_check()
            out.append(Check(cloud.host_program, ok, detail))
    out.extend(storage_checks())
    backend = home.backend_url
    if backend.startswith("file://"):
        path = backend[len("file://"):]
        parent = path if os.path.isdir(path) else os.path.dirname(path.rstrip("/"))
        writable = os.access(parent, os.W_OK) if os.path.exists(parent) else os.access(home.root.parent, os.W_OK)
        out.append(Check("state", writable, f"{backend}" + ("" if writable else f"; make {parent} writable")))
    else:
        out.append(Check("state", True, backend))
    if home.root.exists():
        mode = home.root.stat().st_mode & 0o777
        ok = mode & 0o077 == 0
        out.append(Check("home", ok, f"{home.root}" + ("" if ok else f"; mode {oct(mode)}: run chmod 700 {home.root}")))
    else:
        out.append(Check("home", True, f"{home.root} (created on first use)"))
    out.append(Check("cache", True, str(cache_dir())))
    return out


def storage_checks() -> list[Check]:
    """What buckets need on this machine: rclone, FUSE's fusermount3, and the local cloud's store."""
    from stix.errors import StixError
    from stix.objectstore.build import find_weed, store_dir

    out = []
    for program, fix in (("rclone", "apt-get install -y rclone"), ("fusermount3", "apt-get install -y fuse3")):
        found = shutil.which(program)
        out.append(Check(program, bool(found), found or f"not found (buckets need it); run: {fix}"))
    try:
        out.append(Check("store", True, f"SeaweedFS at {find_weed(provide=False)}"))
    except StixError:
        fix = "run: stix store install"
        if not shutil.which("go"):
            fix = "install Go (apt-get install -y golang-go), then run: stix store install"
        out.append(Check("store", False, f"the local cloud's object store is not installed in {store_dir()}; {fix}"))
    return out


def run_checks() -> int:
    results = checks()
    for check in results:
        print(f"{'OK  ' if check.ok else 'FAIL'} {check.name:11} {check.detail}")
    return 0 if all(check.ok for check in results) else 1
