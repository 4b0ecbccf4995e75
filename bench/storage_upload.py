"""Upload of many small files into a bucket: first run, unchanged second run, one file changed.

Also times the unchanged run compared by size+modification time instead of --checksum, on the same tree
and bucket, which is how stix.storage.upload's choice of --checksum was made.

Run: .venv/bin/python bench/storage_upload.py [--files 10000] [--alias DIR | --remote K=V,...]
Default remote: the local object store, started in a temporary home.
"""

from __future__ import annotations

import argparse
import runpy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stix.storage import rclone  # noqa: E402
from stix.storage.mounts import BucketRef, StorageMount  # noqa: E402
from stix.storage.upload import upload  # noqa: E402

_shared = runpy.run_path(str(Path(__file__).with_name("storage_remote.py")))  # beside this script
REMOTE = _shared["REMOTE"]
add_arguments = _shared["add_arguments"]
remotes_for = _shared["remotes_for"]
scratch_dir = _shared["scratch_dir"]


def make_tree(root: Path, count: int) -> None:
    for i in range(count):
        directory = root / f"d{i // 500:03d}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{i:05d}.txt").write_bytes(f"file {i}\n".encode() * (1 + i % 64))


def size_and_time_run(source: Path, bucket: str, remotes) -> float:
    started = time.perf_counter()
    done = rclone.run(["copy", str(source), f"{REMOTE}:{bucket}", "--stats", "0"], remotes, timeout=3600)
    if done.returncode != 0:
        sys.exit(f"bench: rclone copy failed: {done.stderr.strip()[-300:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    add_arguments(parser)
    args = parser.parse_args()
    with scratch_dir() as scratch:
        remotes = remotes_for(args, Path(scratch))
        source = Path(scratch) / "source"
        make_tree(source, args.files)
        mount = StorageMount("/data", "MOUNT", BucketRef("local", args.bucket), name=args.bucket,
                             sources=(str(source),))
        store = remotes[REMOTE].get("type")
        print(f"remote: {store} ({remotes[REMOTE].get('endpoint') or remotes[REMOTE].get('remote')}), "
              f"{args.files} files")
        for label, change in (("first run", None), ("unchanged second run", None),
                              ("one file changed", source / "d000" / "f00000.txt")):
            if change is not None:
                change.write_bytes(b"changed\n")
            result = upload(mount, remotes)
            print(f"{label:>28}: {result.files_sent:6d} files sent ({result.bytes_sent} B), "
                  f"{result.files_checked:6d} checked, {result.seconds:7.2f} s")
        print(f"{'unchanged, size+modtime':>28}: {size_and_time_run(source, args.bucket, remotes):7.2f} s "
              "(rclone copy without --checksum, for comparison)")


if __name__ == "__main__":
    main()
