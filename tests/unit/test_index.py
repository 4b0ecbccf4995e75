from stix.index import INIT, UP, ClusterIndex


def test_upsert_status_and_remove(tmp_path):
    index = ClusterIndex(tmp_path / "index.db")
    assert index.all() == []
    index.upsert("a", "local", 2, INIT, "/t.yaml")
    index.upsert("b", "local", 1, UP, None)
    index.upsert("a", "local", 3, UP, "/t.yaml")
    a = index.get("a")
    assert (a.num_nodes, a.status) == (3, UP)
    assert [r.name for r in index.all()] == ["a", "b"]
    index.remove("a")
    assert index.get("a") is None
