"""The SSH pool host's dynamic provider, called directly against a real sshd standing in for a user's machine."""

from __future__ import annotations

import pickle

import dill
import pytest

from stix.agent.node_agent import DAEMON_PID_FILE, PIDS_DIR, REMOTE_DIR
from stix.components.local import sshd
from stix.components.ssh.host import PoolHostProvider, _connect, _run
from stix.errors import SSHError
from stix.keys import ensure_cluster_key, generate_keypair
from tests.pool_machine import PoolMachine


@pytest.fixture
def machine(stix_home):
    user_key = stix_home / "user" / "id_ed25519"
    user_public = ensure_cluster_key(user_key, "user")
    cluster_public = ensure_cluster_key(stix_home / "cluster" / "id_ed25519", "cluster")
    m = PoolMachine(stix_home / "machines" / "m0", user_public)
    props = {"ip": m.ip, "port": float(m.port), "user": sshd.current_user(), "host_key": m.host_key,
             "identity_file": str(user_key), "authorized_key": cluster_public, "state": "running", "home": None}
    yield m, props
    m.stop()


def test_create_authorizes_the_cluster_key_and_delete_takes_it_and_the_agent_back(machine):
    m, props = machine
    provider = PoolHostProvider()
    created = provider.create(props)
    assert created.id == f"{props['user']}@{m.ip}:{props['port']}"
    assert created.outs["home"] == str(m.paths.home) and created.outs["state"] == "running"
    authorized = m.authorized.read_text().splitlines()
    assert props["authorized_key"] in authorized and len(authorized) == 2
    provider.create(props)
    assert len(m.authorized.read_text().splitlines()) == 2, "authorizing twice adds the key once"

    agent = m.paths.home / REMOTE_DIR
    (agent / PIDS_DIR).mkdir(parents=True)
    (agent / DAEMON_PID_FILE).write_text("999999999")
    assert provider.read(created.id, created.outs).outs["state"] == "running"
    provider.delete(created.id, created.outs)
    assert not agent.exists()
    assert m.authorized.read_text().splitlines() == [authorized[0]], "the user's own key stays"
    assert sshd.running_pid(m.paths), "the user's machine keeps running"


def test_the_host_key_is_pinned(machine):
    m, props = machine
    impostor = generate_keypair("impostor").public_openssh
    with pytest.raises(SSHError, match="host key does not match"):
        PoolHostProvider().create({**props, "host_key": impostor})
    assert props["authorized_key"] not in m.authorized.read_text()


def test_a_failing_command_raises_and_an_unreachable_host_reads_as_stopped(machine):
    m, props = machine
    conn = _connect(props)
    try:
        assert _run(conn, "echo one; echo two") == "two"
        with pytest.raises(RuntimeError, match="command failed on the pool host"):
            _run(conn, "echo nope; exit 3")
    finally:
        conn.close()
    m.stop()
    provider = PoolHostProvider()
    assert provider.read("id", props).outs["state"] == "stopped"
    provider.delete("id", props)  # unreachable: nothing to take back, and no error


def test_the_provider_pickles_by_reference():
    """Pulumi stores the provider with dill; a reference to this module keeps state small and importable."""
    data = dill.dumps(PoolHostProvider(), protocol=pickle.DEFAULT_PROTOCOL, recurse=True)
    assert b"stix.components.ssh.host" in data and b"paramiko" not in data
    assert isinstance(dill.loads(data), PoolHostProvider)
