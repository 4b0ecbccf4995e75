"""The user's ssh config (stix/ssh_config.py) and the head's known_hosts for its workers."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from stix import ssh_config
from stix.agent.node_agent import known_hosts_line, ssh_command
from stix.home import StixHome
from stix.spec import ClusterInfo, NodeInfo

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake node"


def info(cluster: str = "c1", key_path: str = "/keys/id", nodes: int = 2) -> ClusterInfo:
    return ClusterInfo(cluster, "local", tuple(
        NodeInfo(name=f"{cluster}-n{r}", rank=r, ip=f"203.0.113.{r + 1}", port=22, user="u", host_public_key=KEY,
                 home="/h", private_ip=f"10.0.0.{r + 1}") for r in range(nodes)), key_path)


@pytest.fixture
def home(tmp_path: Path) -> StixHome:
    return StixHome(tmp_path / "stix home")


@pytest.fixture
def user_config(tmp_path: Path) -> Path:
    path = tmp_path / "user" / ".ssh" / "config"
    path.parent.mkdir(parents=True)
    path.write_text("Host example\n  User someone\n")
    return path


def test_cluster_files_are_private_whatever_the_umask(home, user_config):
    old = os.umask(0o002)
    try:
        config = ssh_config.write_cluster_config(home, info(), user_config)
    finally:
        os.umask(old)
    for path in (config, config.with_suffix(".known_hosts")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(user_config.stat().st_mode) & 0o022 == 0


def test_generated_config_pins_host_keys(home, user_config):
    text = ssh_config.write_cluster_config(home, info(), user_config).read_text()
    assert text.count("StrictHostKeyChecking yes") == 2
    assert "StrictHostKeyChecking no" not in text and "accept-new" not in text


def test_a_symlinked_config_stays_a_symlink(home, tmp_path, user_config):
    dotfiles = tmp_path / "dotfiles" / "ssh_config"
    dotfiles.parent.mkdir()
    os.replace(user_config, dotfiles)
    user_config.symlink_to(dotfiles)
    ssh_config.write_cluster_config(home, info(), user_config)
    assert user_config.is_symlink()
    assert dotfiles.read_text().startswith(ssh_config.BEGIN) and "Host example" in dotfiles.read_text()
    ssh_config.remove_cluster_config(home, "c1", user_config)
    assert user_config.is_symlink() and dotfiles.read_text() == "Host example\n  User someone\n"


def test_the_include_block_goes_with_the_last_cluster(home, user_config):
    ssh_config.write_cluster_config(home, info("c1"), user_config)
    ssh_config.write_cluster_config(home, info("c2"), user_config)
    assert user_config.read_text().count("Include ") == 1
    ssh_config.remove_cluster_config(home, "c1", user_config)
    assert ssh_config.BEGIN in user_config.read_text(), "c2 still needs it"
    ssh_config.remove_cluster_config(home, "c2", user_config)
    assert user_config.read_text() == "Host example\n  User someone\n"


def test_a_users_host_of_the_same_name_is_never_shadowed(home, user_config):
    user_config.write_text("Host other c1 *\n  User mine\nHost=C1-worker9\n")
    notes: list[str] = []
    text = ssh_config.write_cluster_config(home, info("c1"), user_config, note=notes.append).read_text()
    assert "Host c1" not in text.splitlines() and "Host c1-worker1" in text.splitlines()
    assert notes == [f"`ssh c1` stays with the Host c1 in {user_config}; stix did not add its own"]
    resolved = subprocess.run(["ssh", "-G", "-F", str(user_config), "c1"], capture_output=True, text=True, timeout=10)
    assert resolved.returncode == 0, resolved.stderr
    assert "user mine" in resolved.stdout.splitlines()


def test_paths_with_spaces_and_percent_signs_reach_ssh_intact(tmp_path, user_config):
    home = StixHome(tmp_path / "a dir" / "100% stix")
    key = str(tmp_path / "my keys" / "id 50%")
    ssh_config.write_cluster_config(home, info(key_path=key), user_config)
    resolved = subprocess.run(["ssh", "-G", "-F", str(user_config), "c1-worker1"], capture_output=True, text=True,
                              timeout=10)
    assert resolved.returncode == 0, resolved.stderr
    lines = resolved.stdout.splitlines()
    assert f"identityfile {key.replace('%', '%%')}" in lines, "ssh -G prints it before expanding %-tokens"
    assert f"userknownhostsfile {home.root / 'ssh' / 'c1.known_hosts'}" in lines
    assert "hostname 203.0.113.2" in lines and "stricthostkeychecking true" in lines


def test_a_path_ssh_config_cannot_quote_is_refused(home, user_config):
    from stix.errors import StixError

    with pytest.raises(StixError, match="double quote"):
        ssh_config.write_cluster_config(home, info(key_path='/k"ey'), user_config)


# --- the head's known_hosts and its ssh to workers (item: multi-node jobs on port 22) ---


def test_known_hosts_line_is_bare_for_port_22_and_bracketed_otherwise():
    assert known_hosts_line("10.0.0.2", 22, KEY) == f"10.0.0.2 {' '.join(KEY.split()[:2])}\n"
    assert known_hosts_line("10.0.0.2", 2222, KEY) == f"[10.0.0.2]:2222 {' '.join(KEY.split()[:2])}\n"


def test_the_head_reaches_workers_on_their_private_address():
    node = info().nodes[1].to_dict()
    argv = ssh_command(node, {"key": "/k", "known_hosts": "/kh"}, "true")
    assert "u@10.0.0.2" in argv and not any("203.0.113" in a for a in argv)
    assert "u@198.51.100.7" in ssh_command({**node, "private_ip": "", "ip": "198.51.100.7"},
                                           {"key": "/k", "known_hosts": "/kh"}, "true")


def test_install_agent_pins_workers_by_private_address(tmp_path):
    from stix import cluster_jobs

    key = tmp_path / "id"
    key.write_text("secret")
    written: dict[str, bytes] = {}

    class Conn:
        def put_files(self, directory: str, files: list[tuple[str, bytes, int]]) -> None:
            written.update({name: data for name, data, _ in files})

    class Conns:
        def __init__(self) -> None:
            base = info(key_path=str(key))
            self.info = ClusterInfo(base.cluster, base.cloud, (base.nodes[0], NodeInfo(
                **{**base.nodes[1].to_dict(), "port": 2222})), base.ssh_private_key_path)
            self.connections = [Conn(), Conn()]

        def map(self, fn):
            return [fn(node) for node in self.info.nodes]

    cluster_jobs.install_agent(Conns())  # type: ignore[arg-type]
    body = " ".join(KEY.split()[:2])
    assert written["known_hosts"].decode() == f"10.0.0.1 {body}\n[10.0.0.2]:2222 {body}\n"


# --- SSH time bounds from the environment: a bad value is one line naming the variable ---


@pytest.mark.parametrize("name, value", [("STIX_SSH_KEEPALIVE", "0"), ("STIX_SSH_KEEPALIVE", "soon"),
                                         ("STIX_SSH_KEEPALIVE_COUNT", "2.5"), ("STIX_SETUP_TIMEOUT", "-1")])
def test_bad_time_bounds_name_their_variable(monkeypatch, name, value):
    from stix.errors import UsageError
    from stix.hooks import setup_timeout
    from stix.ssh.settings import keepalive_settings

    monkeypatch.setenv(name, value)
    with pytest.raises(UsageError, match=f"^{name}="):
        setup_timeout() if name == "STIX_SETUP_TIMEOUT" else keepalive_settings()


def test_time_bounds_default_to_generous_values(monkeypatch):
    from stix.hooks import setup_timeout
    from stix.ssh.settings import keepalive_settings

    for name in ("STIX_SSH_KEEPALIVE", "STIX_SSH_KEEPALIVE_COUNT", "STIX_SETUP_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    assert keepalive_settings() == (15.0, 4) and setup_timeout() == 7200.0
