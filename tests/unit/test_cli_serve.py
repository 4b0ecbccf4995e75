"""`stix serve ...` through the real command line (and, where the controller must answer, in process with the
controller stood in for): one-line errors that change nothing, status as a table and as json, logs from the
store's files, and commands that load nothing heavy."""

from __future__ import annotations

import json

import pytest

from stix.home import StixHome
from stix.models.task import Task
from stix.serve import client
from stix.serve import store as st
from stix.serve.spec import service_spec
from tests.import_probe import heavy_modules_loaded
from tests.unit.test_cli import one_line_error

SERVICE_TASK = ("name: web\nresources:\n  infra: local\n  ports: 8080\nservice:\n  readiness_probe: /health\n"
                "  replicas: 2\nrun: python3 -m http.server 8080\n")


@pytest.fixture
def services(stix_home) -> st.ServiceStore:
    return st.ServiceStore(StixHome(stix_home))


def _task(text: str = SERVICE_TASK) -> Task:
    from stix.loader import load_pipeline_text

    return load_pipeline_text(text, "t.yaml").tasks[0]


def _add(services: st.ServiceStore, name: str = "web", text: str = SERVICE_TASK) -> st.ServiceRecord:
    task = _task(text)
    return services.add_service(name, task, service_spec(task))


def _nothing_recorded(stix) -> None:
    assert json.loads(stix("serve", "status", "--format", "json").stdout) == []
    assert json.loads(stix("status", "--format", "json").stdout) == []


# --- up: bad input, refused before anything is made ------------------------------------------------------


def test_stix_up_of_a_service_task_points_to_serve_up(stix, tmp_path):
    path = tmp_path / "svc.yaml"
    path.write_text(SERVICE_TASK)
    result = stix("up", "-y", str(path))
    assert result.returncode == 2
    assert "service (a service runs with `stix serve up TASK.yaml`)" in one_line_error(result)
    _nothing_recorded(stix)


