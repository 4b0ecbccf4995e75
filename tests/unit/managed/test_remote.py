"""The controller cluster's transport, without SSH: the launch payload and its rewritten paths, the remote command
line, errors crossing back, the remote side's verbs over a real store, and where the controller may run."""

from __future__ import annotations

import io
import json
import shlex
import sys

import pytest

from stix.errors import ClusterNotFound, JobError, StixError, TaskError, UsageError
from stix.home import StixHome
from stix.managed import client, controller_cluster, remote, remote_side
from stix.managed import store as st
from stix.models.task import Task
from stix.session import Session


@pytest.fixture
def home(tmp_path, monkeypatch) -> StixHome:
    monkeypatch.setenv("STIX_HOME", str(tmp_path / "home"))
    return StixHome(tmp_path / "home")


# --- payload and rewriting ------------------------------------------------------------------------


def test_rewrite_points_workdir_and_local_mounts_at_the_copies(tmp_path):
    workdir = tmp_path / "wd"
    workdir.mkdir()
    one = tmp_path / "one.txt"
    one.write_text("x")
    config = {"name": "t", "workdir": str(workdir), "run": "true",
              "file_mounts": {"~/one.txt": str(one), "/data": "s3://bucket/data", "~/d": str(workdir)}}
    rewritten, uploads = remote.rewrite(config, 2, "/n/home/.stix/managed/uploads/abc")
    root = "/n/home/.stix/managed/uploads/abc/task-2"
    assert rewritten["workdir"] == f"{root}/workdir"
    assert rewritten["file_mounts"] == {"~/one.txt": f"{root}/mounts/0", "/data": "s3://bucket/data",
                                        "~/d": f"{root}/mounts/2"}
    assert uploads == [remote.Upload(workdir, f"{root}/workdir"), remote.Upload(one, f"{root}/mounts/0"),
                       remote.Upload(workdir, f"{root}/mounts/2")]
    assert config["workdir"] == str(workdir), "the caller's config is left as it was"
    Task.model_validate(rewritten)  # still a task


def test_rewrite_resolves_relative_paths_here(tmp_path, monkeypatch):
    (tmp_path / "wd").mkdir()
    monkeypatch.chdir(tmp_path)
    _, uploads = remote.rewrite({"workdir": "wd"}, 0, "/b")
    assert uploads == [remote.Upload(tmp_path / "wd", "/b/task-0/workdir")]


def test_rewrite_refuses_missing_local_sources(tmp_path):
    with pytest.raises(UsageError, match="workdir .* is not a directory"):
        remote.rewrite({"workdir": str(tmp_path / "nope")}, 0, "/b")
    with pytest.raises(UsageError, match=r"file_mounts\['~/x'\]: local source .* does not exist"):
        remote.rewrite({"file_mounts": {"~/x": str(tmp_path / "nope")}}, 0, "/b")


def test_a_task_without_local_files_uploads_nothing():
    config = Task.model_validate({"name": "t", "run": "echo hi"}).to_yaml_config(redact_secrets=False)
    assert remote.rewrite(config, 0, "/b") == (config, [])


def test_the_payload_carries_secrets_for_stdin_and_the_command_line_carries_none():
    task = Task.model_validate({"name": "t", "run": "echo", "secrets": {"TOKEN": "s3cr3t-value"}})
    request = client.ManagedLaunch((task,), "job name; rm -rf ~", "f.yaml", (1,), yes=True, retry_until_up=True)
    body = remote.payload(request, [task.to_yaml_config(redact_secrets=False)])
    assert body["tasks"][0]["secrets"] == {"TOKEN": "s3cr3t-value"}
    assert (body["name"], body["retry_until_up"], body["lines"]) == ("job name; rm -rf ~", True, [1])
    line = remote.command("launch")
    assert "s3cr3t" not in line and "job name" not in line
    assert shlex.split(line.split("exec ", 1)[1]) == [sys.executable, "-m", "stix.managed.remote_side", "launch"]
    assert 'STIX_HOME="$HOME/.stix"' in line
    assert shlex.quote("it's") in remote.command("it's")


