"""Uploads with the real rclone into an alias remote (a directory standing in for the bucket)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stix.errors import StorageError
from stix.storage.mounts import BucketRef, StorageMount
from stix.storage.upload import upload


@pytest.fixture
def store(tmp_path: Path):
    root = tmp_path / "store"
    (root / "bk").mkdir(parents=True)
    remotes = {"stixlocal": {"type": "alias", "remote": str(root), "secret_access_key": "s3cr3t-value"}}
    return root / "bk", remotes


def mount_of(*sources: Path, prefix: str = "") -> StorageMount:
    return StorageMount(destination="/data", mode="MOUNT", bucket=BucketRef("local", "bk", prefix),
                        name="bk", sources=tuple(str(s) for s in sources))


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def make_source(tmp_path: Path, count: int = 5) -> Path:
    src = tmp_path / "data"
    (src / "sub").mkdir(parents=True)
    for i in range(count):
        (src / f"f{i}.txt").write_text(f"file {i}\n")
    (src / "sub" / "deep.bin").write_bytes(b"\0" * 1000)
    (src / ".gitignore").write_text("*.log\nscratch/\n")
    (src / "run.log").write_text("never sent\n")
    (src / "scratch").mkdir()
    (src / "scratch" / "big").write_text("never sent\n")
    return src


def test_first_upload_sends_all_second_sends_none_a_change_sends_one(tmp_path, store):
    bucket, remotes = store
    src = make_source(tmp_path)
    first = upload(mount_of(src), remotes)
    # A single directory lands at the bucket's top; ignored files and directories never leave.
    assert tree(bucket) == {*(f"f{i}.txt" for i in range(5)), "sub/deep.bin", ".gitignore"}
    assert first.files_sent == 7 and first.bytes_sent == sum(f.stat().st_size for f in bucket.rglob("*") if f.is_file())

    second = upload(mount_of(src), remotes)
    assert second.files_sent == 0 and second.bytes_sent == 0 and second.files_checked == 7

    (src / "f3.txt").write_text("changed, same length?\n")
    (src / "more.log").write_text("ignored\n")
    third = upload(mount_of(src), remotes)
    assert third.files_sent == 1 and (bucket / "f3.txt").read_text() == "changed, same length?\n"
    assert "more.log" not in tree(bucket) and "run.log" not in tree(bucket)


def test_same_size_and_time_but_other_content_is_sent(tmp_path, store):
    bucket, remotes = store
    src = make_source(tmp_path)
    upload(mount_of(src), remotes)
    target = src / "f1.txt"
    stamp = target.stat()
    target.write_text("FILE 1\n")  # same length
    os.utime(target, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert upload(mount_of(src), remotes).files_sent == 1
    assert (bucket / "f1.txt").read_text() == "FILE 1\n"


def test_a_list_of_sources_lands_under_basenames_and_files_at_the_top(tmp_path, store):
    bucket, remotes = store
    src = make_source(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "x").write_text("x")
    single = tmp_path / "notes.md"
    single.write_text("n")
    result = upload(mount_of(src, other, single, prefix="pre/fix"), remotes)
    assert tree(bucket) == {*(f"pre/fix/data/f{i}.txt" for i in range(5)), "pre/fix/data/sub/deep.bin",
                            "pre/fix/data/.gitignore", "pre/fix/other/x", "pre/fix/notes.md"}
    assert result.files_sent == 9


def test_symbolic_links_are_never_followed(tmp_path, store):
    bucket, remotes = store
    src = make_source(tmp_path)
    secret = tmp_path / "credentials"
    secret.write_text("do not ship")
    (src / "creds").symlink_to(secret)
    upload(mount_of(src), remotes)
    assert "creds" not in tree(bucket)


def test_missing_source_is_one_line(tmp_path, store):
    _, remotes = store
    with pytest.raises(StorageError, match="no such file or directory"):
        upload(mount_of(tmp_path / "absent"), remotes)


def test_failure_names_the_bucket_and_rclone_line_never_the_secret(tmp_path):
    src = make_source(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("the bucket cannot live under a file")
    broken = {"stixlocal": {"type": "alias", "remote": str(blocker), "secret_access_key": str(blocker)}}
    with pytest.raises(StorageError) as caught:
        upload(mount_of(src), broken, timeout=120)
    message = str(caught.value)
    assert "'bk'" in message and "\n" not in message
    assert "not a directory" in message and str(blocker) not in message  # the secret-looking value is ***
