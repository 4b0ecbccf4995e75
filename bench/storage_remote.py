"""The rclone remote the storage benches use: the local object store (default), an alias remote on a
directory, or any remote given as options. Shared by bench/storage_upload.py and bench/storage_read.py."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from stix.storage import rclone
from stix.storage.mounts import BucketRef

REMOTE = BucketRef("local", "bench").remote


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--alias", metavar="DIR", help="an rclone alias remote on DIR stands in for the store")
    where.add_argument("--remote", metavar="K=V,...",
                       help="rclone remote options, e.g. type=s3,provider=Other,endpoint=http://...,access_key_id=...")
    parser.add_argument("--bucket", default="stix-bench")


def remotes_for(args: argparse.Namespace, scratch: Path) -> dict[str, dict[str, str]]:
    """The remotes, the bucket made where the remote is a store."""
    if args.alias:
        Path(args.alias, args.bucket).mkdir(parents=True, exist_ok=True)
        return {REMOTE: {"type": "alias", "remote": str(Path(args.alias).absolute())}}
    if args.remote:
        options = dict(item.split("=", 1) for item in args.remote.split(","))
    else:
        try:
            from stix.objectstore.server import ensure_running  # type: ignore[import-not-found]
        except ImportError:
            sys.exit("bench: stix.objectstore.server is not in this checkout; pass --alias DIR or --remote K=V,...")
        endpoint = ensure_running(scratch / "stix-home")
        options = {"type": "s3", "provider": "Other", "endpoint": endpoint.url, "region": endpoint.region,
                   "access_key_id": endpoint.access_key, "secret_access_key": endpoint.secret_key}
    remotes = {REMOTE: options}
    done = rclone.run(["mkdir", f"{REMOTE}:{args.bucket}"], remotes, timeout=120)
    if done.returncode != 0:
        sys.exit(f"bench: cannot make bucket {args.bucket}: {done.stderr.strip().splitlines()[-1:]}")
    return remotes


def scratch_dir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="stix-bench-storage-")
