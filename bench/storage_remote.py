"""The rclone remote the storage benches use: the local object store (default), an alias remote on a
directory, or any remote given as options. Shared by bench/storage_upload.py and bench/storage_read.py."""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

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
    else:  # the local object store, in a home of its own, stopped when the bench ends
        from stix.home import StixHome
        from stix.objectstore import s3, server

        endpoint = server.ensure_running(StixHome(scratch / "stix-home"))
        options = s3.remote_options(endpoint)
    remotes = {REMOTE: options}
    done = rclone.run(["mkdir", f"{REMOTE}:{args.bucket}"], remotes, timeout=120)
    if done.returncode != 0:
        sys.exit(f"bench: cannot make bucket {args.bucket}: {done.stderr.strip().splitlines()[-1:]}")
    return remotes


@contextmanager
def scratch_dir() -> Iterator[str]:
    """A temporary directory; a store started under it is stopped before it goes."""
    from stix.home import StixHome
    from stix.objectstore import server

    with tempfile.TemporaryDirectory(prefix="stix-bench-storage-") as name:
        try:
            yield name
        finally:
            home = Path(name) / "stix-home"
            if home.exists():
                server.stop(StixHome(home))
