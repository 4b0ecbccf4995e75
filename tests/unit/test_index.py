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


def test_history_keeps_one_row_per_life_and_shape(tmp_path):
    index = ClusterIndex(tmp_path / "index.db")
    assert index.history() == []
    index.record_launch("a", "local", 2, "2x local(local)", 0.0)
    index.record_launch("a", "local", 2, "2x local(local)", 0.0)  # an `up` that changed nothing
    (row,) = index.history()
    assert (row.name, row.ended_at, row.num_nodes, row.resources) == ("a", None, 2, "2x local(local)")
    index.record_launch("a", "aws", 1, "1x aws(g5.xlarge, A10G:1)", 1.006)  # the shape changed: a new life
    first, second = index.history()
    assert first.ended_at is not None and second.ended_at is None and second.hourly_cost == 1.006
    index.record_end("a")
    assert all(row.ended_at is not None for row in index.history())
    index.remove("a")
    assert len(index.history()) == 2  # the history outlives the cluster
