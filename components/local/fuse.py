"""FUSE hygiene on local nodes: a node's sessions may `rclone mount` buckets under its directory.

Before a node's processes are ended and its directory removed, every FUSE mount under it is lazily
unmounted: otherwise rmtree would walk into a live mount (deleting the bucket's objects), and a stale one
(its rclone killed: "Transport endpoint is not connected") would block the removal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from stix.mountinfo import parse_mountinfo

MOUNTINFO = Path("/proc/self/mountinfo")
UNMOUNT_TIMEOUT_S = 10.0


def fuse_mounts_under(root: Path) -> list[Path]:
    """FUSE mount points at or under root, deepest first."""
    base = os.path.realpath(root)
    try:
        lines = MOUNTINFO.read_text().splitlines()
    except OSError:
        return []
    found = [Path(entry.mount_point) for entry in parse_mountinfo("\n".join(lines))
             if entry.fstype.startswith("fuse")
             and (entry.mount_point == base or entry.mount_point.startswith(base.rstrip("/") + "/"))]
    return sorted(found, key=lambda path: len(path.parts), reverse=True)


def unmount_all(root: Path) -> list[Path]:
    """Lazily unmount every FUSE mount under root (live or stale); returns those that would not go."""
    fusermount = shutil.which("fusermount3") or shutil.which("fusermount")
    for point in fuse_mounts_under(root):
        commands = ([[fusermount, "-u", "-z", str(point)]] if fusermount else []) + [["umount", "-l", str(point)]]
        for command in commands:
            try:
                done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                      timeout=UNMOUNT_TIMEOUT_S)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if done.returncode == 0:
                break
    return fuse_mounts_under(root)
