"""The local node's dynamic provider, called directly against real sshd processes."""

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from stix.components.local import sshd
from stix.components.local.node import LocalNodeProvider
from stix.spec import NodeInfo
from stix.ssh.runner import NodeConnection
from tests.polling import wait_for


def connect(outs, key) -> NodeConnection:
    return NodeConnection(NodeInfo.from_dict({**outs, "name": outs["node_name"]}), str(key))


def test_create_read_delete_lifecycle(node_props):
    props, key = node_props
    provider = LocalNodeProvider()
    created = provider.create(props)
    outs = created.outs
    assert outs["ip"].startswith("127.0.") and outs["port"] == sshd.BASE_PORT
    assert outs["host_public_key"].startswith("ssh-ed25519 ")
    assert (os.stat(os.path.join(created.id, "ssh_host_ed25519_key")).st_mode & 0o777) == 0o600

    conn = connect(outs, key)
    lines = []
    assert conn.run("echo $HOME; echo $STIX_NODE_DIR", lines.append) == 0
    assert lines == [outs["home"], created.id]
    assert conn.run("exit 7") == 7
    conn.close()

    read = provider.read(created.id, outs)
    assert read.id == created.id and read.inputs["state"] == "running"

    provider.delete(created.id, outs)
    assert not os.path.exists(created.id)
    assert not sshd.processes_under(sshd.NodePaths(Path(created.id)).root)


def test_killed_node_reads_as_stopped_and_update_restarts_it(node_props):
    props, key = node_props
    provider = LocalNodeProvider()
    created = provider.create(props)
    paths = sshd.NodePaths(Path(created.id))
    os.kill(sshd.running_pid(paths), signal.SIGKILL)
    read = provider.read(created.id, created.outs)
    assert read.inputs["state"] == "stopped"
    diff = provider.diff(created.id, read.inputs, props)
    assert diff.changes and not diff.replaces
    updated = provider.update(created.id, read.outs, props)
    assert updated.outs["state"] == "running"
    assert sshd.listening(updated.outs["ip"], updated.outs["port"])
    provider.delete(created.id, updated.outs)


def test_removed_node_reads_as_gone_and_delete_still_kills_it(node_props):
    props, _ = node_props
    provider = LocalNodeProvider()
    created = provider.create(props)
    shutil.rmtree(created.id)
    assert provider.read(created.id, created.outs).id is None
    assert sshd.processes_under(sshd.NodePaths(Path(created.id)).root), "sshd should still run without its directory"
    provider.delete(created.id, created.outs)
    assert not sshd.processes_under(sshd.NodePaths(Path(created.id)).root)


def test_wrong_host_key_is_refused(node_props):
    from stix.errors import SSHError
    from stix.keys import generate_keypair

    props, key = node_props
    provider = LocalNodeProvider()
    created = provider.create(props)
    try:
        forged = {**created.outs, "host_public_key": generate_keypair().public_openssh}
        with pytest.raises(SSHError, match="host key does not match the pinned key"):
            connect(forged, key)
    finally:
        provider.delete(created.id, created.outs)


def test_session_processes_are_killed_on_delete(node_props):
    props, key = node_props
    provider = LocalNodeProvider()
    created = provider.create(props)
    conn = connect(created.outs, key)
    pids: list[str] = []
    conn.run("nohup sleep 300 >/dev/null 2>&1 & echo $!", pids.append)
    conn.close()
    sleepers = [int(pids[0])]
    assert set(sleepers) <= sshd.processes_under(sshd.NodePaths(Path(created.id)).root)
    provider.delete(created.id, created.outs)
    assert not any(os.path.exists(f"/proc/{pid}") and not sshd._is_zombie(pid) for pid in sleepers)


def test_diff_replaces_on_identity_change(node_props):
    props, _ = node_props
    diff = LocalNodeProvider().diff("x", props, {**props, "node_name": "other"})
    assert diff.replaces == ["node_name"]
    assert not LocalNodeProvider().diff("x", props, dict(props)).changes


def test_render_config_is_key_only(tmp_path):
    text = sshd.render_config(sshd.NodePaths(tmp_path), "127.0.0.9", 2222, "alice")
    assert "PasswordAuthentication no" in text and "ListenAddress 127.0.0.9:2222" in text
    assert "AllowUsers alice" in text


