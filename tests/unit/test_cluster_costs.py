"""The cost report over the index's history: live clusters, stopped ones, torn-down ones, the --days window."""

import pytest

from stix.cluster_costs import TERMINATED, cost_report, cost_rows, duration_text, resources_str
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


H = 3600.0


class Clock:
    """The index's injected clock: time moves only when a test says so."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += hours * H


def _index(tmp_path, clock):
    return ClusterIndex(tmp_path / "index.db", clock=clock)


def _launch(index, name="c", rate=2.0, resources="1x aws(m5.large)"):
    index.upsert(name, "aws", 1, UP, None, None, resources, rate)
    index.record_launch(name, "aws", 1, resources, rate)


def test_up_stop_start_destroy_counts_up_hours_only(tmp_path):
    clock = Clock()
    index = _index(tmp_path, clock)
    _launch(index, rate=2.0)
    clock.advance(2)
    index.set_status("c", STOPPED)
    clock.advance(3)
    index.set_status("c", STOPPED)  # a refresh of a stopped cluster moves nothing
    index.set_status("c", UP)
    clock.advance(1)
    index.remove("c")
    clock.advance(10)  # after the teardown nothing more is counted
    (row,) = cost_rows(index)
    assert (row.status, row.up_s, row.stopped_s) == (TERMINATED, 3 * H, 3 * H)
    assert row.total_cost == pytest.approx(3 * 2.0)
    assert row.ended_at == clock.now - 10 * H
    assert [(i.state, i.ended_at - i.started_at) for i in index.intervals()] == [(UP, 2 * H), (STOPPED, 3 * H),
                                                                                 (UP, 1 * H)]


def test_a_live_stopped_cluster_is_not_charged_while_stopped(tmp_path):
    """SkyPilot's issue 1645: its report kept charging stopped clusters."""
    clock = Clock()
    index = _index(tmp_path, clock)
    _launch(index, rate=1.5)
    clock.advance(4)
    index.set_status("c", STOPPED)
    clock.advance(100)
    (row,) = cost_rows(index)
    assert (row.status, row.up_s, row.stopped_s, row.total_cost) == (STOPPED, 4 * H, 100 * H, pytest.approx(6.0))


def test_autostop_counts_from_the_agents_time_not_when_refresh_noticed(tmp_path):
    clock = Clock()
    index = _index(tmp_path, clock)
    _launch(index, rate=1.0)
    agent_stopped = clock.now + 1 * H
    clock.advance(5)  # the agent stopped it after 1 h; `status --refresh` notices 4 h later
    index.set_status("c", STOPPED, at=agent_stopped)
    (row,) = cost_rows(index)
    assert (row.up_s, row.stopped_s, row.total_cost) == (1 * H, 4 * H, pytest.approx(1.0))
    assert index.get("c").updated_at == agent_stopped
    index.set_status("c", UP, at=clock.now + H)  # a time in the future is taken as now
    assert index.intervals()[-1].started_at == clock.now
    clock.advance(1)
    index.set_status("c", STOPPED, at=agent_stopped)  # a stale stamp from the earlier autostop is not this stop's
    assert index.intervals()[-1].started_at == clock.now


def test_a_stop_learned_late_is_moved_back_to_the_agents_time(tmp_path):
    """A cloud VM cannot be asked while stopped: refresh records the stop when it noticed, `start` corrects it."""
    clock = Clock()
    index = _index(tmp_path, clock)
    _launch(index, rate=1.0)
    clock.advance(3)
    index.set_status("c", STOPPED)  # noticed at 3 h; the agent had stopped it at 1 h
    clock.advance(2)
    index.set_status("c", UP)
    assert index.correct_stop("c", clock.now - 4 * H)
    clock.advance(1)
    (row,) = cost_rows(index)
    assert (row.up_s, row.stopped_s) == (2 * H, 4 * H)
    assert not index.correct_stop("c", clock.now - 100 * H)  # before the cluster was up: ignored
    assert not index.correct_stop("c", clock.now)  # after the recorded stop: ignored
    assert cost_rows(index)[0].up_s == 2 * H


