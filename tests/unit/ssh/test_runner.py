"""ClusterConnections' bound on how many nodes one command works on at once."""

from __future__ import annotations

import pytest

from stix.errors import UsageError
from stix.ssh import runner


def test_parallel_limit_defaults_to_32_and_follows_the_environment(monkeypatch):
    monkeypatch.delenv(runner.PARALLEL_ENV, raising=False)
    assert runner.parallel_limit() == 32
    monkeypatch.setenv(runner.PARALLEL_ENV, "4")
    assert runner.parallel_limit() == 4


@pytest.mark.parametrize("bad", ["0", "-1", "2.5", "many", "5000"])
def test_a_bad_parallel_limit_is_a_one_line_error(monkeypatch, bad):
    monkeypatch.setenv(runner.PARALLEL_ENV, bad)
    with pytest.raises(UsageError, match="STIX_SSH_PARALLEL"):
        runner.parallel_limit()


def test_a_node_connection_turns_nagle_off_so_small_ssh_packets_never_wait_for_a_delayed_ack():
    import socket

    from stix.spec import NodeInfo

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        node = NodeInfo(name="n", rank=0, ip="127.0.0.1", port=port, user="u", host_public_key="ssh-ed25519 AAAA",
                        home="/h")
        with runner._no_delay_socket(node) as sock:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            assert sock.getpeername() == ("127.0.0.1", port)
