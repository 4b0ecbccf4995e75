"""FUSE hygiene on local nodes: a real `rclone mount` under a real node's home never outlives the node."""

import os
import shlex
import signal
import subprocess
from pathlib import Path

import pytest

from stix.components.local import faults, fuse, sshd
from stix.components.local.node import LocalNodeProvider
from stix.spec import NodeInfo
from stix.ssh.runner import NodeConnection
from tests.polling import wait_for


def test_mountinfo_escapes_are_read(tmp_path, monkeypatch):
    info = tmp_path / "mountinfo"
    root = tmp_path / "node dir"
    escaped = str(root).replace(" ", "\\040")
    info.write_text(
        f"36 35 0:40 / {escaped}/home/data rw,nosuid - fuse.rclone src: rw\n"
        f"37 35 0:41 / {escaped}/home/data/deeper rw - fuse.rclone src: rw\n"
        f"38 35 0:42 / {escaped}/home/tmp rw - tmpfs tmpfs rw\n"
        f"39 35 0:43 / {tmp_path}/elsewhere rw - fuse.rclone src: rw\n")
    monkeypatch.setattr(fuse, "MOUNTINFO", info)
    assert fuse.fuse_mounts_under(root) == [root / "home/data/deeper", root / "home/data"]


@pytest.fixture
def mounted_node(node_props, tmp_path):
    """A real node whose session runs `rclone mount` of an alias remote under its home."""
    props, key = node_props
    provider = LocalNodeProvider()
    created = provider.create(props)
    source = tmp_path / "source"
    source.mkdir()
    (source / "weights.bin").write_text("w")
    mount_point = Path(created.outs["home"]) / "data"
    conn = NodeConnection(NodeInfo.from_dict({**created.outs, "name": created.outs["node_name"]}), str(key))
    command = (f"mkdir -p {shlex.quote(str(mount_point))} && RCLONE_CONFIG=/dev/null RCLONE_CONFIG_SRC_TYPE=alias "
               f"RCLONE_CONFIG_SRC_REMOTE={shlex.quote(str(source))} "
               f"nohup rclone mount src: {shlex.quote(str(mount_point))} >/dev/null 2>&1 </dev/null &")
    assert conn.run(command, lambda line: None, timeout=30) == 0
    conn.close()
    wait_for(lambda: (mount_point / "weights.bin").exists(), 30, "the rclone mount")
    yield provider, created, mount_point, source
    provider.delete(created.id, created.outs)


def _rclone_pids(root):
    return {pid for pid in sshd.processes_under(Path(root)) if b"rclone" in _cmdline(pid)}


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # ended since it was listed
        return b""


def test_delete_unmounts_ends_rclone_and_removes_the_directory(mounted_node):
    provider, created, mount_point, source = mounted_node
    assert fuse.fuse_mounts_under(Path(created.id)) == [mount_point]
    assert _rclone_pids(created.id)
    provider.delete(created.id, created.outs)
    assert fuse.fuse_mounts_under(Path(created.id)) == []
    assert not sshd.processes_under(Path(created.id))
    assert not os.path.exists(created.id)
    assert (source / "weights.bin").read_text() == "w", "removing the node must not reach through the mount"


def test_a_stale_mount_does_not_block_removal(mounted_node):
    provider, created, mount_point, source = mounted_node
    for pid in _rclone_pids(created.id):
        os.kill(pid, signal.SIGKILL)
    # The first access after the kill reads "Software caused connection abort", the next ones ENOTCONN.
    wait_for(lambda: "Transport endpoint is not connected" in subprocess.run(
        ["ls", str(mount_point)], capture_output=True, text=True).stderr, 10, "the mount to go stale")
    assert fuse.fuse_mounts_under(Path(created.id)) == [mount_point]
    provider.delete(created.id, created.outs)
    assert fuse.fuse_mounts_under(Path(created.id)) == []
    assert not os.path.exists(created.id)


def test_stop_and_preempt_unmount_first(mounted_node):
    provider, created, mount_point, source = mounted_node
    faults.preempt(Path(created.id))
    assert fuse.fuse_mounts_under(Path(created.id)) == []
    assert not sshd.processes_under(Path(created.id))
    assert os.path.isdir(created.id), "a preempted node keeps its directory"


def test_sweep_local_unmounts_before_removing(mounted_node, stix_home):
    from stix.home import StixHome
    from stix.lifecycle import sweep_local

    provider, created, mount_point, source = mounted_node
    sweep_local(StixHome(stix_home), "t")
    assert fuse.fuse_mounts_under(stix_home) == []
    assert not sshd.processes_under(Path(created.id))
    assert not os.path.exists(created.id)
    assert (source / "weights.bin").read_text() == "w"