def test_a_relaunch_at_another_price_is_a_new_life_at_the_new_price(tmp_path):
    clock = Clock()
    index = _index(tmp_path, clock)
    _launch(index, rate=1.0, resources="1x aws(m5.large)")
    clock.advance(2)
    _launch(index, rate=1.0, resources="1x aws(m5.large)")  # an `up` that changed nothing: the same interval
    clock.advance(1)
    _launch(index, rate=4.0, resources="1x aws(g5.xlarge, A10G:1)")  # failover or a new shape
    clock.advance(2)
    first, second = cost_rows(index)
    assert (first.up_s, first.total_cost, first.status) == (3 * H, pytest.approx(3.0), TERMINATED)
    assert (second.up_s, second.total_cost, second.status) == (2 * H, pytest.approx(8.0), UP)
    (condensed,) = cost_report(index).clusters  # one row per name: the latest shape, every life's hours and $
    assert (condensed.resources, condensed.up_s, condensed.total_cost, condensed.lives) == (
        "1x aws(g5.xlarge, A10G:1)", 5 * H, pytest.approx(11.0), 2)


def test_up_of_a_stopped_cluster_starts_billing_again(tmp_path):
    clock = Clock()
    index = _index(tmp_path, clock)
    _launch(index, rate=1.0)
    clock.advance(1)
    index.set_status("c", STOPPED)
    clock.advance(1)
    _launch(index, rate=1.0)  # `stix up` on the stopped cluster, same shape
    clock.advance(1)
    (row,) = cost_rows(index)
    assert (row.up_s, row.stopped_s) == (2 * H, 1 * H)


def test_history_is_kept_after_destroy_and_the_window_and_all(tmp_path):
    clock = Clock()
    index = _index(tmp_path, clock)
    _launch(index, "old", rate=1.0)
    clock.advance(1)
    index.remove("old")
    clock.advance(24 * 10)
    _launch(index, "new", rate=1.0)
    clock.advance(1)
    index.remove("new")
    _launch(index, "new", rate=2.0, resources="1x aws(m5.xlarge)")
    clock.advance(1)
    assert [r.name for r in index.history()] == ["old", "new", "new"]
    assert [r.name for r in cost_report(index, days=30).clusters] == ["old", "new"]
    assert [r.name for r in cost_report(index, days=7).clusters] == ["new"]
    assert [(r.name, r.status) for r in cost_rows(index, days=7)] == [("new", TERMINATED), ("new", UP)]
    (new,) = cost_report(index, days=7).clusters
    assert (new.status, new.lives, new.total_cost) == (UP, 2, pytest.approx(3.0))


def test_an_index_of_the_previous_version_migrates_in_place_and_reports(tmp_path):
    import sqlite3

    path = tmp_path / "index.db"
    with sqlite3.connect(path) as conn:  # the previous version's tables, as it wrote them
        conn.execute("CREATE TABLE clusters (name TEXT PRIMARY KEY, cloud TEXT NOT NULL, num_nodes INTEGER NOT NULL, "
                     "status TEXT NOT NULL, task_path TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL, "
                     "autostop TEXT, project TEXT, resources_str TEXT, hourly_cost REAL, launched_at REAL)")
        conn.execute("CREATE TABLE cluster_history (name TEXT NOT NULL, launched_at REAL NOT NULL, ended_at REAL, "
                     "cloud TEXT NOT NULL, num_nodes INTEGER NOT NULL, resources TEXT NOT NULL, "
                     "hourly_cost REAL NOT NULL, PRIMARY KEY (name, launched_at))")
        conn.execute("INSERT INTO clusters VALUES ('s', 'aws', 1, 'STOPPED', NULL, 0, 7200, NULL, NULL, "
                     "'1x aws(m5.large)', 1.0, 0)")
        conn.execute("INSERT INTO cluster_history VALUES ('s', 0, NULL, 'aws', 1, '1x aws(m5.large)', 1.0)")
        conn.execute("INSERT INTO cluster_history VALUES ('gone', 0, 3600, 'aws', 1, '1x aws(m5.large)', 2.0)")
    clock = Clock(start=10 * H)
    index = ClusterIndex(path, clock=clock)
    gone, stopped = sorted(cost_rows(index), key=lambda row: row.name)
    assert (stopped.status, stopped.up_s, stopped.stopped_s, stopped.total_cost) == (STOPPED, 2 * H, 8 * H, 2.0)
    assert (gone.status, gone.up_s, gone.total_cost) == (TERMINATED, 1 * H, 2.0)
    index.set_status("s", UP)  # the migrated index goes on recording
    clock.advance(1)
    assert {row.name: row.up_s for row in cost_report(index).clusters} == {"s": 3 * H, "gone": 1 * H}
    assert len(index.intervals()) == 4  # migrated once, not on every open


