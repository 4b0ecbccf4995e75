"""The dashboard's read model and routes over a stix home written through stix's own stores (no engine, no node):
lists in plain HTML, escaping, GET only, the Host check, and the token beyond loopback."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from starlette.testclient import TestClient

from stix.dashboard import data
from stix.dashboard.app import COOKIE, create_app
from stix.dashboard.chart import SERIES, cost_chart
from stix.home import StixHome
from stix.index import ClusterIndex
from tests.saved_cluster import save_cluster
from tests.unit.test_cli import one_line_error

NOON = dt.datetime(2026, 3, 10, 12, tzinfo=dt.timezone.utc).timestamp()
SERVICE = "name: web\nresources: {ports: 8080}\nsecrets: {TOKEN: s3cret-value}\nservice: {readiness_probe: /h}\nrun: x\n"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def home(stix_home) -> StixHome:
    home = StixHome(stix_home)
    save_cluster(home, "dev", status="STOPPED", autostop="10m (down)")
    save_cluster(home, "<img src=x onerror=alert(1)>", status="STOPPED", num_nodes=1)
    ClusterIndex(home.index_db).record_drift("dev", 3)
    return home


def client(home: StixHome, **options) -> TestClient:
    return TestClient(create_app(home, **options), base_url="http://127.0.0.1")


def test_the_cluster_rows_are_status_s_with_the_last_drift_check(home):
    rows = {row.name: row for row in data.clusters(home)}
    assert set(rows) == {"dev", "<img src=x onerror=alert(1)>"}
    dev = rows["dev"]
    assert (dev.status, dev.num_nodes, dev.autostop, dev.drifted) == ("STOPPED", 2, "10m (down)", True)
    assert dev.drift.startswith("3 drifted (")
    assert rows["<img src=x onerror=alert(1)>"].drift == "not checked"


def test_a_destroyed_cluster_takes_its_drift_check_with_it(home):
    index = ClusterIndex(home.index_db)
    index.remove("dev")
    save_cluster(home, "dev", status="STOPPED")
    assert next(r for r in data.clusters(home) if r.name == "dev").drift == "not checked"


def test_cost_per_day_cuts_intervals_at_midnight_and_skips_stopped_time(stix_home):
    home = StixHome(stix_home)
    clock = Clock(NOON - 86400)  # day 1, noon: launched at $2/hr
    index = ClusterIndex(home.index_db, clock)
    index.upsert("a", "local", 1, "UP", None)
    index.record_launch("a", "local", 1, "1x local", 2.0)
    clock.now = NOON - 3600  # day 2, 11:00: stopped (23 hours up, 12 on day 1 and 11 on day 2)
    index.set_status("a", "STOPPED")
    clock.now = NOON
    days = data.cost_days(home, days=3, now=NOON)
    assert [d.day for d in days] == ["2026-03-08", "2026-03-09", "2026-03-10"]
    assert [round(d.total, 6) for d in days] == [0.0, 24.0, 22.0]


def test_the_chart_stacks_the_most_expensive_clusters_and_sums_the_rest():
    by_cluster = {f"c{i}": float(i + 1) for i in range(SERIES + 2)}
    chart = cost_chart([data.CostDay("2026-03-09", {}), data.CostDay("2026-03-10", by_cluster)])
    assert len(chart.bars) == SERIES + 1  # the top SERIES clusters, then one 'other' bar
    assert chart.bars[-1].series == SERIES and "other" in chart.bars[-1].title
    tallest = sum(bar.height for bar in chart.bars)
    assert tallest == pytest.approx(240 - 28 - 12, abs=0.5)  # the busiest day fills the plot
    assert chart.legend[0][1] == f"c{SERIES + 1}" and chart.legend[-1][1] == "2 other"
    assert chart.total == f"${sum(by_cluster.values()):.2f}"
    busiest = sum(by_cluster.values())
    assert [tick.label for tick in chart.ticks] == ["$0.00", f"${busiest / 2:.2f}", f"${busiest:.2f}"]
    assert [tick.label for tick in cost_chart([data.CostDay("2026-03-10", {})]).ticks] == ["$0.00"]


def test_managed_jobs_come_with_their_attempts_and_services_with_replicas(home):
    from stix.loader import load_pipeline_text
    from stix.managed.store import JobStore
    from stix.models.task import Task
    from stix.serve.spec import service_spec
    from stix.serve.store import ServiceStore

    jobs = JobStore(home)
    job_id = jobs.submit("train", [Task(name="train", run="echo hi")], "t-1")
    first = jobs.start_attempt(job_id, 0, "train-1")
    jobs.finish_attempt(job_id, 0, first.attempt, "PREEMPTED")
    jobs.start_attempt(job_id, 0, "train-2")
    (row,) = data.managed_jobs(home)
    assert (row.id, row.name) == (job_id, "train")
    assert [(a.attempt, a.cluster, a.outcome) for a in row.attempts] == [(1, "train-1", "PREEMPTED"),
                                                                          (2, "train-2", "running")]
    task = load_pipeline_text(SERVICE).tasks[0]
    services = ServiceStore(home)
    services.add_service("web", task, service_spec(task))
    services.new_replica("web", 1)
    (service,) = data.services(home)
    assert (service.name, service.version, service.ready, len(service.replicas)) == ("web", 1, "0/1", 1)
    page = client(home).get("/").text
    assert "train-2" in page and "PREEMPTED" in page and "web" in page
    assert "s3cret-value" not in page  # secrets stay sealed in the stores; the page shows no task envs at all


def test_the_page_lists_everything_in_plain_html_escaped(home):
    response = client(home).get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    for section in ("clusters", "managed", "services", "storage", "cost"):
        assert f'id="{section}"' in page and f'data-refresh="/fragments/{section}"' in page
    assert '<a href="/clusters/dev">dev</a>' in page and "3 drifted" in page and "10m (down)" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "<svg" in page and "Cost per cluster per day" in page


def test_fragments_and_the_cluster_page(home):
    http = client(home)
    fragment = http.get("/fragments/clusters")
    assert fragment.status_code == 200 and "<html" not in fragment.text and ">dev</a>" in fragment.text
    assert http.get("/fragments/nope").status_code == 404
    page = http.get("/clusters/dev").text
    assert "Cluster dev" in page and "dev-0" in page and "dev-1" in page and "127.0.0.5:22" in page
    assert "is STOPPED" in page  # jobs are read from an UP cluster's head only
    assert http.get("/fragments/cluster/dev").status_code == 200
    assert "No cluster" in http.get("/clusters/ghost").text
    assert http.get("/fragments/cluster/ghost").status_code == 404
    assert http.get("/static/dashboard.js").status_code == 200


def test_the_cluster_page_stops_asking_the_head_once_no_job_is_left(home, monkeypatch):
    """Each read of the jobs is an SSH session on the head, which holds autostop: a page left open on an idle
    cluster must stop reading (a reload reads again); while a job is queued or running it keeps refreshing."""
    row = data.clusters(home)[0]

    def detail_with(*statuses: str, read_head: bool = True) -> data.ClusterDetail:
        jobs = [data.JobRow(i + 1, "j", status, "-", "-", "-") for i, status in enumerate(statuses)]
        return data.ClusterDetail(row, jobs=jobs, read_head=read_head)

    http = client(home)
    for detail, live in ((detail_with("SUCCEEDED", "RUNNING"), True), (detail_with("PENDING"), True),
                         (detail_with(read_head=False), True),  # not UP, or unreachable: no session is held
                         (detail_with("SUCCEEDED", "FAILED"), False), (detail_with(), False)):
        monkeypatch.setattr(data, "cluster_detail", lambda *_args, _d=detail, **_kw: _d)
        assert detail.live is live
        page = http.get("/clusters/dev").text
        fragment = http.get("/fragments/cluster/dev").text
        assert ('data-refresh="/fragments/cluster/' in page) is live, page
        assert ('http-equiv="refresh"' in page) is live, "without JavaScript: no reload either"
        assert ("data-stop-refresh" in fragment) is not live, fragment
        assert ("Reload to read it again" in page) is not live


def test_read_only_and_only_for_loopback_host_names(home):
    http = client(home)
    for method in ("post", "put", "delete", "patch"):
        assert getattr(http, method)("/").status_code == 405
    assert TestClient(create_app(home), base_url="http://attacker.example").get("/").status_code == 400
    for host in ("localhost:8765", "[::1]:8765"):
        assert TestClient(create_app(home), base_url=f"http://{host}").get("/").status_code == 200


def test_a_token_is_required_when_one_is_set(home):
    token = "t0ken-value"
    http = TestClient(create_app(home, token=token, allowed_hosts=()), base_url="http://10.1.2.3:8765")
    assert http.get("/").status_code == 401
    assert http.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert http.get("/static/dashboard.css").status_code == 401
    assert http.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    redirect = http.get(f"/clusters/dev?token={token}&job=3", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"] == "/clusters/dev?job=3"
    assert f"{COOKIE}={token}" in redirect.headers["set-cookie"] and "HttpOnly" in redirect.headers["set-cookie"]
    assert http.get("/fragments/clusters").status_code == 200  # the cookie, from now on
    http.cookies.clear()
    http.cookies.set(COOKIE, "wrong")
    assert http.get("/").status_code == 401


@pytest.mark.parametrize("argv, expected", [
    (["--port", "70000"], "--port '70000': expected a whole number from 0 to 65535"),
    (["--port", "x"], "--port 'x': expected"),
    (["--host", "0.0.0.0"], "--host 0.0.0.0: not a loopback address; add --allow-remote"),
    (["--host", "no-such-host.invalid", "--allow-remote"], "cannot listen on no-such-host.invalid"),
])
def test_bad_flags_are_one_line_errors(stix, argv, expected):
    assert expected in one_line_error(stix("dashboard", *argv, timeout=60))


def test_a_port_in_use_is_a_one_line_error(stix):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert f"cannot listen on 127.0.0.1:{port}" in one_line_error(stix("dashboard", "--port", str(port), timeout=60))


@pytest.mark.parametrize("argv", [["--help"], ["status"]])
def test_the_cli_loads_the_web_stack_only_for_the_dashboard(argv, stix_home):
    from tests.unit.test_cli_imports import loaded_after

    code = (f"import sys\nsys.argv = ['stix', *{argv!r}]\nfrom stix.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n")
    loaded = loaded_after(code, "starlette", "uvicorn", "jinja2", "stix.dashboard")
    assert not any(loaded.values()), loaded


def test_help_lists_the_dashboard_with_an_example(stix):
    assert "dashboard" in stix("--help").stdout
    assert "stix dashboard --port 9000 --open" in stix("dashboard", "--help").stdout
