"""Buckets on real local nodes: real rclone, real FUSE mounts, an alias remote standing in for the bucket."""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from stix.components.local import sshd
from stix.components.local.node import LocalNodeProvider
from stix.errors import StorageError
from stix.spec import ClusterInfo, NodeInfo
from stix.ssh.runner import ClusterConnections, NodeConnection
from stix.storage.attach import CONFIG_DIR, CONFIG_NAME, attach, detach, parse_mountinfo
from stix.storage.mounts import COPY, MOUNT, MOUNT_CACHED, BucketRef, CacheOptions, StorageMount
from tests.polling import wait_for

SECRET = "s3cr3t-never-in-argv"


@pytest.fixture
def store(tmp_path: Path):
    root = tmp_path / "store"
    (root / "bk").mkdir(parents=True)
    return root / "bk", {"stixlocal": {"type": "alias", "remote": str(root), "secret_access_key": SECRET}}


@pytest.fixture
def cluster(node_props):
    """A function making an n-node local cluster; every node (and anything mounted in it) goes afterwards."""
    props, key = node_props
    provider = LocalNodeProvider()
    made: list = []
    opened: list = []

    def make(count: int) -> ClusterConnections:
        nodes = []
        for rank in range(count):
            created = provider.create({**props, "node_name": f"t-{rank}", "rank": rank})
            made.append(created)
            nodes.append(NodeInfo.from_dict({**created.outs, "name": created.outs["node_name"]}))
        conns = ClusterConnections(ClusterInfo("t", "local", tuple(nodes), str(key)))
        opened.append(conns)
        return conns

    yield make
    for conns in opened:
        conns.close()
    for created in made:
        for entry in parse_mountinfo(Path("/proc/self/mountinfo").read_text()):
            if entry.mount_point.startswith(created.id + "/"):
                subprocess.run(["fusermount3", "-uz", entry.mount_point], check=False)
        provider.delete(created.id, created.outs)


def mounts_under(root: str) -> list:
    return [e for e in parse_mountinfo(Path("/proc/self/mountinfo").read_text()) if e.mount_point.startswith(root)]


def rclone_pids(node: NodeInfo) -> set[int]:
    root = Path(node.home).parent
    found = set()
    for pid in sshd.processes_under(root):
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if args[0].endswith(b"rclone") and b"mount" in args:
            found.add(pid)
    return found


def run(conn: NodeConnection, command: str) -> tuple[int, str]:
    lines: list[str] = []
    code = conn.run(command, lines.append, timeout=60)
    return code, "\n".join(lines)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_copy_fetches_a_directory_and_a_single_object_as_a_file(cluster, store):
    bucket, remotes = store
    (bucket / "ds" / "sub").mkdir(parents=True)
    (bucket / "ds" / "a.txt").write_text("a")
    (bucket / "ds" / "sub" / "b.txt").write_text("b")
    conns = cluster(2)
    attach(conns, [StorageMount("~/data", COPY, BucketRef("local", "bk", "ds")),
                   StorageMount("~/one/b.txt", COPY, BucketRef("local", "bk", "ds/sub/b.txt"))], remotes)
    for node in conns.info.nodes:
        home = Path(node.home)
        assert (home / "data" / "a.txt").read_text() == "a" and (home / "data" / "sub" / "b.txt").read_text() == "b"
        assert (home / "one" / "b.txt").is_file() and (home / "one" / "b.txt").read_text() == "b"
        mode = (home / CONFIG_DIR / CONFIG_NAME).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600 and SECRET in (home / CONFIG_DIR / CONFIG_NAME).read_text()


def test_copy_of_a_missing_path_names_the_node_and_the_bucket(cluster, store):
    _, remotes = store
    conns = cluster(1)
    with pytest.raises(StorageError, match=r"node t-0: cannot read local://bk/nope"):
        attach(conns, [StorageMount("~/data", COPY, BucketRef("local", "bk", "nope"))], remotes)


def test_mount_write_on_one_node_read_on_another_reattach_stale_and_detach(cluster, store, monkeypatch):
    bucket, remotes = store
    sent: list[str] = []
    real_run = NodeConnection.run

    def spy(self, command, *args, **kwargs):
        sent.append(command)
        return real_run(self, command, *args, **kwargs)

    monkeypatch.setattr(NodeConnection, "run", spy)
    conns = cluster(2)
    mount = StorageMount("~/ckpt", MOUNT, BucketRef("local", "bk", "runs"))
    (bucket / "runs").mkdir()
    attach(conns, [mount], remotes)
    head, worker = conns.connections
    head_node, worker_node = conns.info.nodes
    assert all(len(mounts_under(str(Path(n.home).parent))) == 1 for n in conns.info.nodes)

    assert run(worker, "ls -A ~/ckpt") == (0, "")  # node 1 has listed (and cached) the empty directory

    # A checkpoint written like torch.save (sequential writes, then close) lands in the bucket.
    payload = os.urandom(3 * 1024 * 1024)
    script = ("import sys, os; f = open(os.path.expanduser('~/ckpt/model.pt'), 'wb'); "
              "data = sys.stdin.buffer.read(); [f.write(data[i:i + 65536]) for i in range(0, len(data), 65536)]; "
              "f.close()")
    assert head.run(f"python3 -c \"{script}\"", timeout=60, stdin=payload) == 0
    closed = time.monotonic()
    landed = bucket / "runs" / "model.pt"
    wait_for(lambda: landed.exists() and digest(landed.read_bytes()) == digest(payload), timeout=10,
             what="the checkpoint in the bucket, moments after close")
    # ... and the other node sees it through its own mount.
    wait_for(lambda: run(worker, "sha256sum ~/ckpt/model.pt")[1].startswith(digest(payload)), timeout=30,
             what="the checkpoint on node 1", interval=0.1)
    print(f"checkpoint visible on node 1 {time.monotonic() - closed:.2f}s after close on node 0")
    assert time.monotonic() - closed < 10, "another node sees a new file within the directory cache time"

    # Attaching again leaves a healthy mount alone.
    before = rclone_pids(head_node)
    assert len(before) == 1
    attach(conns, [mount], remotes)
    assert rclone_pids(head_node) == before and len(mounts_under(str(Path(head_node.home).parent))) == 1

    # A dead mount (its rclone killed) is remounted.
    os.kill(next(iter(before)), signal.SIGKILL)
    wait_for(lambda: "not connected" in run(head, "ls ~/ckpt 2>&1")[1], timeout=30, what="a stale mount")
    attach(conns, [mount], remotes)
    assert rclone_pids(head_node) and rclone_pids(head_node) != before
    assert run(head, "sha256sum ~/ckpt/model.pt")[1].startswith(digest(payload))
    assert len(mounts_under(str(Path(head_node.home).parent))) == 1

    # No secret ever travelled in a command line, nor sits in a running process's arguments.
    assert sent and not [c for c in sent if SECRET in c]
    for node in conns.info.nodes:
        for pid in sshd.processes_under(Path(node.home).parent):
            assert SECRET.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        logs = list(Path(node.home).glob(".stix/storage/logs/*.log"))
        assert logs and not [log for log in logs if SECRET in log.read_text()]

    detach(conns, [mount])
    for node in conns.info.nodes:
        assert not mounts_under(str(Path(node.home).parent))
        wait_for(lambda: not rclone_pids(node), timeout=30, what="rclone to exit after detach")
    assert digest(landed.read_bytes()) == digest(payload)