def test_settings_forward_the_engine_cache_and_local_settings_only(monkeypatch, tmp_path):
    monkeypatch.setenv("STIX_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("STIX_LOCAL_FAULTS", "/f")
    monkeypatch.setenv("STIX_CONTROLLER_IDLE_EXIT", "1")
    monkeypatch.setenv("STIX_HOME", "/laptop/home")
    monkeypatch.setenv("STIX_BACKEND", "s3://b")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nope")
    env = remote.settings()
    assert env["STIX_CACHE"] == str(tmp_path / "cache")
    assert env["STIX_LOCAL_FAULTS"] == "/f" and env["STIX_CONTROLLER_IDLE_EXIT"] == "1"
    assert not {"STIX_HOME", "STIX_BACKEND", "AWS_SECRET_ACCESS_KEY"} & set(env)


def test_an_error_crosses_back_with_its_type_and_exit_code():
    exc = remote.error_from({"error": "bad task", "type": "TaskError", "code": 2})
    assert isinstance(exc, TaskError) and exc.message == "bad task" and exc.exit_code == 2
    odd = remote.error_from({"error": "x", "type": "os", "code": 7})
    assert type(odd) is StixError and odd.exit_code == 7


# --- the remote side, over a real store ---------------------------------------------------------------


def serve(verb: str, document: dict, capsys) -> tuple[int, list[str], dict]:
    code = remote_side.serve(verb, {"stix": remote.package_dir(), **document})
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith(remote.RESULT)
    return code, lines[:-1], json.loads(lines[-1][len(remote.RESULT):])


def test_remote_launch_submits_through_the_store_and_starts_its_controller(home, capsys, monkeypatch):
    started = []
    monkeypatch.setattr(client, "_ensure_controller", lambda h: started.append(h))
    config = Task.model_validate({"name": "hello", "resources": {"infra": "local", "cpus": 1}, "run": "echo hi",
                                  "secrets": {"TOKEN": "s3cr3t"}}).to_yaml_config(redact_secrets=False)
    code, _, answer = serve("launch", {"name": "greet", "label": "t.yaml", "tasks": [config]}, capsys)
    assert (code, answer) == (0, {"value": 1})
    assert started == [home]
    store = st.JobStore(home)
    assert store.get(1).name == "greet"
    assert store.tasks_of(1)[0].secret_values() == {"TOKEN": "s3cr3t"}

    code, _, answer = serve("queue", {"all": True}, capsys)
    assert [(r["job_id"], r["job_name"], r["job_status"]) for r in answer["value"]] == [(1, "greet", "PENDING")]


def test_remote_errors_are_one_result_line_with_the_exit_code(home, capsys):
    code, _, answer = serve("launch", {"name": "x", "label": "t.yaml", "tasks": [{"name": "x"}]}, capsys)
    assert code == 2 and answer["type"] == "UsageError" and "nothing to run" in answer["error"]
    code, _, answer = serve("frobnicate", {}, capsys)
    assert code == 2 and "unknown verb" in answer["error"]
    code = remote_side.serve("queue", {"stix": "/elsewhere/stix"})
    assert code == 2 and "must run the same stix package" in capsys.readouterr().out


def test_remote_cancel_sends_notes_and_the_result(home, capsys, monkeypatch):
    monkeypatch.setattr(client, "_ensure_controller", lambda h: None)
    store = st.JobStore(home)
    store.submit("long", [Task.model_validate({"name": "long", "run": "sleep 9"})], "tid")
    code, _, answer = serve("cancellable", {"job_ids": [1, 5]}, capsys)
    assert answer["value"] == [{"id": 1, "name": "long"}]
    code, lines, answer = serve("cancel", {"job_ids": [1, 5], "wait_s": None}, capsys)
    notes = [json.loads(line[len(remote.NOTE):]) for line in lines if line.startswith(remote.NOTE)]
    assert {"text": "no managed job 5", "level": "warning"} in notes
    assert answer["value"]["requested"] == [1] and answer["value"]["skipped"] == ["no managed job 5"]
    assert store.get(1).cancel_requested


def test_remote_logs_of_a_missing_job_is_none(home, capsys):
    assert serve("logs", {"job_id": 3, "follow": False}, capsys)[2] == {"value": None}


def test_main_reads_the_document_from_stdin(home, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps({"stix": remote.package_dir(), "all": True})))
    assert remote_side.main(["queue"]) == 0
    assert capsys.readouterr().out.endswith(remote.RESULT + json.dumps({"value": []}) + "\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO("[1]"))
    assert remote_side.main(["queue"]) == 2


# --- where the controller runs ----------------------------------------------------------------------


def test_the_mode_is_local_unless_set_to_cluster(monkeypatch):
    monkeypatch.delenv(controller_cluster.CONTROLLER_ENV, raising=False)
    assert not controller_cluster.on_cluster()
    monkeypatch.setenv(controller_cluster.CONTROLLER_ENV, "Cluster")
    assert controller_cluster.on_cluster()
    monkeypatch.setenv(controller_cluster.CONTROLLER_ENV, "laptop")
    with pytest.raises(UsageError, match="STIX_JOBS_CONTROLLER='laptop': expected local or cluster"):
        controller_cluster.on_cluster()


def test_a_cloud_whose_nodes_do_not_share_this_machine_is_refused_before_anything_launches(home, monkeypatch):
    import stix.flows

    monkeypatch.setenv(controller_cluster.INFRA_ENV, "aws/us-east-1")
    monkeypatch.setattr(stix.flows, "up", lambda *a, **k: pytest.fail("the controller cluster was launched"))
    with pytest.raises(UsageError) as caught:
        controller_cluster.ensure(Session(home))
    assert "cannot run on aws yet" in caught.value.message and "not built" in caught.value.message
    assert "\n" not in caught.value.message
    for cloud in ("gcp", "azure", "kubernetes", "ssh"):
        with pytest.raises(UsageError, match=f"cannot run on {cloud} yet"):
            controller_cluster.check_runs_stix(cloud)
    controller_cluster.check_runs_stix("local")


def test_a_bad_infra_is_one_line(monkeypatch):
    with pytest.raises(UsageError, match="STIX_JOBS_CONTROLLER_INFRA='mars'"):
        controller_cluster.controller_task("mars")


def test_an_up_controller_cluster_is_used_without_launching(home, monkeypatch):
    import stix.cluster_jobs
    import stix.flows
    from stix.spec import ClusterInfo

    info = ClusterInfo.from_dict({"cluster_name": controller_cluster.CLUSTER, "cloud": "local", "nodes": []}, "/k")
    monkeypatch.setattr(stix.cluster_jobs, "load_info", lambda h, c: info)
    monkeypatch.setattr(stix.flows, "up", lambda *a, **k: pytest.fail("launched again"))
    assert controller_cluster.ensure(Session(home)) is info


def test_queue_cancel_and_logs_never_launch_the_controller_cluster(home, monkeypatch):
    import stix.flows

    monkeypatch.setattr(stix.flows, "up", lambda *a, **k: pytest.fail("launched"))
    with pytest.raises(JobError, match="stix-jobs-controller.*`stix jobs launch` starts"):
        remote.queue_rows(Session(home))
    with pytest.raises(JobError):
        remote.logs(Session(home), 1, None, print)
    assert ClusterNotFound  # the index has no such cluster: that is the error's first half


# --- the command line's seams ---------------------------------------------------------------------------


def test_launch_on_a_cloud_that_cannot_run_stix_is_one_line_and_records_nothing(stix, tmp_path):
    from tests.unit.test_cli import one_line_error

    path = tmp_path / "t.yaml"
    path.write_text("name: t\nresources:\n  infra: local\n  cpus: 1\nrun: echo hi\n")
    result = stix("jobs", "launch", "-y", "-d", str(path), STIX_JOBS_CONTROLLER="cluster",
                  STIX_JOBS_CONTROLLER_INFRA="gcp")
    assert result.returncode == 2
    assert one_line_error(result).startswith("stix: error: STIX_JOBS_CONTROLLER=cluster: the controller cluster "
                                             "cannot run on gcp yet")
    assert not (stix.home / "managed").exists() and not (stix.home / "clusters").exists()


def test_queue_with_no_controller_cluster_is_one_line(stix):
    from tests.unit.test_cli import one_line_error

    result = stix("jobs", "queue", STIX_JOBS_CONTROLLER="cluster")
    assert result.returncode == 1
    assert "stix-jobs-controller" in one_line_error(result) and "`stix jobs launch` starts" in result.stderr


def test_launch_help_documents_the_settings(stix):
    result = stix("jobs", "launch", "--help")
    assert "STIX_JOBS_CONTROLLER=cluster" in result.stdout and "STIX_JOBS_CONTROLLER_INFRA" in result.stdout


def test_the_markers_are_never_split_from_their_line():
    assert (remote.RESULT + "{}").splitlines() == [remote.RESULT + "{}"]
    assert (remote.NOTE + "{}").splitlines() == [remote.NOTE + "{}"]


def test_the_sdk_takes_the_same_seams(home, monkeypatch, tmp_path):
    import stix.jobs

    monkeypatch.setenv(controller_cluster.CONTROLLER_ENV, "cluster")
    for call in (stix.jobs.queue, lambda: stix.jobs.tail_logs(job_id=1), lambda: stix.jobs.cancel(job_ids=[1])):
        with pytest.raises(JobError, match="stix-jobs-controller"):
            call()
    monkeypatch.setenv(controller_cluster.INFRA_ENV, "azure")
    task = Task.model_validate({"name": "t", "resources": {"infra": "local", "cpus": 1}, "run": "echo"})
    with pytest.raises(UsageError, match="cannot run on azure yet"):
        stix.jobs.launch(task)
    assert not st.JobStore(home).root.exists()
