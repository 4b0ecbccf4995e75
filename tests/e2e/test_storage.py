"""Storage end to end: the real engine, real sshd nodes, the local cloud's real S3 store (SeaweedFS), rclone
and FUSE on the nodes. A checkpoint written through a MOUNT on one node is read on another and after a
relaunch; sources upload incrementally; URI sources are copied; `stix storage` lists and deletes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

TASK = """
name: {name}
num_nodes: 2
resources:
  infra: local
file_mounts:
  ~/ckpt:
    name: {ckpt}
    mode: MOUNT
  ~/data:
    name: {data}
    source: {source}
    mode: COPY
  ~/scratch:
    name: {scratch}
    mode: MOUNT_CACHED
    persistent: false
run: |
  set -e
  echo "DATA=$(cat ~/data/hello.txt)"
  {run}
"""

WRITE = """if [ "$SKYPILOT_NODE_RANK" = 0 ]; then
    python3 -c "import os; f = open(os.path.expanduser('~/ckpt/step-1.pt'), 'wb'); [f.write(b'w' * 65536) for _ in range(16)]; f.close()"
    echo scratch > ~/scratch/note.txt
    echo WROTE
  else
    for i in $(seq 1 150); do [ "$(stat -c %s ~/ckpt/step-1.pt 2>/dev/null)" = 1048576 ] && break; sleep 0.1; done
    echo "SEEN=$(stat -c %s ~/ckpt/step-1.pt)"
  fi"""

READ = 'echo "AFTER=$(stat -c %s ~/ckpt/step-1.pt) COPIED=$(cat ~/one.txt)"'


def names() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"ckpt": f"ckpt-{tag}", "data": f"data-{tag}", "scratch": f"scratch-{tag}"}


def lines_of(output: str, rank: int) -> list[str]:
    role = "head" if rank == 0 else f"worker{rank}"
    prefix = f"({role}, rank={rank}) "
    return [line[len(prefix):] for line in output.splitlines() if line.startswith(prefix)]


def storage_ls(stix) -> dict[str, dict]:
    listed = stix("storage", "ls", "--format", "json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    return {row["name"]: row for row in json.loads(listed.stdout)}


def test_a_checkpoint_through_a_mount_reaches_the_second_node_and_survives_a_relaunch(stix, stix_home, tmp_path,
                                                                                    engine):
    buckets = names()
    source = tmp_path / "dataset"
    source.mkdir()
    (source / "hello.txt").write_text("hello-bucket\n")
    for i in range(20):
        (source / f"part-{i}.txt").write_text(f"{i}\n")
    task = tmp_path / "ckpt.yaml"
    task.write_text(TASK.format(name="ckpt", source=source, run=WRITE, **buckets))

    first = stix("up", "-y", str(task))
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"to local://{buckets['data']}: 21 file(s) sent" in first.stdout
    assert "DATA=hello-bucket" in lines_of(first.stdout, 0) and "DATA=hello-bucket" in lines_of(first.stdout, 1)
    assert "WROTE" in lines_of(first.stdout, 0)
    assert "SEEN=1048576" in lines_of(first.stdout, 1), first.stdout

    listed = storage_ls(stix)
    assert listed[buckets["ckpt"]]["clusters"] == ["ckpt"] and listed[buckets["ckpt"]]["persistent"] is True
    assert listed[buckets["scratch"]]["persistent"] is False
    in_use = stix("storage", "delete", "-y", buckets["ckpt"])
    assert in_use.returncode != 0 and "used by cluster ckpt" in in_use.stderr, in_use.stdout + in_use.stderr

    assert stix("destroy", "-y", "ckpt").returncode == 0
    listed = storage_ls(stix)
    assert set(listed) == {buckets["ckpt"], buckets["data"]}, "the non-persistent bucket went with its cluster"
    assert listed[buckets["ckpt"]]["clusters"] == []

    # A relaunch (a new cluster of new nodes) sees the checkpoint, sends no unchanged source again, and copies
    # a single object from a bucket URI as a file.
    again_task = tmp_path / "again.yaml"
    text = TASK.format(name="ckpt", source=source, run=READ, **buckets)
    text = text.replace("file_mounts:\n", f"file_mounts:\n  ~/one.txt: local://{buckets['data']}/hello.txt\n")
    again_task.write_text(text)
    again = stix("up", "-y", str(again_task))
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"to local://{buckets['data']}: 0 file(s) sent" in again.stdout
    assert "AFTER=1048576 COPIED=hello-bucket" in lines_of(again.stdout, 1), again.stdout

    assert stix("destroy", "-y", "ckpt").returncode == 0
    deleted = stix("storage", "delete", "-y", buckets["ckpt"], buckets["data"])
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert storage_ls(stix) == {}


@pytest.mark.parametrize("mount, refusal", [
    ("{name: Not_A_Bucket, mode: MOUNT}", "file_mounts['~/b']"),
    ("{name: fine-bucket-1, source: /no/such/dir}", "/no/such/dir"),
    ("{name: fine-bucket-2, store: s3}", "store s3 is not enabled"),
])
def test_bad_storage_is_refused_in_one_line_before_anything_is_made(stix, stix_home, tmp_path, engine, mount, refusal):
    task = tmp_path / "bad.yaml"
    task.write_text(f"name: bad\nresources:\n  infra: local\nfile_mounts:\n  ~/b: {mount}\nrun: echo hi\n")
    result = stix("up", "-y", str(task))
    assert result.returncode == 2, result.stdout + result.stderr
    assert refusal in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "No clusters." in stix("status").stdout
    assert not list((stix_home / "state").glob(".pulumi/stacks/*/*.json")), "no stack in state"