def test_managed_jobs_get_their_clusters_cost_without_double_counting(tmp_path):
    from types import SimpleNamespace

    from stix.cluster_costs import cost_report

    clock = Clock()
    index = _index(tmp_path, clock)
    job = SimpleNamespace(id=7, name="train", status="SUCCEEDED", submitted=clock.now, recoveries=1)
    _launch(index, "train-7", rate=2.0)  # attempt 1, preempted after 1 h
    clock.advance(1)
    index.remove("train-7")
    _launch(index, "train-7", rate=3.0, resources="1x aws(m5.xlarge)")  # the recovery, elsewhere, at another price
    clock.advance(2)
    index.remove("train-7")
    _launch(index, "dev", rate=1.0)
    clock.advance(1)
    attempts = [SimpleNamespace(cluster="train-7"), SimpleNamespace(cluster="train-7")]
    report = cost_report(index, [(job, attempts)])
    (share,) = report.managed_jobs
    assert (share.job_id, share.name, share.attempts, share.recoveries) == (7, "train", 2, 1)
    assert (share.up_s, share.total_cost) == (3 * H, pytest.approx(2.0 + 6.0))
    assert [(row.name, row.managed_job) for row in report.clusters] == [("train-7", 7), ("dev", None)]
    assert report.total_cost == pytest.approx(2.0 + 6.0 + 1.0)  # the job's share is not added again
    data = report.to_dict()
    assert set(data) == {"clusters", "managed_jobs", "total"}
    assert data["total"]["total_cost"] == pytest.approx(9.0) and data["managed_jobs"][0]["clusters"] == ["train-7"]
    earlier = SimpleNamespace(id=1, name="train", status="FAILED", submitted=clock.now, recoveries=0)
    assert cost_report(index, [(earlier, attempts)]).managed_jobs == []  # launched before the job: not its clusters


def test_the_sdk_returns_the_commands_records(stix_home):
    import stix as sdk
    from stix.home import StixHome

    index = ClusterIndex(StixHome(stix_home).index_db)
    _launch(index, "c", rate=1.0)
    _launch(index, "c", rate=2.0, resources="1x aws(m5.xlarge)")
    index.set_status("c", STOPPED)
    (condensed,) = sdk.get(sdk.cost_report(days=7))
    lives = sdk.get(sdk.cost_report(days=7, all=True))
    assert condensed["name"] == "c" and condensed["status"] == sdk.ClusterStatus.STOPPED
    assert {"duration", "stopped_duration", "total_cost", "managed_job", "ended_at"} <= set(condensed)
    assert [life["status"] for life in lives] == [None, sdk.ClusterStatus.STOPPED]
    with pytest.raises(UsageError, match="--days 0"):
        sdk.cost_report(days=0)