def test_sshd_moved_to_another_port_reads_as_port_drift_and_update_moves_it_back(node_props):
    props = {**node_props[0], "port": sshd.BASE_PORT}
    provider = LocalNodeProvider()
    created = provider.create(props)
    paths = sshd.NodePaths(Path(created.id))
    ip, port = created.outs["ip"], created.outs["port"]
    moved = port + 1
    sshd.stop_listener(paths)
    paths.config.write_text(sshd.render_config(paths, ip, moved, sshd.current_user()))
    sshd.start(paths, ip, moved)
    assert sshd.listen_addresses(sshd.running_pid(paths)) == [(ip, moved)]

    read = provider.read(created.id, created.outs)
    assert read.inputs["state"] == "running" and read.inputs["port"] == moved and read.outs["port"] == moved
    assert provider.diff(created.id, read.inputs, read.inputs).changes is False
    diff = provider.diff(created.id, read.inputs, props)
    assert diff.changes and not diff.replaces

    updated = provider.update(created.id, read.outs, props)
    assert (updated.outs["ip"], updated.outs["port"]) == (ip, port)
    assert sshd.listening(ip, port) and not sshd.listening(ip, moved)
    provider.delete(created.id, updated.outs)


def test_a_node_under_a_path_with_spaces_starts_and_serves(node_props):
    props, key = node_props
    props = {**props, "root": props["root"].replace("/clusters/t/", "/clusters/t with space/")}
    provider = LocalNodeProvider()
    created = provider.create(props)
    try:
        assert ' "' in sshd.NodePaths(Path(created.id)).config.read_text()
        conn = connect(created.outs, key)
        lines: list[str] = []
        assert conn.run('echo "$HOME"', lines.append) == 0
        conn.close()
        assert lines == [created.outs["home"]] and " " in lines[0]
    finally:
        provider.delete(created.id, created.outs)
    assert not sshd.processes_under(Path(created.id))


def _ssh_via_generated_config(stix_home, outs, key, host_public_key) -> subprocess.CompletedProcess:
    from stix import ssh_config
    from stix.home import StixHome
    from stix.spec import ClusterInfo

    node = NodeInfo.from_dict({**outs, "name": outs["node_name"], "host_public_key": host_public_key})
    odd_key = stix_home / "my keys" / "id 50%"  # ssh_config must quote it and escape its %-token
    odd_key.parent.mkdir(exist_ok=True)
    shutil.copyfile(key, odd_key)
    os.chmod(odd_key, 0o600)
    info = ClusterInfo("t", "local", (node,), str(odd_key))
    config = ssh_config.write_cluster_config(StixHome(stix_home), info, stix_home.parent / "user-ssh" / "config")
    assert "StrictHostKeyChecking yes" in config.read_text()
    return subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", "t", "true"], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


def test_openssh_with_the_generated_config_refuses_a_wrong_pinned_key(stix_home, node_props):
    from stix.keys import generate_keypair

    props, key = node_props
    provider = LocalNodeProvider()
    created = provider.create(props)
    try:
        good = _ssh_via_generated_config(stix_home, created.outs, key, created.outs["host_public_key"])
        assert good.returncode == 0, good.stderr
        bad = _ssh_via_generated_config(stix_home, created.outs, key, generate_keypair().public_openssh)
        assert bad.returncode == 255 and "Host key verification failed" in bad.stderr, bad.stderr
    finally:
        provider.delete(created.id, created.outs)



