"""`stix endpoints` and `stix cost-report` through the real command line."""

import json

import pytest

from stix.home import StixHome
from stix.index import ClusterIndex
from tests.saved_cluster import save_cluster
from tests.unit.test_cli import one_line_error


def test_endpoints_lists_opened_ports(stix):
    save_cluster(StixHome(stix.home), "web", ports=((8888, 8888), (9000, 9001)))
    result = stix("endpoints", "web")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["8888: 127.0.0.5:8888", "9000: 127.0.0.5:9000", "9001: 127.0.0.5:9001"]
    assert stix("endpoints", "web", "9001").stdout == "9001: 127.0.0.5:9001\n"
    assert json.loads(stix("endpoints", "web", "--format", "json").stdout) == {
        "8888": "127.0.0.5:8888", "9000": "127.0.0.5:9000", "9001": "127.0.0.5:9001"}


@pytest.mark.parametrize("args, expected", [
    (("nope",), "stix: error: cluster 'nope' not found (stix status lists clusters)"),
    (("web", "22"), "stix: error: port 22 is not opened on cluster web (opened: 8888)"),
    (("web", "http"), "stix: error: PORT 'http': expected a whole number from 1 to 65535"),
    (("web", "70000"), "stix: error: PORT '70000': expected a whole number from 1 to 65535"),
    (("web", "--format", "xml"), "stix: error: --format 'xml': expected text or json"),
    (("closed",), "stix: error: cluster closed opens no ports (set resources.ports in its task)"),
    (("Bad_Name",), "invalid cluster name"),
])
def test_endpoints_bad_input(stix, args, expected):
    home = StixHome(stix.home)
    save_cluster(home, "web", ports=((8888, 8888),))
    save_cluster(home, "closed")
    before = sorted(p.name for p in stix.home.rglob("*"))
    assert expected in one_line_error(stix("endpoints", *args))
    assert sorted(p.name for p in stix.home.rglob("*")) == before


def test_cost_report_table_and_json(stix):
    home = StixHome(stix.home)
    save_cluster(home, "live")
    index = ClusterIndex(home.index_db)
    index.record_launch("live", "local", 2, "2x aws(g5.xlarge, A10G:1)", 2.012)
    index.record_launch("gone", "local", 1, "1x local(local)", 0.0)
    index.remove("gone")
    text = stix("cost-report").stdout
    for column in ("NAME", "LAUNCHED", "UP", "STOPPED", "NODES", "RESOURCES", "STATUS", "COST/hr", "COST"):
        assert column in text
    assert "ENDED" not in text and "Total: $ " in text
    assert "2x aws(g5.xlarge, A10G:1)" in text and "$ 2.01" in text and "TERMINATED" in text
    assert "ENDED" in stix("cost-report", "--all").stdout
    report = json.loads(stix("cost-report", "--format", "json", "--days", "7").stdout)
    assert set(report) == {"clusters", "managed_jobs", "total"} and report["managed_jobs"] == []
    assert [(r["name"], r["status"], r["num_nodes"]) for r in report["clusters"]] == [
        ("live", "UP", 2), ("gone", "TERMINATED", 1)]
    assert {"up_s", "stopped_s", "total_cost", "hourly_cost", "ended_at", "managed_job"} <= set(report["clusters"][0])
    assert report["total"]["total_cost"] == sum(r["total_cost"] for r in report["clusters"])


def test_cost_report_shows_managed_jobs_and_their_share(stix):
    from stix.managed.store import JobStore
    from stix.models.task import Task

    home = StixHome(stix.home)
    store = JobStore(home)
    job_id = store.submit("train", [Task(name="train", run="echo hi")], "t-1")
    store.start_attempt(job_id, 0, "train-1")
    index = ClusterIndex(home.index_db)
    index.record_launch("train-1", "local", 1, "1x local(local)", 0.0)
    index.remove("train-1")
    text = stix("cost-report").stdout
    assert "Managed jobs" in text and "train" in text and "managed jobs' cost is part of their clusters'" in text
    report = json.loads(stix("cost-report", "--format", "json").stdout)
    (job,) = report["managed_jobs"]
    assert (job["job_id"], job["name"], job["attempts"], job["clusters"]) == (job_id, "train", 1, ["train-1"])
    assert report["clusters"][0]["managed_job"] == job_id


def test_cost_report_launched_column_reads_as_status_does():
    import time

    from rich.console import Console

    from stix.cli.reports import _cost_table
    from stix.cluster_costs import CostRow

    row = CostRow("a", time.time() - 3 * 3600 - 60, None, 3600.0, 0.0, 1, "1x local(local)", "UP", 0.0, 0.0)
    console = Console(width=200, record=True)
    console.print(_cost_table([row]))
    assert "3 hrs ago" in console.export_text()


def test_cost_report_through_a_pipe_has_every_cell_whole(stix):
    index = ClusterIndex(StixHome(stix.home).index_db)
    index.record_launch("a-rather-long-cluster-name", "aws", 16, "16x aws(p5.48xlarge, H100:8)", 55.04)
    index.remove("a-rather-long-cluster-name")
    text = stix("cost-report", "--all").stdout  # stdout is a pipe: 80 columns to rich, were it not widened
    assert "…" not in text
    row = next(line for line in text.splitlines() if "a-rather-long-cluster-name" in line)
    assert "16x aws(p5.48xlarge, H100:8)" in row and "TERMINATED" in row and "$ 55.04" in row
    assert len(row) > 80


def test_cost_report_on_a_narrow_terminal_folds_rather_than_cuts():
    import time

    from rich.console import Console

    from stix.cli.reports import _cost_table
    from stix.cluster_costs import CostRow

    row = CostRow("a", time.time() - 60, time.time(), 60.0, 7.0, 2, "2x local(local)", "TERMINATED", 0.0, 0.0)
    console = Console(width=80, record=True)
    console.print(_cost_table([row], all_=True))
    text = console.export_text()
    assert "…" not in text and "TERMI" in text and "NATED" in text


def test_cost_report_with_no_history(stix):
    assert stix("cost-report").stdout == "No clusters.\n"
    assert json.loads(stix("cost-report", "--format", "json").stdout) == {
        "clusters": [], "managed_jobs": [], "total": {"total_cost": 0, "up_s": 0, "stopped_s": 0}}


@pytest.mark.parametrize("args, expected", [
    (("--days", "0"), "stix: error: --days '0': expected a whole number, 1 or more"),
    (("--days", "week"), "stix: error: --days 'week': expected a whole number, 1 or more"),
    (("--days", "x", "--all"), "stix: error: --days 'x': expected a whole number, 1 or more"),
    (("--format", "csv"), "stix: error: --format 'csv': expected text or json"),
    (("--format", "xml", "--all"), "stix: error: --format 'xml': expected text or json"),
])
def test_cost_report_bad_input(stix, args, expected):
    assert one_line_error(stix("cost-report", *args)) == expected
    assert not stix.home.exists() or not (stix.home / "index.db").exists()