def test_mount_cached_writes_back_to_the_bucket(cluster, store):
    bucket, remotes = store
    conns = cluster(1)
    mount = StorageMount("~/cache", MOUNT_CACHED, BucketRef("local", "bk"),
                         cache=CacheOptions(vfs_write_back="1s", vfs_cache_max_size="1G", transfers=2))
    attach(conns, [mount], remotes)
    node = conns.info.nodes[0]
    args = next(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for pid in rclone_pids(node))
    assert b"full" in args and b"--vfs-write-back" in args and b"--vfs-cache-max-size" in args
    assert run(conns.connections[0], "echo hello > ~/cache/out.txt")[0] == 0
    wait_for(lambda: (bucket / "out.txt").exists() and (bucket / "out.txt").read_text() == "hello\n",
             timeout=30, what="the write-back")
    detach(conns, [mount])


def test_detach_waits_for_written_files_to_reach_the_bucket(cluster, store):
    bucket, remotes = store
    conns = cluster(1)
    mount = StorageMount("~/cache", MOUNT_CACHED, BucketRef("local", "bk"), cache=CacheOptions(vfs_write_back="3s"))
    attach(conns, [mount], remotes)
    payload = os.urandom(8 * 1024 * 1024)
    assert conns.connections[0].run("cat > ~/cache/late.bin", timeout=60, stdin=payload) == 0
    detach(conns, [mount])  # within the write-back delay: the upload has not even started
    assert (bucket / "late.bin").exists() and digest((bucket / "late.bin").read_bytes()) == digest(payload)
    assert not mounts_under(str(Path(conns.info.nodes[0].home).parent))


def test_read_only_mount_refuses_writes(cluster, store):
    bucket, remotes = store
    (bucket / "x").write_text("x")
    conns = cluster(1)
    mount = StorageMount("~/ro", MOUNT, BucketRef("local", "bk"), cache=CacheOptions(read_only=True))
    attach(conns, [mount], remotes)
    code, _ = run(conns.connections[0], "cat ~/ro/x && echo y > ~/ro/y")
    assert code != 0 and not (bucket / "y").exists()
    detach(conns, [mount])


def test_a_mount_point_that_is_not_empty_is_refused(cluster, store):
    _, remotes = store
    conns = cluster(1)
    node = conns.info.nodes[0]
    (Path(node.home) / "busy").mkdir()
    (Path(node.home) / "busy" / "mine.txt").write_text("keep")
    with pytest.raises(StorageError, match=rf"node t-0: mount point {node.home}/busy is not empty"):
        attach(conns, [StorageMount("~/busy", MOUNT, BucketRef("local", "bk"))], remotes)
    assert not mounts_under(str(Path(node.home).parent))
    assert (Path(node.home) / "busy" / "mine.txt").read_text() == "keep"


def test_rclone_missing_and_not_installable_is_one_clear_line(cluster, store):
    _, remotes = store
    conns = cluster(1)
    node = conns.info.nodes[0]
    # The node's sessions get a PATH with a shell and nothing else: no rclone, no apt-get.
    paths = sshd.NodePaths(Path(node.home).parent)
    bare = paths.root / "bare-bin"
    bare.mkdir()
    for tool in ("sh", "bash", "id"):
        (bare / tool).symlink_to(subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip())
    config = paths.config.read_text().replace("SetEnv ", f"SetEnv PATH={bare} ", 1)
    paths.config.write_text(config)
    conns.close()
    sshd.stop_listener(paths)
    sshd.start(paths, node.ip, node.port)
    key = conns.info.ssh_private_key_path
    with ClusterConnections(ClusterInfo("t", "local", (node,), key)) as fresh:
        assert run(fresh.connections[0], "echo $PATH")[1] == str(bare)
        with pytest.raises(StorageError) as caught:
            attach(fresh, [StorageMount("~/data", COPY, BucketRef("local", "bk"))], remotes)
    message = str(caught.value)
    assert message.startswith("node t-0: rclone is missing and could not be installed: ")
    assert "apt-get" in message and "not found" in message
