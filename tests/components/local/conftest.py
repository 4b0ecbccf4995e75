import pytest

from stix.keys import ensure_cluster_key


@pytest.fixture
def node_props(stix_home):
    """A local node's provider inputs and the cluster key that logs in to it."""
    key = stix_home / "keys" / "id_ed25519"
    return {
        "cluster": "t",
        "node_name": "t-head",
        "rank": 0,
        "root": str(stix_home / "clusters" / "t" / "nodes"),
        "authorized_key": ensure_cluster_key(key, "t"),
        "state": "running",
    }, key
