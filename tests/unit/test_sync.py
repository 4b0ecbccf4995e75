"""Which files a workdir sync sends: ignore rules and change detection."""

import os

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


def test_a_real_node_receives_links_as_links(stix_home, tmp_path):
    """Through SFTP to a real sshd node: the content behind a link outside the workdir never leaves."""
    from pathlib import Path

    from stix.components.local.node import LocalNodeProvider
    from stix.keys import ensure_cluster_key
    from stix.spec import NodeInfo
    from stix.ssh.runner import NodeConnection
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

    key = stix_home / "keys" / "id_ed25519"
    props = {"cluster": "t", "node_name": "t-head", "rank": 0, "root": str(stix_home / "clusters" / "t" / "nodes"),
             "authorized_key": ensure_cluster_key(key, "t"), "state": "running"}
    provider = LocalNodeProvider()
    created = provider.create(props)
    conn = NodeConnection(NodeInfo.from_dict({**created.outs, "name": "t-head"}), str(key))
    try:
        remote = f"{created.outs['home']}/sky_workdir"
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
    finally:
        conn.close()
        provider.delete(created.id, created.outs)
