"""What every node does with buckets: rclone present, its config written, COPY fetched, MOUNTs mounted.

All of it over the cluster's SSH connections, every node in parallel. The remotes reach a node only as a
file of mode 0600 written through SFTP (RCLONE_CONFIG_PATH under its home); every command names that file
with --config, so no secret is ever in a command line. Each mount is recorded beside its log (the remote
path it serves), so a second attach can tell its own healthy mount, to leave alone, from a dead one (the
rclone process gone: "Transport endpoint is not connected"), to remount, and from someone else's.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import shlex
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from stix.components.base import bucket_uri
from stix.errors import StorageError
from stix.spec import NodeInfo
from stix.storage.mounts import COPY, MOUNT_CACHED, CacheOptions, StorageMount
from stix.mountinfo import MountEntry, parse_mountinfo
from stix.storage.rclone import Remotes, config_text, last_line, scrub
from stix.sync import remote_path

CONFIG_DIR = ".config/stix"
CONFIG_NAME = "rclone.conf"
STATE_DIR = ".stix/storage"
"""Under the node's home: logs/<mount>.log (rclone's own log of each mount) and mounts/<mount>.json."""
CACHE_DIR = ".cache/stix/rclone"
"""Under the node's home, one directory per mount point: files written but not yet uploaded wait there
(marked Dirty in its vfsMeta), and the next mount of that point uploads them."""
DIR_CACHE_TIME = "2s"
"""How long a mount trusts its listing of a directory: another node's new file shows within this."""
MOUNT_WRITE_BACK = "0s"
"""MOUNT: a closed file is uploaded at once (MOUNT_CACHED takes vfs_write_back from the task)."""
INSTALL_TIMEOUT_S = 900.0
COPY_TIMEOUT_S = 6 * 3600.0
MOUNT_TIMEOUT_S = 60.0
DETACH_UPLOAD_TIMEOUT_S = 600.0
"""detach waits this long for written files to reach the bucket before it unmounts."""
PROBE_TIMEOUT_S = 30.0

CACHE_FLAGS = (
    ("transfers", "--transfers"),
    ("buffer_size", "--buffer-size"),
    ("vfs_cache_max_size", "--vfs-cache-max-size"),
    ("vfs_cache_max_age", "--vfs-cache-max-age"),
    ("vfs_read_ahead", "--vfs-read-ahead"),
    ("vfs_read_chunk_size", "--vfs-read-chunk-size"),
    ("vfs_read_chunk_streams", "--vfs-read-chunk-streams"),
    ("vfs_write_back", "--vfs-write-back"),
)
"""SkyPilot's storage.config.mount_cached names -> rclone mount flags."""

NEWER_FLAGS = ("--vfs-read-chunk-streams",)
"""Flags an older rclone (Debian's 1.60) does not know: left out where the node's rclone lacks them."""


def attach(conns, mounts: Sequence[StorageMount], remotes: Remotes) -> None:
    """Make every mount available on every node of conns (a ClusterConnections), in parallel."""
    if not mounts:
        return
    by_name = {node.name: conn for node, conn in zip(conns.info.nodes, conns.connections)}
    conns.map(lambda node: _Node(by_name[node.name], node, remotes).attach(mounts))


def detach(conns, mounts: Sequence[StorageMount]) -> None:
    """Unmount every MOUNT and MOUNT_CACHED of ours on every node (COPY leaves its files)."""
    mounted = [m for m in mounts if m.mode != COPY]
    if not mounted:
        return
    by_name = {node.name: conn for node, conn in zip(conns.info.nodes, conns.connections)}
    conns.map(lambda node: _Node(by_name[node.name], node, {}).detach(mounted))


def mount_flags(mount: StorageMount, supported: Callable[[str], bool] = lambda flag: True) -> list[str]:
    """The `rclone mount` flags of one mount (besides --config, --daemon and the paths)."""
    flags = ["--dir-cache-time", DIR_CACHE_TIME]
    if mount.mode == MOUNT_CACHED:
        flags += ["--vfs-cache-mode", "full"]
        for name, flag in CACHE_FLAGS:
            value = getattr(mount.cache, name)
            if value is not None and supported(flag):
                flags += [flag, str(value)]
    else:
        flags += ["--vfs-cache-mode", "writes", "--vfs-write-back", MOUNT_WRITE_BACK]
    if mount.cache.read_only:
        flags.append("--read-only")
    return flags


