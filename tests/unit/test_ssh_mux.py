"""Reused SSH connections (stix.ssh.mux): the pure parts; tests/e2e/test_ssh_reuse.py runs them against sshd."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from stix.spec import NodeInfo
from stix.ssh import mux

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


@pytest.fixture
def short_dir():
    """A runtime directory short enough for a socket path (pytest's tmp_path is not)."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="mux-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def node(**changes) -> NodeInfo:
    fields = dict(name="dev-head", rank=0, ip="127.0.0.9", port=2222, user="alice", host_public_key=KEY + " comment",
                  home="/home/alice")
    fields.update(changes)
    return NodeInfo(**fields)


def options(argv: list[str]) -> dict[str, str]:
    pairs = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-o"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_options_pin_the_host_key_and_ignore_the_users_config(tmp_path, monkeypatch):
    monkeypatch.setenv("STIX_SSH_KEEPALIVE", "2.5")
    monkeypatch.setenv("STIX_SSH_KEEPALIVE_COUNT", "3")
    argv = mux.ssh_options(node(), "keys/id", tmp_path / "c.sock", tmp_path / "c.known", 42)
    assert argv[:2] == ["-F", "/dev/null"], "the user's ~/.ssh/config must not change what stix connects to"
    assert argv[argv.index("-l") + 1] == "alice" and argv[argv.index("-p") + 1] == "2222"
    opts = options(argv)
    assert opts["StrictHostKeyChecking"] == "yes" and opts["UserKnownHostsFile"] == str(tmp_path / "c.known")
    assert opts["GlobalKnownHostsFile"] == "/dev/null" and opts["UpdateHostKeys"] == "no"
    assert opts["IdentitiesOnly"] == "yes" and opts["IdentityFile"] == os.path.abspath("keys/id")
    assert opts["IdentityAgent"] == "none" and opts["BatchMode"] == "yes"
    assert opts["ControlMaster"] == "auto" and opts["ControlPath"] == str(tmp_path / "c.sock")
    assert opts["ControlPersist"] == "42"
    assert opts["ServerAliveInterval"] == "3" and opts["ServerAliveCountMax"] == "3", "whole seconds, never 0"
    assert opts["LogLevel"] == "ERROR" and int(opts["ConnectTimeout"]) > 0


def test_a_socket_is_named_by_everything_it_connects_to():
    base = mux.socket_name(node(), "/k/id")
    assert base == mux.socket_name(node(name="other-name", home="/elsewhere"), "/k/id")
    other_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA0dbmqHE1PBxDBMLNXRm3sOHsXD1MN9FVrq1LmLhHLA"
    for changed in (node(user="bob"), node(ip="127.0.0.10"), node(port=2223), node(host_public_key=other_key)):
        assert mux.socket_name(changed, "/k/id") != base
    assert mux.socket_name(node(), "/k/other") != base, "a re-created cluster (new key) gets a new master"
    assert len(base) == 32 and base.isalnum()


def test_the_socket_directory_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    directory = mux.socket_dir()
    assert directory == tmp_path / "stix-ssh"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


@pytest.mark.parametrize("problem", ["open to others", "a link", "another user's"])
def test_an_unsafe_socket_directory_turns_reuse_off(tmp_path, monkeypatch, problem):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    target = tmp_path / "stix-ssh"
    if problem == "open to others":
        target.mkdir(mode=0o700)
        target.chmod(0o777)
    elif problem == "a link":
        (tmp_path / "real").mkdir(mode=0o700)
        target.symlink_to(tmp_path / "real")
    else:
        target.mkdir(mode=0o700)
        if os.getuid() != 0:
            monkeypatch.setattr(mux.os, "getuid", lambda: os.getuid() + 1)  # not root: pretend to be someone else
        else:
            os.chown(target, 12345, -1)
    assert mux.socket_dir() is None
    assert mux.connect(node(), "/k/id") is None


def test_without_XDG_RUNTIME_DIR_the_directory_is_per_user_under_tmp(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(mux.tempfile, "gettempdir", lambda: str(tmp_path))
    assert mux.socket_dir() == tmp_path / f"stix-ssh-{os.getuid()}"


def test_a_socket_path_too_long_for_sun_path_turns_reuse_off(tmp_path, monkeypatch):
    deep = tmp_path / ("d" * 80)
    deep.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    assert mux.connect(node(), "/k/id") is None


def test_reuse_off_by_environment_or_without_an_ssh_binary(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("STIX_SSH_REUSE", "0")
    assert mux.connect(node(), "/k/id") is None
    monkeypatch.delenv("STIX_SSH_REUSE")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert mux.connect(node(), "/k/id") is None


def test_persist_is_the_setting_but_under_half_the_autostop_time(monkeypatch):
    assert mux.persist_seconds() == 300
    assert mux.persist_seconds(10) == 300
    assert mux.persist_seconds(4) == 120
    assert mux.persist_seconds(0.05) == 1, "never 0: ControlPersist=0 would mean forever"
    monkeypatch.setenv("STIX_SSH_PERSIST", "30")
    assert mux.persist_seconds() == 30
    monkeypatch.setenv("STIX_SSH_PERSIST", "soon")
    from stix.errors import UsageError

    with pytest.raises(UsageError, match="STIX_SSH_PERSIST"):
        mux.persist_seconds()


def test_the_known_hosts_file_holds_only_the_pinned_key_and_is_private(short_dir, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_dir))
    conn = mux.connect(node(), "/k/id")
    assert conn is not None
    known = Path(options(conn.argv)["UserKnownHostsFile"])
    assert known.read_text() == f"[127.0.0.9]:2222 {KEY}\n"
    assert stat.S_IMODE(known.stat().st_mode) == 0o600
    assert mux.connect(node(port=22), "/k/id") is not None
    assert f"127.0.0.9 {KEY}\n" in {p.read_text() for p in known.parent.glob("*.known")}


def test_an_ssh_failure_message_maps_to_the_right_error(short_dir, monkeypatch):
    from stix.errors import HostKeyMismatch, SSHError

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_dir))
    conn = mux.connect(node(), "/k/id")
    mismatch = conn._failure("@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@ Host key verification failed.")
    assert type(mismatch) is HostKeyMismatch and "pinned key" in str(mismatch)
    refused = conn._failure("ssh: connect to host 127.0.0.9 port 2222: Connection refused")
    assert type(refused) is SSHError and "Connection refused" in str(refused) and "dev-head" in str(refused)


