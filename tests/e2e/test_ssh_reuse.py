"""End to end: commands to a cluster reuse one OpenSSH master connection (stix.ssh.mux), against real sshd."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Optional

import pytest

from stix.components.local import sshd
from stix.ssh import mux
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

CLUSTER = "e2e-reuse"


@pytest.fixture
def cluster(stix, stix_home, tmp_path, engine):
    task = tmp_path / "cluster.yaml"
    task.write_text(f"name: {CLUSTER}\nresources:\n  infra: local\n")
    up = stix("up", "-y", str(task))
    assert up.returncode == 0, up.stdout + up.stderr
    yield load(stix_home)
    assert stix("destroy", "-y", CLUSTER).returncode == 0


def load(stix_home: Path):
    from stix.cluster_jobs import read_info
    from stix.home import StixHome

    return read_info(StixHome(stix_home), CLUSTER)


def control_path(info) -> Path:
    directory = mux.socket_dir()
    assert directory is not None
    return directory / f"{mux.socket_name(info.head, info.ssh_private_key_path)}.sock"


def master_pid(info) -> Optional[int]:
    """The pid of the master serving the head's socket (asked of the master itself), None if none answers."""
    check = subprocess.run(["ssh", "-F", "/dev/null", "-o", f"ControlPath={control_path(info)}", "-O", "check", "x"],
                           capture_output=True, text=True, timeout=10)
    if check.returncode != 0:
        return None
    return int(check.stderr.split("pid=")[1].split(")")[0])


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def queue_ok(stix) -> None:
    result = stix("queue", CLUSTER, "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == [{"cluster": CLUSTER, "jobs": []}]


def test_the_second_command_reuses_the_first_ones_connection(stix, cluster):
    assert master_pid(cluster) is None
    queue_ok(stix)  # returns: the master it left behind holds none of its pipes
    first = master_pid(cluster)
    assert first is not None, "the first command leaves a master connection for the next"
    head = cluster.head
    connections_before = established(head.ip, head.port)
    queue_ok(stix)
    assert master_pid(cluster) == first
    assert established(head.ip, head.port) == connections_before, "the node saw no new TCP connection"


def test_a_reused_queue_does_not_import_paramiko(stix, cluster):
    from tests.import_probe import heavy_modules_loaded

    queue_ok(stix)
    assert heavy_modules_loaded(stix, ["queue", CLUSTER], ("paramiko",)) == []


def test_concurrent_first_commands_all_succeed(stix, cluster):
    runs = [stix.popen("queue", CLUSTER, "--format", "json") for _ in range(8)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0] * 8, outputs
    assert all(json.loads(out) == [{"cluster": CLUSTER, "jobs": []}] for out in outputs)
    assert master_pid(cluster) is not None


def test_a_stale_socket_and_a_killed_master_are_replaced(stix, cluster):
    path = control_path(cluster)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))  # bound, then closed: a socket file nobody listens on
    stale.close()
    queue_ok(stix)
    first = master_pid(cluster)
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not alive(first), what="the killed master to go")
    queue_ok(stix)
    second = master_pid(cluster)
    assert second is not None and second != first


def test_a_timeout_ends_the_command_not_the_master(stix, cluster):
    from stix.errors import SSHError

    conn = mux.connect(cluster.head, cluster.ssh_private_key_path)
    assert conn is not None
    lines: list[str] = []
    assert conn.run("echo out; echo err >&2; cat; exit 3", lines.append, stdin=b"from stdin\n") == 3
    # stdout and stderr travel as two SSH streams: their order relative to each other is not kept
    assert sorted(lines) == ["err", "from stdin", "out"]
    assert lines.index("out") < lines.index("from stdin")
    master = master_pid(cluster)
    with pytest.raises(SSHError, match="timed out after 0.5s"):
        conn.run("sleep 60", timeout=0.5)
    assert master_pid(cluster) == master
    assert conn.run("exit 255") == 255, "the command's own 255 is its status, not an SSH failure"