def test_refresh_reads_the_agents_stop_time_where_the_heads_disk_is_here(tmp_path):
    from stix import cluster_jobs
    from stix.agent.node_agent import REMOTE_DIR, STOPPED_AT_FILE
    from stix.home import StixHome
    from stix.lifecycle import agent_stop_time
    from stix.spec import ClusterInfo, NodeInfo
    from tests.saved_cluster import save_cluster

    home = StixHome(tmp_path / "home")
    save_cluster(home, "c")  # a local cluster: its head's home is /nodes/0 in the saved node list
    assert agent_stop_time(home, "c") is None  # the agent never fired
    assert agent_stop_time(home, "missing") is None
    head_home = tmp_path / "head-home"
    (head_home / REMOTE_DIR).mkdir(parents=True)
    (head_home / REMOTE_DIR / STOPPED_AT_FILE).write_text("1234.5\n")
    node = NodeInfo("c-0", 0, "127.0.0.5", 22, "stix", "ssh-ed25519 AAAA", str(head_home))
    cluster_jobs.save_info(home, ClusterInfo("c", "local", (node,), str(home.key_path("c"))))
    assert agent_stop_time(home, "c") == 1234.5
    (head_home / REMOTE_DIR / STOPPED_AT_FILE).write_text("garbage")
    assert agent_stop_time(home, "c") is None


def test_an_autodown_ends_billing_at_the_agents_time_though_the_entry_stays(tmp_path):
    clock = Clock()
    index = _index(tmp_path, clock)
    _launch(index, rate=2.0)
    agent_time = clock.now + 1 * H
    clock.advance(6)
    index.set_status("c", "DEGRADED")  # refresh: every node gone
    index.end_life("c", agent_time)
    index.end_life("c", clock.now)  # a second refresh finds nothing open
    clock.advance(5)
    (row,) = cost_rows(index)
    assert (row.status, row.ended_at, row.up_s, row.total_cost) == (TERMINATED, agent_time, 1 * H, pytest.approx(2.0))
    assert index.get("c") is not None  # `destroy` removes it
    index.remove("c")
    assert cost_rows(index)[0].ended_at == agent_time


def test_a_failed_up_that_leaves_nothing_records_no_cost(tmp_path):
    clock = Clock()
    index = _index(tmp_path, clock)
    index.upsert("f", "aws", 1, "INIT", None, None, "1x aws(m5.large)", 1.0)  # apply started, then failed
    clock.advance(1)
    index.remove("f")  # the launch landed nowhere
    assert (index.history(), index.intervals(), cost_rows(index)) == ([], [], [])


def test_start_finishes_though_the_heads_stop_time_cannot_be_read(tmp_path, monkeypatch):
    """Reading the agent's stop stamp is accounting only: it runs last in `start`, and an SSH failure there is a
    warning, not a start that stops after the VMs are on and before the agent and containers come back."""
    from contextlib import nullcontext
    from types import SimpleNamespace

    from stix import lifecycle
    from stix.errors import SSHError
    from stix.home import StixHome
    from stix.session import Session
    from stix.ssh import runner

    done, notes = [], []

    class Head:
        node = SimpleNamespace(home="/home/stix")

        def run(self, *args, **kwargs):
            done.append("stamp")
            raise SSHError("connection reset")

    conns = SimpleNamespace(connections=[Head()])
    monkeypatch.setattr(lifecycle, "_set_power", lambda *a, **k: (None, None))
    monkeypatch.setattr(lifecycle.storage, "load_mounts", lambda *a: [])
    monkeypatch.setattr(lifecycle.storage, "remotes_for", lambda *a: None)
    monkeypatch.setattr(lifecycle.storage, "attach_nodes", lambda *a: done.append("attach"))
    monkeypatch.setattr(lifecycle, "cluster_info", lambda *a: None)
    monkeypatch.setattr(runner, "ClusterConnections", lambda info: nullcontext(conns))
    monkeypatch.setattr(lifecycle, "sized", lambda *a: done.append("sized"))
    monkeypatch.setattr(lifecycle.cluster_jobs, "install_agent", lambda c: done.append("agent"))
    monkeypatch.setattr(lifecycle.containers, "restart", lambda c: done.append("containers"))
    session = Session(StixHome(tmp_path / "home"), events=lambda event: notes.append((event.level, event.text)))
    lifecycle.start(session, "c", yes=True)
    assert done == ["sized", "attach", "agent", "containers", "stamp"]
    assert notes[0][0] == "warning" and "connection reset" in notes[0][1]
    assert notes[-1] == ("success", "Cluster c is up again.")