def test_the_head_connection_of_a_cluster_with_autostop_persists_under_half_its_idle_time(short_dir, monkeypatch,
                                                                                          tmp_path):
    from stix import cluster_jobs
    from stix.home import StixHome
    from stix.index import UP, ClusterIndex
    from stix.spec import ClusterInfo

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_dir))
    home = StixHome(tmp_path / "home")
    cluster_jobs.save_info(home, ClusterInfo("dev", "local", (node(port=1),), str(tmp_path / "id")))
    index = ClusterIndex(home.index_db)
    index.upsert("dev", "local", 1, UP, None)
    with cluster_jobs.head_connection(home, "dev") as head:  # nothing connects until a command runs
        assert isinstance(head, mux.MuxConnection) and options(head.argv)["ControlPersist"] == "300"
    index.set_autostop("dev", "4m (down)")
    with cluster_jobs.head_connection(home, "dev") as head:
        assert options(head.argv)["ControlPersist"] == "120"
    monkeypatch.setenv("STIX_SSH_REUSE", "0")
    from stix.errors import SSHError

    with pytest.raises(SSHError, match="cannot connect"):  # the paramiko fallback, to a node that is not there
        with cluster_jobs.head_connection(home, "dev"):
            pass


def test_message_files_left_by_a_killed_command_are_swept_once_old(short_dir, monkeypatch):
    import time

    old, fresh, socket = short_dir / "log-old", short_dir / "log-fresh", short_dir / "abc.known"
    for path in (old, fresh, socket):
        path.write_text("x")
    day_ago = time.time() - mux.STALE_LOG_S - 60
    os.utime(old, (day_ago, day_ago))
    os.utime(socket, (day_ago, day_ago))
    mux._swept.discard(short_dir)
    mux.sweep_stale_logs(short_dir)
    assert not old.exists()
    assert fresh.exists() and socket.exists()  # a running command's file, and what is not a message file