class _Node:
    def __init__(self, conn, node: NodeInfo, remotes: Remotes) -> None:
        self.conn = conn
        self.node = node
        self.remotes = remotes
        self.home = node.home.rstrip("/")
        self.config = f"{self.home}/{CONFIG_DIR}/{CONFIG_NAME}"
        self.state = f"{self.home}/{STATE_DIR}"

    # -- running commands -------------------------------------------------------------------------

    def run(self, command: str, timeout: float) -> tuple[int, list[str]]:
        lines: list[str] = []
        code = self.conn.run(command, lines.append, timeout=timeout)
        return code, lines

    def fail(self, message: str) -> StorageError:
        return StorageError(scrub(f"node {self.node.name}: {message}", self.remotes))

    def rclone(self, *args: str) -> str:
        return " ".join(["rclone", "--config", shlex.quote(self.config), *map(shlex.quote, args)])

    # -- attach ---------------------------------------------------------------------------------------

    def attach(self, mounts: Sequence[StorageMount]) -> None:
        needs_fuse = any(m.mode != COPY for m in mounts)
        self.ensure_rclone(needs_fuse)
        self.conn.put_bytes(f"{self.home}/{CONFIG_DIR}", CONFIG_NAME, config_text(self.remotes).encode(), 0o600)
        newer = self.unsupported_flags() if any(m.mode == MOUNT_CACHED for m in mounts) else set()
        for mount in mounts:
            target = remote_path(mount.destination, self.home)
            if mount.mode == COPY:
                self.copy(mount, target)
            else:
                self.mount(mount, target, lambda flag: flag not in newer)

    def ensure_rclone(self, needs_fuse: bool) -> None:
        present = "command -v rclone >/dev/null"
        if needs_fuse:
            present += " && { command -v fusermount3 >/dev/null || command -v fusermount >/dev/null; }"
        code, _ = self.run(present, PROBE_TIMEOUT_S)
        if code == 0:
            return
        install = "apt-get install -y -q rclone fuse3"
        script = (
            'if [ "$(id -u)" = 0 ]; then s=; else s="sudo -n"; fi; export DEBIAN_FRONTEND=noninteractive; '
            f"$s {install} || {{ $s apt-get update -q && $s {install}; }}"
        )
        code, lines = self.run(f"{script} 2>&1 && {present}", INSTALL_TIMEOUT_S)
        if code != 0:
            said = last_line(lines) or f"exit status {code}"
            raise self.fail(f"rclone is missing and could not be installed: {said}")

    def unsupported_flags(self) -> set[str]:
        code, lines = self.run("rclone mount --help 2>&1", PROBE_TIMEOUT_S)
        known = "\n".join(lines)
        return {flag for flag in NEWER_FLAGS if code != 0 or flag not in known}

    def copy(self, mount: StorageMount, target: str) -> None:
        source = mount.bucket.rclone_path
        single = False
        if mount.bucket.prefix:  # a path inside the bucket may name one object: it lands as a file
            code, lines = self.run(self.rclone("lsjson", "--stat", source) + " 2>&1", PROBE_TIMEOUT_S)
            if code != 0:
                raise self.fail(f"cannot read {bucket_uri(mount.bucket)}: {last_line(lines)}")
            try:
                single = not json.loads("\n".join(lines)).get("IsDir", True)
            except (ValueError, AttributeError):
                said = last_line(lines)
                raise self.fail(f"cannot read {bucket_uri(mount.bucket)}: rclone lsjson said {said!r}") from None
        if single:
            command = f"{_make_dir(posixpath.dirname(target) or '/')} && " + self.rclone("copyto", source, target)
        else:
            command = f"{_make_dir(target)} && " + self.rclone("copy", source, target)
        code, lines = self.run(command + " 2>&1", COPY_TIMEOUT_S)
        if code != 0:
            said = last_line(lines) or f"exit status {code}"
            raise self.fail(f"copying {bucket_uri(mount.bucket)} to {target} failed: {said}")

    def mount(self, mount: StorageMount, target: str, supported: Callable[[str], bool]) -> None:
        name = _state_name(target)
        record = f"{self.state}/mounts/{name}.json"
        log = f"{self.state}/logs/{name}.log"
        cache = self.cache_dir(target)
        wanted = json.dumps({"source": mount.bucket.rclone_path, "flags": mount_flags(mount, supported)},
                            sort_keys=True)
        entry = self.mounted_at(target)
        if entry is not None:
            if entry.fstype != "fuse.rclone":
                raise self.fail(f"{target} is already a mount point ({entry.fstype}); nothing mounted there")
            recorded = self.recorded(record)
            if self.healthy(target):
                if recorded == wanted:
                    return
                if not recorded:
                    raise self.fail(f"{target} is already an rclone mount stix did not make; nothing mounted there")
            self.unmount(target)
        else:
            code, lines = self.run(
                f"t={shlex.quote(target)}; "
                'if [ -e "$t" ] && { [ ! -d "$t" ] || [ -n "$(ls -A -- "$t")" ]; }; then echo occupied; fi',
                PROBE_TIMEOUT_S)
            if code != 0 or "occupied" in lines:
                raise self.fail(f"mount point {target} is not empty; nothing mounted there")
        command = " && ".join([
            _make_dir(target),
            "mkdir -p -- " + " ".join(map(shlex.quote, (posixpath.dirname(record), posixpath.dirname(log), cache))),
            f"rm -f -- {shlex.quote(record)}",
            self.rclone("mount", mount.bucket.rclone_path, target, "--daemon", "--daemon-wait",
                        f"{MOUNT_TIMEOUT_S:g}s", "--cache-dir", cache, "--log-file", log,
                        "--log-level", "INFO", *mount_flags(mount, supported)) + " </dev/null 2>&1",
            f"mountpoint -q -- {shlex.quote(target)}",
            f"printf '%s\\n' {shlex.quote(wanted)} > {shlex.quote(record)}",
        ])
        code, lines = self.run(command, MOUNT_TIMEOUT_S + PROBE_TIMEOUT_S)
        if code != 0:
            _, logged = self.run(f"tail -n 20 -- {shlex.quote(log)} 2>/dev/null", PROBE_TIMEOUT_S)
            errors = [line for line in logged if "ERROR" in line or "CRITICAL" in line or "Fatal" in line]
            said = last_line(errors) or last_line(lines) or f"exit status {code}"
            raise self.fail(f"mounting {bucket_uri(mount.bucket)} at {target} failed: {said}")

    def cache_dir(self, target: str) -> str:
        return f"{self.home}/{CACHE_DIR}/{_state_name(target)}"

    def mounted_at(self, target: str) -> Optional[MountEntry]:
        code, lines = self.run("cat /proc/self/mountinfo", PROBE_TIMEOUT_S)
        if code != 0:
            raise self.fail(f"cannot read /proc/self/mountinfo: {last_line(lines)}")
        found = [e for e in parse_mountinfo("\n".join(lines)) if e.mount_point == target]
        return found[-1] if found else None

    def healthy(self, target: str) -> bool:
        code, _ = self.run(f"timeout 10 stat -f -- {shlex.quote(target)} >/dev/null 2>&1", PROBE_TIMEOUT_S)
        return code == 0

    def recorded(self, record: str) -> str:
        code, lines = self.run(f"cat -- {shlex.quote(record)} 2>/dev/null", PROBE_TIMEOUT_S)
        return "\n".join(lines).strip() if code == 0 else ""

    def unmount(self, target: str) -> None:
        quoted = shlex.quote(target)
        code, lines = self.run(
            'f=$(command -v fusermount3 || command -v fusermount || echo fusermount3); '
            f'"$f" -u -- {quoted} 2>&1 || "$f" -uz -- {quoted} 2>&1', PROBE_TIMEOUT_S)
        if code != 0:
            raise self.fail(f"cannot unmount {target}: {last_line(lines)}")

    # -- detach ---------------------------------------------------------------------------------------

    def detach(self, mounts: Sequence[StorageMount]) -> None:
        for mount in mounts:
            target = remote_path(mount.destination, self.home)
            entry = self.mounted_at(target)
            if entry is not None and entry.fstype == "fuse.rclone":
                uploaded = self.wait_for_uploads(target, DETACH_UPLOAD_TIMEOUT_S)
                self.unmount(target)
                if not uploaded:
                    raise self.fail(f"{target}: files written there were still uploading after "
                                    f"{DETACH_UPLOAD_TIMEOUT_S:g}s; unmounted, the next attach uploads them")
            self.run(f"rm -f -- {shlex.quote(f'{self.state}/mounts/{_state_name(target)}.json')}",
                     PROBE_TIMEOUT_S)

    def wait_for_uploads(self, target: str, timeout: float) -> bool:
        """Whether every file written through the mount reached the bucket within timeout."""
        meta = shlex.quote(f"{self.cache_dir(target)}/vfsMeta")
        code, _ = self.run(
            f"end=$(( $(date +%s) + {int(timeout)} )); "
            f"while grep -rqsE '\"Dirty\": *true' -- {meta}; do "
            '[ "$(date +%s)" -ge "$end" ] && exit 3; sleep 0.5; done', timeout + PROBE_TIMEOUT_S)
        return code == 0


def _make_dir(path: str) -> str:
    """mkdir -p, and where the user may not (/data on a cloud image), through sudo -n, then owned by the user."""
    quoted = shlex.quote(path)
    return (f"{{ mkdir -p -- {quoted} 2>/dev/null || "
            f'{{ sudo -n mkdir -p -- {quoted} && sudo -n chown "$(id -u):$(id -g)" -- {quoted}; }}; }}')


def _state_name(target: str) -> str:
    """A file name for one mount point: readable, and unique by its hash."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", target.strip("/"))[:60] or "root"
    return f"{readable}-{hashlib.sha256(target.encode()).hexdigest()[:8]}"