def test_a_host_key_mismatch_and_an_unreachable_node_are_one_line_errors(stix, cluster):
    from stix.errors import HostKeyMismatch, SSHError

    other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    liar = mux.connect(dataclasses.replace(cluster.head, host_public_key=other), cluster.ssh_private_key_path)
    with pytest.raises(HostKeyMismatch, match="does not match the pinned key"):
        liar.run("true")
    closed = mux.connect(dataclasses.replace(cluster.head, port=1), cluster.ssh_private_key_path)
    with pytest.raises(SSHError, match="Connection refused"):
        closed.run("true")


def test_reuse_off_leaves_no_master(stix, cluster):
    result = stix("queue", CLUSTER, STIX_SSH_REUSE="0")
    assert result.returncode == 0, result.stderr
    assert master_pid(cluster) is None


def test_arming_autostop_ends_the_master_and_the_node_stays(stix, cluster, stix_home):
    queue_ok(stix)
    first = master_pid(cluster)
    assert first is not None
    assert stix("autostop", CLUSTER, "-i", "60").returncode == 0
    wait_for(lambda: not alive(first), what="the master to end (it would count as an SSH session)")
    assert sshd.processes_under(stix_home / "clusters" / CLUSTER), "the node itself is still up"
    queue_ok(stix)
    assert master_pid(cluster) is not None


def test_arming_autostop_lets_a_command_running_over_the_master_finish(stix, cluster, stix_home, tmp_path):
    queue_ok(stix)
    first = master_pid(cluster)
    assert first is not None
    marker = tmp_path / "started"
    follow = stix.popen("exec", CLUSTER, f"touch {marker}; sleep 2; echo finished-over-the-master")
    try:
        wait_for(marker.exists, what="the job to start")  # local-cloud nodes share this filesystem
        assert stix("autostop", CLUSTER, "-i", "60").returncode == 0
        assert master_pid(cluster) is None, "the master takes no new sessions once autostop is armed"
        output, _ = follow.communicate(timeout=60)
    finally:
        follow.kill()
    assert follow.returncode == 0, output
    assert "finished-over-the-master" in output
    wait_for(lambda: not alive(first), what="the stopped master to end with its last session")
    assert stix("queue", CLUSTER).returncode == 0
    assert master_pid(cluster) not in (None, first)


def test_up_arming_autostop_ends_an_earlier_commands_master(stix, cluster, stix_home):
    queue_ok(stix)
    first = master_pid(cluster)
    assert first is not None
    up = stix("up", "-y", "-i", "60", str(stix_home.parent / "cluster.yaml"))
    assert up.returncode == 0, up.stdout + up.stderr
    wait_for(lambda: not alive(first), what="the master opened before autostop was armed to end")


def test_stop_and_destroy_end_the_master(stix, stix_home, cluster):
    queue_ok(stix)
    first = master_pid(cluster)
    assert first is not None
    port = tcp_source_port(first)
    assert stix("stop", "-y", CLUSTER).returncode == 0
    assert not alive(first)
    log = (stix_home / "clusters" / CLUSTER / "nodes" / f"{CLUSTER}-head" / "sshd.log").read_text()
    assert f"port {port}:11: disconnected by user" in log, "the master was told to exit (`ssh -O exit`), not cut off"
    assert stix("start", "-y", CLUSTER).returncode == 0
    queue_ok(stix)
    started = load(stix_home)  # start may have given the node a new address
    second = master_pid(started)
    assert second is not None
    assert stix("destroy", "-y", CLUSTER).returncode == 0
    assert not alive(second) and not control_path(started).exists()
    assert stix("up", "-y", str(stix_home.parent / "cluster.yaml")).returncode == 0  # for the fixture's destroy


def established(ip: str, port: int) -> int:
    """TCP connections in ESTABLISHED state to ip:port, as the node's kernel sees them."""
    from stix.agent.node_agent import ssh_sessions

    return ssh_sessions(ip, port)


def tcp_source_port(pid: int) -> int:
    """The local port of the one TCP connection a process holds (its socket inode looked up in /proc/net/tcp)."""
    inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")
              if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[9] in inodes:
            return int(fields[1].split(":")[1], 16)
    raise AssertionError(f"process {pid} holds no TCP connection")
