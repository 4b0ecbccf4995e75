"""Local sources into a bucket, from this machine, incrementally (rclone copy --checksum).

Placement follows SkyPilot: one directory source lands at the top of the bucket (its prefix); each
directory of a list of sources lands under its basename; a file always lands at the top under its name.
The files sent are the ones stix/sync.local_files picks (ignore files honoured, symbolic links never
followed or sent), handed to rclone with --files-from-raw so rclone lists nothing itself on this side.

--checksum, not size+modtime: against S3 a listing carries size and MD5 (the ETag) for every object, while
a modification time is object metadata rclone has to HEAD one object at a time for (bench/storage_upload.py).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from stix.errors import StorageError
from stix.storage import rclone
from stix.storage.mounts import StorageMount
from stix.storage.rclone import Remotes, last_line, scrub
from stix.sync import local_files

UPLOAD_TIMEOUT_S = 6 * 3600.0


@dataclass(frozen=True)
class UploadResult:
    files_sent: int
    bytes_sent: int
    files_checked: int
    """Files rclone compared with what the bucket holds (sent or not)."""
    seconds: float


@dataclass(frozen=True)
class _Batch:
    directory: Path
    names: tuple[str, ...]
    """Relative to directory, '/'-separated."""
    subdir: str
    """Where under the bucket's prefix they land ('' for its top)."""


def upload(mount: StorageMount, remotes: Remotes, timeout: float = UPLOAD_TIMEOUT_S) -> UploadResult:
    """Copy mount.sources into mount.bucket; send only what the bucket lacks or holds different."""
    started = time.monotonic()
    sent = sent_bytes = checked = 0
    for batch in _batches(mount.sources):
        if not batch.names:
            continue
        stats = _copy(batch, mount, remotes, timeout)
        sent += int(stats.get("transfers", 0))
        sent_bytes += int(stats.get("bytes", 0))
        checked += int(stats.get("checks", 0))
    return UploadResult(sent, sent_bytes, checked, time.monotonic() - started)


def _batches(sources: tuple[str, ...]) -> Iterator[_Batch]:
    by_parent: dict[Path, list[str]] = {}
    for source in sources:
        path = Path(source).expanduser().absolute()
        if path.is_dir():
            names = tuple(f.path for f in local_files(path) if f.link is None)
            yield _Batch(path, names, path.name if len(sources) > 1 else "")
        elif path.is_file():
            by_parent.setdefault(path.parent, []).append(path.name)
        else:
            raise StorageError(f"storage source {source}: no such file or directory")
    for parent, files in by_parent.items():
        yield _Batch(parent, tuple(files), "")


def _copy(batch: _Batch, mount: StorageMount, remotes: Remotes, timeout: float) -> Mapping[str, float]:
    target = f"{mount.bucket.rclone_path}/{batch.subdir}" if batch.subdir else mount.bucket.rclone_path
    with tempfile.NamedTemporaryFile("w", prefix="stix-upload-", suffix=".list") as listing:
        listing.write("\n".join(batch.names) + "\n")
        listing.flush()
        args = ["copy", "--checksum", "--files-from-raw", listing.name, "--use-json-log", "--verbose",
                "--stats", "24h", "--stats-log-level", "NOTICE", "--retries", "2", "--low-level-retries", "5",
                str(batch.directory), target]
        try:
            done = rclone.run(args, remotes, timeout)
        except subprocess.TimeoutExpired:
            raise StorageError(f"upload to bucket {mount.bucket.bucket!r}: rclone did not finish within "
                               f"{timeout:g}s") from None
    stats, last_error = _report(done.stderr)
    if done.returncode != 0:
        reason = scrub(last_error or last_line(done.stderr) or f"rclone exited {done.returncode}", remotes)
        raise StorageError(f"upload of {batch.directory} to bucket {mount.bucket.bucket!r} failed: {reason}")
    return stats


def _report(log: str) -> tuple[Mapping[str, float], str]:
    """rclone's final statistics and its last error, from its JSON log lines."""
    stats: Mapping[str, float] = {}
    last_error = ""
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("stats"), dict):
            stats = entry["stats"]
        elif entry.get("level") in ("error", "critical"):
            where = f"{entry['object']}: " if entry.get("object") else ""
            last_error = f"{where}{str(entry.get('msg', '')).strip()}"
    return stats, last_error
