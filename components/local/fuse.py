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

MOUNTINFO = Path("/proc/self/mountinfo")
UNMOUNT_TIMEOUT_S = 10.0


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040)."""
    out, i = [], 0
    while i < len(field):
        digits = field[i + 1:i + 4]
        if field[i] == "\\" and len(digits) == 3 and digits.isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def fuse_mounts_under(root: Path) -> list[Path]:
    """FUSE mount points at or under root, deepest first."""
    base = os.path.realpath(root)
    try:
        lines = MOUNTINFO.read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        head, _, tail = line.partition(" - ")
        fields, fstype = head.split(), (tail.split() or [""])[0]
        if len(fields) < 5 or not fstype.startswith("fuse"):
            continue
        point = _unescape(fields[4])
        if point == base or point.startswith(base.rstrip("/") + "/"):
            found.append(Path(point))
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
