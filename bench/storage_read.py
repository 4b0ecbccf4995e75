"""Read throughput of one large file through MOUNT and MOUNT_CACHED, against reading it from local disk.

The mounts are made on this machine with the very flags stix.storage.attach gives nodes. Page caches are
dropped for the files read (posix_fadvise DONTNEED, per file, nothing global) before each cold read.

Run: .venv/bin/python bench/storage_read.py [--mib 512] [--alias DIR | --remote K=V,...]
Default remote: the local object store, started in a temporary home.
"""

from __future__ import annotations

import argparse
import runpy
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stix.storage import rclone  # noqa: E402
from stix.storage.attach import mount_flags  # noqa: E402
from stix.storage.mounts import MOUNT, MOUNT_CACHED, BucketRef, StorageMount  # noqa: E402
from tests.polling import wait_for  # noqa: E402

_shared = runpy.run_path(str(Path(__file__).with_name("storage_remote.py")))  # beside this script
REMOTE = _shared["REMOTE"]
add_arguments = _shared["add_arguments"]
remotes_for = _shared["remotes_for"]
scratch_dir = _shared["scratch_dir"]

CHUNK = 1 << 20


def forget(path: Path) -> None:
    """Drop one file's pages from the page cache, so the next read comes from where it lives."""
    if path.exists():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def read_mib_s(path: Path) -> float:
    started = time.perf_counter()
    total = 0
    with open(path, "rb", buffering=0) as handle:
        while chunk := handle.read(CHUNK):
            total += len(chunk)
    return total / (1 << 20) / (time.perf_counter() - started)


def mounted(mode: str, bucket: str, remotes, scratch: Path, name: str) -> Path:
    config = scratch / "rclone.conf"
    config.write_text(rclone.config_text(remotes))
    config.chmod(0o600)
    point = scratch / name
    point.mkdir()
    mount = StorageMount(str(point), mode, BucketRef("local", bucket))
    subprocess.run(["rclone", "--config", str(config), "mount", f"{REMOTE}:{bucket}", str(point), "--daemon",
                    "--cache-dir", str(scratch / f"cache-{name}"), *mount_flags(mount)],
                   check=True, stdin=subprocess.DEVNULL,
                   env={k: v for k, v in os.environ.items() if k not in rclone.DROPPED_ENV})
    wait_for(lambda: os.path.ismount(point), timeout=60, what=f"the {mode} mount")
    return point


def unmount(point: Path) -> None:
    subprocess.run(["fusermount3", "-u", str(point)], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512)
    add_arguments(parser)
    args = parser.parse_args()
    with scratch_dir() as scratch_name:
        scratch = Path(scratch_name)
        remotes = remotes_for(args, scratch)
        local = scratch / "big.bin"
        with open(local, "wb") as handle:
            for _ in range(args.mib):
                handle.write(os.urandom(CHUNK))
        done = rclone.run(["copyto", str(local), f"{REMOTE}:{args.bucket}/big.bin"], remotes, timeout=3600)
        if done.returncode != 0:
            sys.exit(f"bench: upload failed: {done.stderr.strip()[-300:]}")
        in_store = Path(args.alias, args.bucket, "big.bin") if args.alias else None
        forget(local)
        disk = read_mib_s(local)
        print(f"remote: {remotes[REMOTE].get('type')}, file: {args.mib} MiB")
        print(f"{'local disk (cold)':>30}: {disk:8.0f} MiB/s")
        rows = []
        for mode in (MOUNT, MOUNT_CACHED):
            point = mounted(mode, args.bucket, remotes, scratch, mode.lower())
            try:
                if in_store is not None:
                    forget(in_store)
                rows.append((f"{mode} (cold)", read_mib_s(point / "big.bin")))
                if mode == MOUNT_CACHED:
                    for cached in (scratch / f"cache-{mode.lower()}").rglob("big.bin"):
                        forget(cached)
                    rows.append((f"{mode} (from its cache)", read_mib_s(point / "big.bin")))
            finally:
                unmount(point)
        for label, speed in rows:
            print(f"{label:>30}: {speed:8.0f} MiB/s  ratio to local disk {speed / disk:5.2f}")


if __name__ == "__main__":
    main()