def test_serve_up_of_a_task_without_a_service_names_the_file(stix, tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text("resources:\n  infra: local\nrun: echo hi\n")
    result = stix("serve", "up", "-y", str(path))
    assert result.returncode == 2
    assert one_line_error(result) == f"stix: error: {path}: the task has no service: section (add one with a " \
                                     f"readiness_probe and ports)"
    _nothing_recorded(stix)


def test_serve_up_without_a_port_names_the_field(stix, tmp_path):
    path = tmp_path / "noport.yaml"
    path.write_text("resources:\n  infra: local\nservice:\n  readiness_probe: /\nrun: echo hi\n")
    result = stix("serve", "up", "-y", str(path))
    assert result.returncode == 2 and f"{path}:4:3: service.ports" in one_line_error(result)
    _nothing_recorded(stix)


def test_serve_up_of_a_task_that_cannot_be_placed_says_so_with_the_file(stix, tmp_path):
    path = tmp_path / "h100.yaml"
    path.write_text(SERVICE_TASK.replace("  ports: 8080\n", "  ports: 8080\n  accelerators: H100:8\n"))
    result = stix("serve", "up", "-y", str(path))
    assert result.returncode == 3
    assert one_line_error(result).startswith(f"stix: error: {path}: no placement for H100:8")
    _nothing_recorded(stix)


def test_serve_up_without_run_is_refused(stix, tmp_path):
    path = tmp_path / "norun.yaml"
    path.write_text(SERVICE_TASK.replace("run: python3 -m http.server 8080\n", ""))
    result = stix("serve", "up", "-y", str(path))
    assert result.returncode == 2 and "nothing to run" in one_line_error(result)
    _nothing_recorded(stix)


@pytest.mark.parametrize("name", ["Bad_Name", "1abc", "a" * 31])
def test_serve_up_with_an_invalid_name_is_one_line(stix, tmp_path, name):
    path = tmp_path / "svc.yaml"
    path.write_text(SERVICE_TASK)
    result = stix("serve", "up", "-y", "-n", name, str(path))
    assert result.returncode == 2
    assert one_line_error(result) == (f"stix: error: invalid service name {name!r}: use 1-30 lowercase letters, "
                                      f"digits and '-', starting with a letter")
    _nothing_recorded(stix)


def test_serve_up_of_a_taken_name_changes_nothing(stix, services, tmp_path):
    _add(services, "web")
    path = tmp_path / "svc.yaml"
    path.write_text(SERVICE_TASK)
    result = stix("serve", "up", "-y", str(path))  # the task's name: web
    assert result.returncode == 2
    assert one_line_error(result) == ("stix: error: service 'web' already exists; `stix serve update web TASK.yaml` "
                                      "changes it, `stix serve down web` removes it")
    assert [s.name for s in services.all()] == ["web"] and services.get("web").version == 1
    assert not (StixHome(services.home.root).state_dir / ".pulumi").exists()  # no stack was opened


def test_service_name_defaults():
    assert client.service_name(None, _task()) == "web"
    assert client.service_name(None, _task(SERVICE_TASK.replace("name: web", "name: My Web_App"))) == "my-web-app"
    generated = client.service_name(None, _task(SERVICE_TASK.replace("name: web\n", "")))
    assert generated.startswith("stix-") and len(generated) <= client.MAX_NAME


def test_replica_task_drops_the_service_and_opens_the_replica_port():
    task = _task(SERVICE_TASK.replace("  ports: 8080\n", "  ports: 9000\n").replace("replicas: 2\n",
                                                                                   "replicas: 2\n  ports: 8080\n"))
    from stix.serve.replica_ops import replica_task

    replica = replica_task(task, service_spec(task).replica_port, 1)
    assert replica.service is None and replica.resources.ports.ranges == ((9000, 9000), (8080, 8080))
    assert task.service is not None  # the original is untouched


def test_replicas_line_names_count_placement_and_price(stix_home):
    task = _task()
    request = client.ServeRequest(task, service_spec(task), "t.yaml")
    line = client.replicas_line(request.spec, client.plan_replicas(StixHome(stix_home), request))
    assert line.startswith("2 replicas of the local cloud") and line.endswith("at $0.00/hr each")
    autoscaled = _task(SERVICE_TASK.replace("  replicas: 2\n", "  replica_policy:\n    min_replicas: 1\n"
                                            "    max_replicas: 3\n    target_qps_per_replica: 5\n"))
    assert client.replicas_line(service_spec(autoscaled), client.plan_replicas(
        StixHome(stix_home), client.ServeRequest(autoscaled, service_spec(autoscaled), "t"))).startswith("1-3 replicas")
    hedged = _task(SERVICE_TASK.replace("  replicas: 2\n", "  replica_policy:\n    min_replicas: 1\n"
                                        "    max_replicas: 3\n    target_qps_per_replica: 5\n    init_replicas: 2\n"
                                        "    num_overprovision: 1\n"))
    assert client.replicas_line(service_spec(hedged), client.plan_replicas(
        StixHome(stix_home), client.ServeRequest(hedged, service_spec(hedged), "t"))).startswith(
        "1-3 replicas (2 at start, +1 overprovisioned) of the local cloud")


# --- status --------------------------------------------------------------------------------------------


def test_status_json_and_table(stix, services):
    _add(services, "web")
    services.set_service("web", status=st.READY, endpoint="127.0.0.1:30001")
    first = services.new_replica("web", 1)
    services.set_replica("web", first.replica_id, status=st.READY, ip="127.0.0.5", port=8080)
    second = services.new_replica("web", 1)
    services.set_replica("web", second.replica_id, status=st.FAILED, ended=second.launched + 5, failure="probe")
    services.new_replica("web", 1)
    result = stix("serve", "status", "--format", "json")
    assert result.returncode == 0, result.stderr
    [web] = json.loads(result.stdout)
    assert (web["name"], web["version"], web["status"], web["endpoint"], web["ready_replicas"]) == \
        ("web", 1, st.READY, "127.0.0.1:30001", 1)
    assert [(r["replica_id"], r["cluster"], r["status"], r["ip"], r["port"]) for r in web["replicas"]] == [
        (1, "web-1", st.READY, "127.0.0.5", 8080), (2, "web-2", st.FAILED, None, None),
        (3, "web-3", st.PENDING, None, None)]
    text = stix("serve", "status", "web").stdout
    for cell in ("NAME", "VERSION", "REPLICAS", "ENDPOINT", "IP:PORT", "LAUNCHED", "127.0.0.1:30001", "1/2",
                 "127.0.0.5:8080", "web-3", "PENDING"):
        assert cell in text, text
    assert stix("serve", "status", "web", "--endpoint").stdout == "127.0.0.1:30001\n"


def test_status_bad_input(stix, services):
    assert stix("serve", "status").stdout.strip() == "No services."
    assert one_line_error(stix("serve", "status", "nope")) == \
        "stix: error: no service named 'nope' (stix serve status lists them)"
    assert "--endpoint takes one service name" in one_line_error(stix("serve", "status", "--endpoint"))
    assert stix("serve", "status", "--format", "yaml").returncode == 2
    _add(services, "web")
    assert one_line_error(stix("serve", "status", "web", "--endpoint")) == \
        "stix: error: service 'web' has no endpoint yet"


@pytest.mark.parametrize("argv", [["serve", "status"], ["serve", "status", "--format", "json"], ["serve", "--help"],
                                  ["serve", "logs", "web", "--load-balancer"], ["serve", "status", "web", "--endpoint"]])
def test_status_and_logs_import_no_engine_ssh_planner_or_cloud_sdk(stix, services, argv):
    _add(services, "web")
    services.set_service("web", endpoint="127.0.0.1:30001")
    heavy = ("pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_kubernetes", "paramiko", "boto3",
             "stix.engine", "stix.ssh", "stix.placement", "stix.optimizer", "stix.catalog", "stix.flows")
    assert heavy_modules_loaded(stix, argv, heavy) == []


# --- logs ------------------------------------------------------------------------------------------------


def test_logs_of_the_balancer_the_controller_and_an_ended_replica(stix, services):
    _add(services, "web")
    _add(services, "other")
    services.balancer_log("web").parent.mkdir(parents=True, exist_ok=True)
    services.balancer_log("web").write_text("haproxy started\n")
    services.controller_log.write_text("t0 service web: replica 1 launched\nt0 service other: replica 1 launched\n"
                                       "t1 service web: READY\n")
    replica = services.new_replica("web", 1)
    services.set_replica("web", replica.replica_id, status=st.FAILED, ended=replica.launched + 1)
    services.replica_log("web", replica.replica_id).write_text("serving on 127.0.0.5:8080\nboom\n")
    assert stix("serve", "logs", "web", "--load-balancer").stdout == "haproxy started\n"
    assert stix("serve", "logs", "web", "--controller").stdout.splitlines() == [
        "t0 service web: replica 1 launched", "t1 service web: READY"]
    assert stix("serve", "logs", "web", "1", "--follow").stdout == "serving on 127.0.0.5:8080\nboom\n"  # it ended


def test_logs_bad_input(stix, services):
    assert stix("serve", "logs", "nope", "--controller").returncode == client.NOT_FOUND_EXIT
    _add(services, "web")
    result = stix("serve", "logs", "web", "7")
    assert result.returncode == client.NOT_FOUND_EXIT
    assert one_line_error(result) == "stix: error: no replica 7 of service 'web' (stix serve status lists them)"
    assert "say which log" in one_line_error(stix("serve", "logs", "web"))
    assert "say which log" in one_line_error(stix("serve", "logs", "web", "1", "--controller"))


def test_follow_ends_when_the_service_is_gone(services):
    _add(services, "web")
    lines: list[str] = []

    def out(line: str) -> None:
        lines.append(line)
        services.remove_service("web")  # the controller finished its teardown while we followed

    services.balancer_log("web").parent.mkdir(parents=True, exist_ok=True)
    services.balancer_log("web").write_text("a\nb\n")
    assert client.tail_logs(services.home, "web", client.LOAD_BALANCER, out, follow=True, poll=0.01) == 0
    assert lines == ["a", "b"]


# --- update and down, in process with the controller stood in for ------------------------------------


def invoke(*args: str):
    from typer.testing import CliRunner

    from stix import cli

    return CliRunner().invoke(cli.app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture
def controller(monkeypatch, services):
    """Does at once what the serve controller does for a service marked down: its replicas, then the service."""
    started: list[StixHome] = []

    def ensure(home, what) -> None:
        started.append(home)
        for record in services.all():
            if record.down_requested:
                for replica in services.replicas(record.name):
                    services.forget_replica(record.name, replica.replica_id)
                services.remove_service(record.name)

    monkeypatch.setattr(client, "_ensure_controller", ensure)
    return started


def test_down_of_unknown_names_changes_nothing(stix, services):
    _add(services, "web")
    result = stix("serve", "down", "-y", "web", "nope", "gone")
    assert result.returncode == 2
    assert one_line_error(result) == ("stix: error: no service named 'nope', 'gone' (stix serve status lists them); "
                                      "nothing was changed")
    assert services.get("web").down_requested is False and services.get("web").status == st.CONTROLLER_INIT
    assert "name the services to take down, or -a" in one_line_error(stix("serve", "down", "-y"))
    assert "not both" in one_line_error(stix("serve", "down", "-y", "-a", "web"))


def test_down_without_yes_or_terminal_is_refused(stix, services):
    _add(services, "web")
    result = stix("serve", "down", "web")
    assert result.returncode == 2 and "pass -y" in one_line_error(result)
    assert services.get("web").down_requested is False


def test_down_waits_until_the_controller_removed_them(services, controller):
    _add(services, "web")
    _add(services, "api")
    services.new_replica("web", 1)
    result = invoke("serve", "down", "-a", "-y")
    assert result.exit_code == 0, result.output
    assert services.all() == [] and controller
    assert result.output.splitlines()[-1] == "Removed web, api"


def test_down_that_outlasts_its_wait_exits_non_zero(services, monkeypatch):
    _add(services, "web")
    monkeypatch.setattr(client, "_ensure_controller", lambda home, what: None)  # a controller that never finishes
    from stix.session import Session

    result = client.down(Session(services.home), ["web"], yes=True, wait_s=0.05, poll=0.01)
    assert result.requested == ["web"] and result.remaining == ["web"]
    assert services.get("web").status == st.SHUTTING_DOWN


def test_update_records_a_version_for_the_controller(services, controller, tmp_path):
    _add(services, "web")
    path = tmp_path / "v2.yaml"
    path.write_text(SERVICE_TASK.replace("replicas: 2", "replicas: 3"))
    result = invoke("serve", "update", "web", str(path), "--mode", "blue_green", "-y")
    assert result.exit_code == 0, result.output
    assert "Version: 2" in result.output and controller
    version = services.version("web", 2)
    assert version.mode == st.BLUE_GREEN and version.spec.policy.min_replicas == 3
    assert services.get("web").version == 2


def test_update_bad_input_changes_nothing(stix, services, tmp_path):
    path = tmp_path / "v2.yaml"
    path.write_text(SERVICE_TASK)
    assert one_line_error(stix("serve", "update", "web", str(path), "-y")) == \
        "stix: error: no service named 'web' (stix serve status lists them)"
    _add(services, "web")
    assert "--mode 'sideways': expected rolling or blue_green" in one_line_error(
        stix("serve", "update", "web", str(path), "--mode", "sideways", "-y"))
    least = tmp_path / "least.yaml"
    least.write_text(SERVICE_TASK.replace("replicas: 2\n", "replicas: 2\n  load_balancing_policy: least_load\n"))
    result = stix("serve", "update", "web", str(least), "-y")
    assert result.returncode == 2
    assert one_line_error(result).startswith(f"stix: error: {least}: service.load_balancing_policy differs")
    assert "pass -y" in one_line_error(stix("serve", "update", "web", str(path)))
    assert services.get("web").version == 1


# --- the SDK ---------------------------------------------------------------------------------------------


def test_sdk_status_and_down(services, controller):
    import stix

    _add(services, "web")
    services.new_replica("web", 1)
    [web] = stix.serve.status("web")
    assert web.name == "web" and web["status"] == st.CONTROLLER_INIT and web.replicas[0].cluster == "web-1"
    assert stix.serve.status(["nope"]) == []
    from stix.errors import UsageError

    with pytest.raises(UsageError, match="no service named 'nope'"):
        stix.serve.down("nope")
    assert stix.serve.down("web") == ["web"] and services.all() == []


def test_relative_workdir_and_mounts_are_anchored_where_serve_up_ran(tmp_path, monkeypatch):
    (tmp_path / "app").mkdir()
    (tmp_path / "data.txt").write_text("x")
    path = tmp_path / "svc.yaml"
    path.write_text(SERVICE_TASK + "workdir: app\nfile_mounts:\n  ~/data.txt: data.txt\n  ~/b: s3://bucket/b\n")
    monkeypatch.chdir(tmp_path)
    task = client.load_request(str(path)).task
    assert task.workdir == str(tmp_path / "app")  # the controller launches from its own directory
    assert task.file_mounts == {"~/data.txt": str(tmp_path / "data.txt"), "~/b": "s3://bucket/b"}


def test_serve_up_with_a_missing_workdir_names_the_file(stix, tmp_path):
    path = tmp_path / "svc.yaml"
    path.write_text(SERVICE_TASK + "workdir: nowhere\n")
    result = stix("serve", "up", "-y", str(path))
    assert one_line_error(result) == f"stix: error: {path}: workdir 'nowhere' is not a directory"
    _nothing_recorded(stix)


def test_sdk_bad_input_is_one_error_and_changes_nothing(services):
    import stix
    from stix.errors import UsageError

    with pytest.raises(UsageError, match="the task has no service: section"):
        stix.serve.up(Task(run="echo hi"))
    with pytest.raises(UsageError, match="target 'sideways'"):
        stix.serve.tail_logs("web", "sideways")
    with pytest.raises(UsageError, match="needs replica_id"):
        stix.serve.tail_logs("web")
    assert services.all() == []


def test_tls_files_are_checked_and_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "svc.yaml"
    path.write_text(SERVICE_TASK.replace("replicas: 2\n", "replicas: 2\n  tls:\n    keyfile: key.pem\n"
                                                        "    certfile: cert.pem\n"))
    from stix.errors import UsageError

    with pytest.raises(UsageError, match=r"svc.yaml:9:14: service.tls.keyfile 'key.pem' is not a file$"):
        client.load_request(str(path))
    (tmp_path / "key.pem").write_text("k")
    (tmp_path / "cert.pem").write_text("c")
    spec = client.load_request(str(path)).spec
    assert (spec.tls_keyfile, spec.tls_certfile) == (str(tmp_path / "key.pem"), str(tmp_path / "cert.pem"))


# --- review fixes ----------------------------------------------------------------------------------------


def test_sdk_down_without_waiting_returns_at_once(services, monkeypatch):
    import stix

    _add(services, "web")
    monkeypatch.setattr(client, "_ensure_controller", lambda home, what: None)  # the controller has not acted yet
    assert stix.serve.down("web", wait=False) == ["web"]
    assert services.get("web").status == st.SHUTTING_DOWN


def test_a_probe_with_headers_or_a_body_gives_the_balancer_a_tcp_check():
    from types import SimpleNamespace

    placement = SimpleNamespace(chosen=SimpleNamespace(cloud="local", region="local"))
    plain = service_spec(_task())
    assert client.balancer_spec("web", plain, placement).health_path == "/health"
    assert client.balancer_spec("web", plain, placement).health_timeout_s == plain.probe.timeout_s > 1
    keyed = service_spec(_task(SERVICE_TASK.replace(
        "readiness_probe: /health\n", "readiness_probe: {path: /health, headers: {Authorization: Bearer k}}\n")))
    assert client.balancer_spec("web", keyed, placement).health_path == ""
    posted = service_spec(_task(SERVICE_TASK.replace(
        "readiness_probe: /health\n", "readiness_probe: {path: /v1/chat, post_data: {x: 1}}\n")))
    assert client.balancer_spec("web", posted, placement).health_path == ""


@pytest.mark.parametrize("change, field", [
    (("readiness_probe: /health\n", "readiness_probe: /healthz\n"), "service.readiness_probe"),
    (("replicas: 2\n", "replicas: 2\n  load_balancer: {stream_timeout_seconds: 60}\n"),
     "service.load_balancer.stream_timeout_seconds"),
])
def test_update_refuses_what_the_balancer_keeps(stix, services, tmp_path, change, field):
    _add(services, "web")
    path = tmp_path / "v2.yaml"
    path.write_text(SERVICE_TASK.replace(*change))
    result = stix("serve", "update", "web", str(path), "-y")
    assert result.returncode == 2
    assert one_line_error(result).startswith(f"stix: error: {path}: {field}")
    assert services.get("web").version == 1


def test_update_refuses_replicas_on_another_cloud_than_the_balancer(stix, services, tmp_path):
    _add(services, "web")
    services.set_service("web", balancer={"cloud": "aws", "endpoint": "1.2.3.4:80"})
    path = tmp_path / "v2.yaml"
    path.write_text(SERVICE_TASK)
    result = stix("serve", "update", "web", str(path), "-y")
    assert result.returncode == 2
    error = one_line_error(result)
    assert error.startswith(f"stix: error: {path}: the replicas would go to local") and "on aws" in error
    assert services.get("web").version == 1


def test_a_failed_preview_leaves_no_stack_behind(services, monkeypatch):
    from stix.errors import ProvisionError
    from stix.serve import lb_stack
    from stix.session import Session

    def preview(session, spec):
        raise ProvisionError("the engine broke mid-preview")

    undone: list[str] = []
    monkeypatch.setattr(lb_stack, "preview_balancer", preview)
    monkeypatch.setattr(client, "_undo_balancer", lambda session, name: undone.append(name))
    with pytest.raises(ProvisionError, match="mid-preview"):
        client.up(Session(services.home), _task(), name="web", yes=True)
    assert undone == ["web"] and services.get("web") is None


def test_following_a_provisioning_replica_switches_to_its_run_once_it_starts(services, monkeypatch):
    import contextlib

    from stix import cluster_jobs
    from stix.index import UP, ClusterIndex

    _add(services, "web")
    replica = services.new_replica("web", 1)
    services.set_replica("web", replica.replica_id, status=st.PROVISIONING)
    services.replica_log("web", replica.replica_id).parent.mkdir(parents=True, exist_ok=True)
    services.replica_log("web", replica.replica_id).write_text("provisioning web-1\n")
    followed: list[tuple[int, bool]] = []

    def follow(head, job, out, follow_=True):
        followed.append((job, follow_))
        out("serving on :8080")

    monkeypatch.setattr(cluster_jobs, "head_connection", lambda home, cluster: contextlib.nullcontext())
    monkeypatch.setattr(cluster_jobs, "follow", follow)
    lines: list[str] = []

    def out(line: str) -> None:
        lines.append(line)
        if line == "provisioning web-1":  # the controller brings the cluster up and starts the run
            ClusterIndex(services.home.index_db).upsert("web-1", "local", 1, UP, None)
            services.set_replica("web", replica.replica_id, status=st.STARTING, agent_job=5)

    assert client.tail_logs(services.home, "web", replica.replica_id, out, follow=True, poll=0.01) == 0
    assert followed == [(5, True)]
    assert lines == ["provisioning web-1", "serving on :8080", "── replica 1 of web: STARTING"]


def test_following_a_provisioning_replica_ends_when_it_fails_or_is_retired(services):
    _add(services, "web")
    replica = services.new_replica("web", 1)
    rid = replica.replica_id
    services.replica_log("web", rid).parent.mkdir(parents=True, exist_ok=True)
    services.replica_log("web", rid).write_text("provisioning web-1\n")
    lines: list[str] = []

    def failed(line: str) -> None:
        lines.append(line)
        services.replica_log("web", rid).write_text("provisioning web-1\nno capacity")
        services.set_replica("web", rid, status=st.FAILED, ended=replica.launched + 1)

    assert client.tail_logs(services.home, "web", rid, failed, follow=True, poll=0.01) == 0
    assert lines == ["provisioning web-1", "no capacity"]

    second = services.new_replica("web", 1)
    services.replica_log("web", second.replica_id).write_text("provisioning web-2\n")
    lines.clear()

    def retired(line: str) -> None:
        lines.append(line)
        services.forget_replica("web", second.replica_id)

    assert client.tail_logs(services.home, "web", second.replica_id, retired, follow=True, poll=0.01) == 0
    assert lines == ["provisioning web-2", f"── replica {second.replica_id} of web: removed"]
