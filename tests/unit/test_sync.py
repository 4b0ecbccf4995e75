"""Which files a workdir sync sends: ignore rules and change detection."""

import os

import pytest

from stix.sync import changed, local_files


def tree(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_gitignore_stixignore_and_nested_rules(tmp_path):
    tree(tmp_path, {
        ".gitignore": "*.log\n/build/\n!keep.log\n",
        ".stixignore": "data/\n",
        "train.py": "x", "run.log": "x", "keep.log": "x", "build/out.bin": "x", "data/big.bin": "x",
        "src/model.py": "x", "src/.gitignore": "*.tmp\n", "src/scratch.tmp": "x", "src/build/x.py": "x",
        ".git/HEAD": "ref",
    })
    names = [f.path for f in local_files(tmp_path)]
    assert names == [".gitignore", ".stixignore", "keep.log", "src/.gitignore", "src/build/x.py", "src/model.py", "train.py"]


def test_only_changed_files_are_sent(tmp_path):
    tree(tmp_path, {"a.py": "1", "b.py": "2"})
    files = local_files(tmp_path)
    manifest = {f.path: [f.size, f.mtime_ns] for f in files}
    assert changed(files, manifest) == []
    (tmp_path / "b.py").write_text("22")
    os.utime(tmp_path / "b.py", ns=(1, 1))
    assert [f.path for f in changed(local_files(tmp_path), manifest)] == ["b.py"]


def test_links_are_listed_as_links_never_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "credentials").write_text("aws_secret_access_key=SECRET")
    work = tmp_path / "work"
    tree(work, {"train.py": "x", "data/real.bin": "x"})
    (work / "creds").symlink_to(outside / "credentials")
    (work / "shared").symlink_to(outside)
    listed = {f.path: f for f in local_files(work)}
    assert sorted(listed) == ["creds", "data/real.bin", "shared", "train.py"]
    assert listed["creds"].link == str(outside / "credentials")
    assert listed["shared"].link == str(outside)
    assert listed["train.py"].link is None


def test_a_real_node_receives_links_as_links(real_node, tmp_path):
    """Through SFTP to a real sshd node: the content behind a link outside the workdir never leaves."""
    from pathlib import Path

    from stix.sync import sync_dir

    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "credentials").write_text("aws_secret_access_key=SECRET")
    (outside / "dir" / "inner.txt").write_text("inner")
    work = tmp_path / "work"
    tree(work, {"train.py": "print(1)"})
    (work / "creds").symlink_to(outside / "credentials")
    (work / "linked").symlink_to(outside / "dir")
    (work / "relative").symlink_to("train.py")

    conn, home = real_node
    if True:
        remote = f"{home}/sky_workdir"
        assert sync_dir(conn, work, remote) == 4
        there = Path(remote)
        assert (there / "train.py").read_text() == "print(1)" and not (there / "train.py").is_symlink()
        assert (there / "creds").is_symlink() and os.readlink(there / "creds") == str(outside / "credentials")
        assert (there / "linked").is_symlink() and os.readlink(there / "linked") == str(outside / "dir")
        assert os.readlink(there / "relative") == "train.py"
        assert "SECRET" not in "".join(p.read_text() for p in there.rglob("*") if p.is_file() and not p.is_symlink())

        # A link replaced by a file later: the file is written in place of the link, never through it.
        (work / "creds").unlink()
        (work / "creds").write_text("plain")
        assert sync_dir(conn, work, remote) == 1
        assert not (there / "creds").is_symlink() and (there / "creds").read_text() == "plain"
        assert (outside / "credentials").read_text() == "aws_secret_access_key=SECRET"
        assert sync_dir(conn, work, remote) == 0


@pytest.fixture
def real_node(stix_home):
    """A connection to a real sshd node of the local cloud, and the node's home."""
    from stix.components.local.node import LocalNodeProvider
    from stix.keys import ensure_cluster_key
    from stix.spec import NodeInfo
    from stix.ssh.runner import NodeConnection

    key = stix_home / "keys" / "id_ed25519"
    props = {"cluster": "t", "node_name": "t-head", "rank": 0, "root": str(stix_home / "clusters" / "t" / "nodes"),
             "authorized_key": ensure_cluster_key(key, "t"), "state": "running"}
    provider = LocalNodeProvider()
    created = provider.create(props)
    conn = NodeConnection(NodeInfo.from_dict({**created.outs, "name": "t-head"}), str(key))
    try:
        yield conn, created.outs["home"]
    finally:
        conn.close()
        provider.delete(created.id, created.outs)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system on the node needs root (CI runs as root)")
def test_a_full_disk_during_sync_is_one_error_and_leaves_nothing_half_written(real_node, tmp_path):
    """The node's workdir is a 64 KiB tmpfs: a 256 KiB file cannot fit."""
    import subprocess
    import time
    from pathlib import Path

    from stix.errors import SSHError
    from stix.sync import MANIFEST, PART_SUFFIX, sync_dir

    conn, home = real_node
    work = tmp_path / "work"
    tree(work, {"small.py": "print(1)"})
    (work / "weights.bin").write_bytes(os.urandom(256 * 1024))
    remote = Path(home) / "sky_workdir"
    remote.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(remote)], check=True)
    try:
        started = time.monotonic()
        with pytest.raises(SSHError) as failure:
            sync_dir(conn, work, str(remote))
        detected = time.monotonic() - started
        message = str(failure.value)
        assert "t-head" in message and str(remote) in message and "the disk is full" in message, message
        assert "\n" not in message and detected < 10
        left = sorted(p.name for p in remote.iterdir())
        assert "weights.bin" not in left and not any(name.endswith(PART_SUFFIX) for name in left), left
        assert MANIFEST not in left, "a manifest would claim files the node does not have"
        print(f"full disk detected in {detected:.2f}s: {message}")
    finally:
        subprocess.run(["umount", "-l", str(remote)], check=False)
    # With room again, the next sync sends everything, whole.
    assert sync_dir(conn, work, str(remote)) == 2
    assert (remote / "weights.bin").read_bytes() == (work / "weights.bin").read_bytes()


def test_a_peer_gone_as_a_session_opens_is_an_ssh_error(real_node, monkeypatch):
    """paramiko raises a bare EOFError when the node dies just as a session opens (a managed job's node killed
    under the controller's watch): it must be the SSHError that callers treat as a lost node, not a crash."""
    from stix.errors import SSHError

    conn, _ = real_node
    transport = conn.client.get_transport()

    def gone(*args, **kwargs):
        raise EOFError()

    monkeypatch.setattr(transport, "open_session", gone)
    with pytest.raises(SSHError, match="cannot open a session"):
        conn.run("true")
