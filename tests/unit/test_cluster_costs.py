"""The cost report over the index's history: live clusters, stopped ones, torn-down ones, the --days window."""

import pytest

from stix.cluster_costs import TERMINATED, cost_rows, duration_text, resources_str
from stix.errors import UsageError
from stix.index import STOPPED, UP, ClusterIndex
from stix.spec import ClusterSpec


def test_resources_as_skypilot_writes_them():
    spec = ClusterSpec("c", "aws", 2, "key", "", instance_type="g5.xlarge", accelerator="A10G", accelerator_count=1)
    assert resources_str(spec) == "2x aws(g5.xlarge, A10G:1)"
    assert resources_str(ClusterSpec("c", "local", 1, "key", "")) == "1x local(local)"


def test_rows_cost_price_times_life(tmp_path):
    index = ClusterIndex(tmp_path / "index.db")
    index.upsert("live", "aws", 2, UP, None)
    index.record_launch("live", "aws", 2, "2x aws(g5.xlarge, A10G:1)", 2.0)
    index.record_launch("gone", "aws", 1, "1x aws(m5.large)", 0.5)
    index.remove("gone")
    live, gone = sorted(cost_rows(index), key=lambda row: row.name, reverse=True)
    start = live.launched_at
    live, gone = sorted(cost_rows(index, now=start + 3600), key=lambda row: row.name, reverse=True)
    assert (live.status, round(live.duration_s), round(live.total_cost, 6)) == (UP, 3600, 2.0)
    assert gone.status == TERMINATED and gone.total_cost == pytest.approx(0.5 * gone.duration_s / 3600)
    assert live.to_dict()["hourly_cost"] == 2.0


def test_a_stopped_cluster_counts_until_it_stopped(tmp_path):
    index = ClusterIndex(tmp_path / "index.db")
    index.upsert("s", "aws", 1, UP, None)
    index.record_launch("s", "aws", 1, "1x aws(m5.large)", 1.0)
    index.set_status("s", STOPPED)
    (row,) = cost_rows(index, now=index.get("s").updated_at + 10 * 3600)
    assert row.status == STOPPED and row.duration_s < 60


def test_a_stopped_clusters_cost_stays_put_through_refreshes(tmp_path, monkeypatch):
    import stix.index as index_module

    clock = [1000.0]
    monkeypatch.setattr(index_module.time, "time", lambda: clock[0])
    index = ClusterIndex(tmp_path / "index.db")
    index.upsert("s", "aws", 1, UP, None)
    index.record_launch("s", "aws", 1, "1x aws(m5.large)", 1.0)
    clock[0] += 3600
    index.set_status("s", STOPPED)
    clock[0] += 5 * 3600
    index.set_status("s", STOPPED)  # `status --refresh`, or `stop` of a stopped cluster
    (row,) = cost_rows(index, now=clock[0] + 3600)
    assert (row.status, row.duration_s, row.total_cost) == (STOPPED, 3600, 1.0)


def test_days_window_keeps_live_clusters_and_drops_old_teardowns(tmp_path):
    index = ClusterIndex(tmp_path / "index.db")
    index.upsert("live", "local", 1, UP, None)
    index.record_launch("live", "local", 1, "1x local(local)", 0.0)
    index.record_launch("old", "local", 1, "1x local(local)", 0.0)
    index.remove("old")
    later = index.history()[-1].ended_at + 10 * 86400
    assert [row.name for row in cost_rows(index, days=30, now=later)] == ["live", "old"]
    assert [row.name for row in cost_rows(index, days=7, now=later)] == ["live"]
    with pytest.raises(UsageError, match="--days 0: expected a whole number, 1 or more"):
        cost_rows(index, days=0)
    assert [row.name for row in cost_rows(index, days="7", now=later)] == ["live"]  # the command line's text


@pytest.mark.parametrize("days", [0, -1, True, 2.5, "0", "week", "²", " 7"])
def test_one_check_of_the_window_for_the_sdk_and_the_command_line(tmp_path, days):
    with pytest.raises(UsageError, match=r"^--days .*: expected a whole number, 1 or more$"):
        cost_rows(ClusterIndex(tmp_path / "index.db"), days=days)
    assert not (tmp_path / "index.db").exists()


@pytest.mark.parametrize("seconds, text", [(42, "42s"), (600, "10m"), (3 * 3600 + 300, "3h 5m"), (2 * 86400 + 4 * 3600, "2d 4h")])
def test_duration_text(seconds, text):
    assert duration_text(seconds) == text
