"""Incremental workdir sync: send only files that changed, honouring .gitignore and .stixignore.

Each node keeps a manifest (path -> size, mtime) of what it was sent; a file
is sent again only when its size or modification time differ. Like rsync
without --delete, files removed locally stay on the nodes. Symbolic links are
sent as links (rsync's default), never followed: a link to ~/.aws/credentials
must not ship the credentials, and a linked directory arrives as the link.
"""

from __future__ import annotations

import io
import json
import os
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import pathspec

IGNORE_FILES = (".gitignore", ".stixignore")
ALWAYS_IGNORED = (".git/", ".stix-sync-manifest.json")
MANIFEST = ".stix-sync-manifest.json"
PART_SUFFIX = ".stix-part"
"""A file being sent is written under its name plus this, then renamed: never half-written under its own name."""


@dataclass(frozen=True)
class LocalFile:
    path: str
    """Relative, '/'-separated."""
    size: int
    mtime_ns: int
    mode: int
    link: Optional[str] = None
    """The target, when the path is a symbolic link (sent as a link, never followed)."""

    @property
    def stamp(self) -> list:
        return [self.size, self.mtime_ns] if self.link is None else [self.size, self.mtime_ns, self.link]


def _spec_for(directory: Path) -> pathspec.GitIgnoreSpec | None:
    lines: list[str] = []
    for name in IGNORE_FILES:
        try:
            lines += (directory / name).read_text(errors="replace").splitlines()
        except OSError:
            continue
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def local_files(root: Path) -> list[LocalFile]:
    """Every file to sync under root; ignore files apply to their own directory and below, as git's do."""
    root = root.resolve()
    always = pathspec.GitIgnoreSpec.from_lines(ALWAYS_IGNORED)
    specs: list[tuple[str, pathspec.GitIgnoreSpec]] = []
    out: list[LocalFile] = []
    for current, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(current, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        spec = _spec_for(Path(current))
        if spec is not None:
            specs.append((rel_dir, spec))

        def ignored(rel: str) -> bool:
            if always.match_file(rel):
                return True
            return any(rel.startswith(base) and spec.match_file(rel[len(base):]) for base, spec in specs)

        linked = [d for d in dirs if os.path.islink(os.path.join(current, d))]
        dirs[:] = sorted(d for d in dirs if d not in linked and not ignored(f"{rel_dir}{d}/"))
        for name in sorted(files + linked):
            rel = f"{rel_dir}{name}"
            full = os.path.join(current, name)
            try:
                info = os.lstat(full)
                target = os.readlink(full) if stat.S_ISLNK(info.st_mode) else None
            except OSError:
                continue
            if name in linked and ignored(f"{rel}/"):
                continue
            if (target is not None or stat.S_ISREG(info.st_mode)) and not ignored(rel):
                out.append(LocalFile(rel, info.st_size, info.st_mtime_ns, stat.S_IMODE(info.st_mode), target))
    return sorted(out, key=lambda f: f.path)


def changed(files: list[LocalFile], manifest: dict[str, list[int]]) -> list[LocalFile]:
    return [f for f in files if manifest.get(f.path) != f.stamp]


def sync_dir(conn, local: Path, remote: str) -> int:
    """Send what changed under local to remote on one node; return the number of files sent."""
    from stix.ssh.runner import _mkdirs

    files = local_files(local)
    with _node_writes(conn, remote) as sftp:
        try:  # the manifest there means the directory is there: no stat of every directory above it
            with sftp.open(f"{remote}/{MANIFEST}", "r") as handle:
                manifest = json.loads(handle.read() or b"{}")
        except (OSError, ValueError):
            _mkdirs(sftp, remote)
            manifest = {}
        todo = changed(files, manifest)
        made: set[str] = set()
        for item in todo:
            parent = item.path.rsplit("/", 1)[0] if "/" in item.path else ""
            if parent and parent not in made:
                _mkdirs(sftp, f"{remote}/{parent}")
                made.add(parent)
            target = f"{remote}/{item.path}"
            if item.link is not None or len(manifest.get(item.path) or ()) > 2:
                _remove(sftp, target)  # never write through a link sent earlier
            if item.link is not None:
                sftp.symlink(item.link, target)
                continue
            _put_whole(sftp, str(local / item.path), target, item.mode)
        if todo or len(manifest) != len(files):
            current = {f.path: f.stamp for f in files}
            _put_whole(sftp, json.dumps({**manifest, **current}).encode(), f"{remote}/{MANIFEST}")
        return len(todo)


@contextmanager
def _node_writes(conn, remote: str) -> Iterator:
    """An SFTP session whose failures (a full disk, a lost node) are one SSHError naming the node and where."""
    import paramiko

    from stix.errors import SSHError
    from stix.ssh.runner import CONNECT_TIMEOUT_S

    try:
        sftp = conn.client.open_sftp()
    except (OSError, paramiko.SSHException) as exc:
        raise SSHError(f"{conn.node.name}: cannot open SFTP to sync {remote}: {exc}") from None
    try:
        sftp.get_channel().settimeout(CONNECT_TIMEOUT_S)
        yield sftp
    except (OSError, paramiko.SSHException) as exc:
        raise SSHError(f"{conn.node.name}: sync to {remote} failed: {exc or type(exc).__name__}"
                       f"{_room_left(conn, remote)}") from None
    finally:
        sftp.close()


def _room_left(conn, remote: str) -> str:
    """SFTP reports a full disk as a bare 'Failure': say how much room the node has left where it wrote."""
    import shlex

    out: list[str] = []
    try:
        code = conn.run(f"df -Pk {shlex.quote(remote)} | tail -n 1", out.append, timeout=15)
    except Exception:  # the node itself is gone: the error already says the sync failed
        return ""
    fields = out[-1].split() if code == 0 and out else []
    if len(fields) < 6 or not (fields[1].isdigit() and fields[3].isdigit()):
        return ""
    size, free, mount = int(fields[1]), int(fields[3]), fields[5]
    return f" ({free} KiB free on {mount}{': the disk is full' if free < max(1024, size // 100) else ''})"


def _put_whole(sftp, source: str | bytes, target: str, mode: Optional[int] = None,
               times: Optional[tuple[int, int]] = None) -> None:
    """Upload a local file (its path) or bytes beside the target and rename over it, so a write cut short
    leaves nothing under the target's name that looks complete."""
    part = f"{target}{PART_SUFFIX}"
    try:
        if isinstance(source, bytes):
            sftp.putfo(io.BytesIO(source), part)
        else:
            sftp.put(source, part)
        if mode is not None:
            sftp.chmod(part, mode)
        if times is not None:
            sftp.utime(part, times)
        sftp.posix_rename(part, target)
    except BaseException:
        _remove(sftp, part)
        raise


def _remove(sftp, path: str) -> None:
    try:
        sftp.remove(path)
    except Exception:  # absent, or the connection is the failure being reported
        pass


def sync_file(conn, local: Path, remote: str) -> int:
    """Send one file unless the node already has it (same size and modification time); return 0 or 1."""
    from stix.ssh.runner import _mkdirs

    info = local.stat()
    with _node_writes(conn, remote) as sftp:
        try:
            there = sftp.stat(remote)
            if there.st_size == info.st_size and int(there.st_mtime or 0) == int(info.st_mtime):
                return 0
        except OSError:
            pass
        parent = remote.rsplit("/", 1)[0]
        if parent:
            _mkdirs(sftp, parent)
        _put_whole(sftp, str(local), remote, stat.S_IMODE(info.st_mode), (int(info.st_atime), int(info.st_mtime)))
        return 1


def remote_path(destination: str, home: str) -> str:
    """Where a file_mounts destination lands on a node: `~/x` and relative paths under its home."""
    from stix.errors import UsageError
    from stix.models.storage import escapes_home

    if escapes_home(destination):
        raise UsageError(f"file_mounts[{destination!r}]: destination leaves the node's home")
    if destination.startswith("~/") or destination == "~":
        return home + destination[1:]
    if destination.startswith("/"):
        return destination.rstrip("/") or "/"
    return f"{home}/{destination.rstrip('/')}"


def sync_mount(conn, source: str, destination: str, home: str) -> int:
    from stix.errors import UsageError

    local = Path(source).expanduser().absolute()
    target = remote_path(destination, home)
    if local.is_dir():
        return sync_dir(conn, local, target)
    if local.is_file():
        return sync_file(conn, local, target)
    raise UsageError(f"file_mounts[{destination!r}]: local source {source!r} does not exist")