def test_a_frozen_node_is_reported_within_the_keepalive_bound(node_props, monkeypatch):
    """SIGSTOP the node's sshd and its session: the TCP peer stays up, only keepalives can tell."""
    from stix.errors import SSHError

    monkeypatch.setenv("STIX_SSH_KEEPALIVE", "0.5")
    monkeypatch.setenv("STIX_SSH_KEEPALIVE_COUNT", "3")
    props, key = node_props
    provider = LocalNodeProvider()
    created = provider.create(props)
    root = Path(created.id)
    conn = connect(created.outs, key)
    frozen: set[int] = set()
    try:
        lines: list[str] = []
        assert conn.run("sleep 2.5; echo alive", lines.append) == 0 and lines == ["alive"], \
            "a silent but live command outlasts the bound"
        outcome: dict = {}

        def run() -> None:
            try:
                outcome["status"] = conn.run("echo started; sleep 60", lambda line: outcome.setdefault("line", line))
            except SSHError as exc:
                outcome["error"], outcome["at"] = exc, time.monotonic()

        worker = threading.Thread(target=run)
        worker.start()
        wait_for(lambda: "line" in outcome, 15, "the command to start")
        frozen = sshd.processes_under(root)
        for pid in frozen:
            _signal(pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        worker.join(timeout=30)
        assert "error" in outcome, outcome
        detected = outcome["at"] - stopped_at
        print(f"frozen node detected after {detected:.2f}s (bound {0.5 * 3:g}s + one interval)")
        assert "t-head" in str(outcome["error"]) and "no reply" in str(outcome["error"])
        assert detected < 0.5 * 3 + 1.5
    finally:
        for pid in frozen:
            _signal(pid, signal.SIGCONT)
        conn.close()
        provider.delete(created.id, created.outs)


def test_opening_a_session_or_sftp_on_a_frozen_node_fails_within_the_bound(node_props, monkeypatch):
    """Channel opens (commands, the workdir sync's sftp) wait at most the keepalive bound, not paramiko's hour."""
    import paramiko

    from stix.errors import SSHError

    monkeypatch.setenv("STIX_SSH_KEEPALIVE", "0.5")
    monkeypatch.setenv("STIX_SSH_KEEPALIVE_COUNT", "2")
    props, key = node_props
    provider = LocalNodeProvider()
    created = provider.create(props)
    conn = connect(created.outs, key)
    frozen = sshd.processes_under(Path(created.id))
    try:
        for pid in frozen:
            _signal(pid, signal.SIGSTOP)
        for attempt in (lambda: conn.run("true"), conn.client.open_sftp):
            outcome: dict = {}

            def call() -> None:
                try:
                    attempt()
                except (SSHError, paramiko.SSHException) as exc:
                    outcome["error"] = exc

            started = time.monotonic()
            caller = threading.Thread(target=call, daemon=True)
            caller.start()
            caller.join(timeout=10)
            assert "error" in outcome, "still waiting on a frozen node after 10s"
            assert time.monotonic() - started < 0.5 * 2 + 1.5
    finally:
        for pid in frozen:
            _signal(pid, signal.SIGCONT)
        conn.close()
        provider.delete(created.id, created.outs)


def test_a_cloud_like_node_listens_on_a_private_address_too(node_props):
    props, key = node_props
    props = {**props, "port": sshd.BASE_PORT}
    provider = LocalNodeProvider()
    created = provider.create({**props, "private_address": True})
    try:
        outs = created.outs
        assert outs["private_ip"] != outs["ip"]
        assert sshd.listen_addresses(sshd.running_pid(sshd.NodePaths(Path(created.id)))) == sorted(
            [(outs["ip"], outs["port"]), (outs["private_ip"], outs["port"])])
        read = provider.read(created.id, outs)
        assert read.outs["ip"] == outs["ip"] and read.outs["private_ip"] == outs["private_ip"]
        assert not provider.diff(created.id, read.inputs, {**props, "private_address": True}).changes
        assert not provider.diff(created.id, props, {**props, "private_address": False}).changes, \
            "state from before private_address reads as False, not as a replacement"
    finally:
        provider.delete(created.id, created.outs)



def _half_open_connection(ip: str, port: int):
    """A connection past the banners, not logged in: sshd serves it from a child running as the sshd user."""
    import socket

    waiting = socket.create_connection((ip, port), timeout=10)
    assert waiting.recv(64).startswith(b"SSH-2.0-"), "sshd answered the connection"
    waiting.sendall(b"SSH-2.0-stix-test\r\n")
    assert waiting.recv(4096), "sshd started its key exchange"
    return waiting


def _closed(waiting) -> bool:
    import socket

    waiting.settimeout(5)
    try:
        return waiting.recv(64) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


@pytest.mark.parametrize("stopper", ["provider delete", "agent autostop"])
def test_stopping_a_node_leaves_no_sshd_child_holding_a_connection(node_props, stopper):
    """Else such a child lives on holding the address, and the next cluster there never looks idle."""
    from stix.agent import node_agent

    props, key = node_props
    provider = LocalNodeProvider()
    created = provider.create(props)
    waiting = _half_open_connection(created.outs["ip"], created.outs["port"])
    try:
        if stopper == "agent autostop":
            node_agent._kill_node(Path(created.id))
        else:
            provider.delete(created.id, created.outs)
        assert _closed(waiting), "a process of the stopped node still holds the connection open"
    finally:
        waiting.close()
        provider.delete(created.id, created.outs)


def _signal(pid: int, signum: int) -> None:
    """A process listed a moment ago (a session's short-lived privsep child) may have ended since."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
