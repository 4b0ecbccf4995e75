"""The head agent's ssh to workers, run for real against a local node: pinned host keys, no fallback."""

import subprocess

from stix.agent.node_agent import known_hosts_line, ssh_command
from stix.components.local.node import LocalNodeProvider
from stix.keys import generate_keypair


def _ssh(outs: dict, key, known_hosts, host_public_key: str) -> subprocess.CompletedProcess:
    known_hosts.write_text(known_hosts_line(outs.get("private_ip") or outs["ip"], outs["port"], host_public_key))
    info = {"key": str(key), "known_hosts": str(known_hosts)}
    node = {"ip": outs["ip"], "private_ip": outs.get("private_ip"), "port": outs["port"], "user": outs["user"]}
    return subprocess.run(ssh_command(node, info, "echo reached"), capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)


def test_the_agents_worker_ssh_refuses_a_wrong_pinned_key(node_props, tmp_path):
    props, key = node_props
    provider = LocalNodeProvider()
    created = provider.create(props)
    try:
        good = _ssh(created.outs, key, tmp_path / "known_hosts", created.outs["host_public_key"])
        assert good.returncode == 0 and good.stdout.strip() == "reached", good.stderr
        bad = _ssh(created.outs, key, tmp_path / "known_hosts", generate_keypair().public_openssh)
        assert bad.returncode == 255 and "reached" not in bad.stdout
        assert "Host key verification failed" in bad.stderr, bad.stderr
    finally:
        provider.delete(created.id, created.outs)
