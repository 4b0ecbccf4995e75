import pytest

from stix.index import INIT, STOPPED, UP, ClusterIndex


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


def test_up_records_resources_cost_and_launch_time_and_later_writes_keep_them(tmp_path):
    index = ClusterIndex(tmp_path / "index.db")
    index.upsert("a", "aws", 2, INIT, None, None, "2x aws(g5.xlarge, A10G:1)", 2.0)
    first = index.get("a")
    assert (first.resources_str, first.hourly_cost) == ("2x aws(g5.xlarge, A10G:1)", 2.0)
    assert first.launched_at is not None and first.launched == first.launched_at
    index.upsert("a", "aws", 2, UP, None)  # a write that does not know them (stop, start) keeps them
    assert (index.get("a").resources_str, index.get("a").launched_at) == (first.resources_str, first.launched_at)
    index.remove("a")
    index.restore("a", first)
    assert index.get("a") == first


def test_an_index_written_before_the_columns_gains_them(tmp_path):
    import sqlite3

    path = tmp_path / "index.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE clusters (name TEXT PRIMARY KEY, cloud TEXT NOT NULL, num_nodes INTEGER NOT NULL, "
                     "status TEXT NOT NULL, task_path TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL)")
        conn.execute("INSERT INTO clusters VALUES ('old', 'local', 1, 'UP', NULL, 100.0, 100.0)")
    old = ClusterIndex(path).get("old")
    assert (old.resources_str, old.hourly_cost, old.launched_at, old.launched) == (None, None, None, 100.0)
    assert old.status_record()["resources_str"] is None


def test_resources_string_is_skypilots_form():
    from stix.index import resources_string

    assert resources_string(2, "aws", "g5.xlarge", "A10G", 1.0) == "2x aws(g5.xlarge, A10G:1)"
    assert resources_string(1, "gcp", "a2-highgpu-8g", "A100", 8.0, spot=True) == "1x gcp([Spot]a2-highgpu-8g, A100:8)"
    assert resources_string(1, "local", "local", vcpus=4.0, memory_gib=15.53) == "1x local(local, cpus=4, mem=15.5)"


@pytest.mark.parametrize("label, expected", [(None, (-1, False)), ("10m", (10, False)), ("0.5m (down)", (0.5, True))])
def test_autostop_as_skypilot_reports_it(tmp_path, label, expected):
    index = ClusterIndex(tmp_path / "index.db")
    index.upsert("a", "local", 1, UP, None)
    index.set_autostop("a", label)
    record = index.get("a").status_record()
    assert (record["autostop"], record["to_down"]) == expected


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
    index.upsert("a", "aws", 1, UP, None)
    index.remove("a")  # destroy, or a launch that landed nowhere: the entry goes and the open row closes
    assert index.get("a") is None
    assert all(row.ended_at is not None for row in index.history())
    assert len(index.history()) == 2  # the history outlives the cluster


def test_status_time_moves_only_when_the_status_changes(tmp_path, monkeypatch):
    import stix.index as index_module

    clock = iter(range(100, 200))
    monkeypatch.setattr(index_module.time, "time", lambda: float(next(clock)))
    index = ClusterIndex(tmp_path / "index.db")
    index.upsert("a", "local", 1, UP, None)
    index.set_status("a", STOPPED)
    stopped_at = index.get("a").updated_at
    index.set_status("a", STOPPED)  # a refresh, or a stop of a stopped cluster
    index.upsert("a", "local", 1, STOPPED, None)
    assert index.get("a").updated_at == stopped_at
    index.set_status("a", UP)
    assert index.get("a").updated_at > stopped_at


def test_launch_time_moves_only_when_the_shape_changes(tmp_path, monkeypatch):
    import stix.index as index_module

    clock = iter(range(100, 200))
    monkeypatch.setattr(index_module.time, "time", lambda: float(next(clock)))
    index = ClusterIndex(tmp_path / "index.db")
    index.upsert("a", "aws", 1, INIT, None, None, "1x aws(m5.large)", 0.1)
    launched = index.get("a").launched_at
    index.upsert("a", "aws", 1, UP, None, None, "1x aws(m5.large)", 0.1)
    index.upsert("a", "aws", 1, UP, None, None, "1x aws(m5.large)", 0.1)  # an `up` that changed nothing
    assert index.get("a").launched_at == launched
    index.upsert("a", "aws", 2, UP, None, None, "2x aws(m5.large)", 0.2)
    assert index.get("a").launched_at > launched


def test_a_connection_alters_only_an_index_that_lacks_columns(tmp_path, monkeypatch):
    import sqlite3

    path = tmp_path / "index.db"
    ClusterIndex(path).upsert("a", "local", 1, UP, None)
    statements = []
    real_connect = sqlite3.connect

    class Recording(sqlite3.Connection):
        def execute(self, sql, *args):
            statements.append(sql)
            return super().execute(sql, *args)

    monkeypatch.setattr(sqlite3, "connect", lambda *args, **kwargs: real_connect(*args, factory=Recording, **kwargs))
    assert ClusterIndex(path).get("a").status == UP
    assert statements and not [s for s in statements if "ALTER" in s]



def test_columns_another_process_added_meanwhile_are_not_added_twice(tmp_path, monkeypatch):
    """The jobs controller and a CLI may open a new index together: one may see the columns missing, then the
    other adds them first. Adding them again failed with 'duplicate column name'; they are looked at again under
    the write lock."""
    from stix import index as idx

    path = tmp_path / "index.db"
    ClusterIndex(path).all()  # the other process: the index is made, its columns added
    monkeypatch.setattr(idx, "_columns_present", lambda conn: False)  # this one looked before that
    ClusterIndex(path).upsert("c", "local", 1, UP, None, project="/p")
    assert ClusterIndex(path).get("c").project == "/p"
