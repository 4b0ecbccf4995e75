"""Choosing pool hosts: a host another cluster holds is skipped, and too few free hosts is one clear line."""

from __future__ import annotations

import pytest

from stix.errors import PoolHostBusy
from stix.pools import Pool, PoolHost, choose_hosts

HOSTS = tuple(PoolHost(f"10.0.0.{i}", 22, "me", "ssh-ed25519 AAAA") for i in range(3))
POOL = Pool("lab", "/id", HOSTS)


def ident(host: PoolHost):
    return (host.ip, host.port, host.user)


def test_free_hosts_in_pool_order():
    assert choose_hosts(POOL, 2, {}) == HOSTS[:2]
    assert choose_hosts(POOL, 2, {ident(HOSTS[0]): "a"}) == HOSTS[1:]


def test_a_cluster_keeps_the_hosts_it_holds_in_their_order():
    assert choose_hosts(POOL, 2, {ident(HOSTS[0]): "a"}, own=(ident(HOSTS[2]), ident(HOSTS[1]))) == (HOSTS[2], HOSTS[1])
    assert choose_hosts(POOL, 2, {}, own=(ident(HOSTS[2]),)) == (HOSTS[2], HOSTS[0])


def test_too_few_free_hosts_names_the_pool_and_the_holders():
    holders = {ident(HOSTS[0]): "a", ident(HOSTS[1]): "b", ("10.9.9.9", 22, "me"): "elsewhere"}
    with pytest.raises(PoolHostBusy) as raised:
        choose_hosts(POOL, 2, holders)
    assert raised.value.message == ("SSH node pool 'lab': 1 of 3 host(s) free, the task needs 2; the others are "
                                    "held by cluster(s) a, b (`stix destroy` one to free its hosts)")
