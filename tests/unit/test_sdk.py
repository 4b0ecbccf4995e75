"""The Python SDK: SkyPilot's names, and Task YAML round trips."""

from pathlib import Path

import pytest

import stix
from stix.loader import load_pipeline

COMPAT = Path(__file__).resolve().parents[3] / "shared" / "compat" / "skypilot-tasks"


@pytest.mark.parametrize("path", sorted(COMPAT.glob("*.yaml")), ids=lambda p: p.stem)
def test_round_trip_equal(path):
    for task in load_pipeline(path).tasks:
        again = stix.Task.from_yaml_str(task.to_yaml(redact_secrets=False))
        assert again.model_dump() == task.model_dump() and isinstance(again, stix.Task)
        assert again.to_yaml(redact_secrets=False) == task.to_yaml(redact_secrets=False)


def test_build_in_python_like_skypilot():
    task = stix.Task(name="train", setup="pip install x", run="python train.py", num_nodes=2, envs={"LR": 0.1})
    task.set_resources(stix.Resources(infra="gcp", accelerators="A100:8", use_spot=True))
    text = task.to_yaml()
    assert "accelerators: A100:8" in text and "num_nodes: 2" in text
    assert stix.Task.from_yaml_str(text) == task


def test_invalid_assignment_is_refused():
    from pydantic import ValidationError

    task = stix.Task(run="x")
    with pytest.raises(ValidationError):
        task.num_nodes = 0


def test_secrets_are_redacted_in_yaml_and_repr():
    task = stix.Task(run="x", secrets={"HF_TOKEN": "hf_supersecret", "LATER": None})
    assert "hf_supersecret" not in task.to_yaml()
    assert "hf_supersecret" not in repr(task)
    assert "hf_supersecret" not in str(task)
    assert task.secret_values() == {"HF_TOKEN": "hf_supersecret"}


def test_from_yaml_file(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("name: a\nenvs:\n  X: null\nrun: echo $X\n")
    task = stix.Task.from_yaml(str(path), envs={"X": "1"})
    assert task.env_values() == {"X": "1"}


@pytest.mark.parametrize("name", ["exec", "stop", "start", "autostop", "queue", "cancel", "tail_logs"])
def test_lifecycle_calls_on_a_missing_cluster_raise_the_cli_error(stix_home, name):
    from stix.errors import ClusterNotFound

    args = {"exec": ("echo", "nope"), "autostop": ("nope", 5)}.get(name, ("nope",))
    with pytest.raises(ClusterNotFound, match="cluster 'nope' not found"):
        getattr(stix, name)(*args)


def test_status_lists_records(stix_home):
    assert stix.get(stix.status()) == []


def test_get_and_stream_and_get_unwrap_a_request_and_pass_a_plain_value(stix_home):
    request = stix.status()
    assert isinstance(request, str) and request.startswith("stix-")  # a request id, as SkyPilot's
    assert stix.get(request) == [] and stix.stream_and_get(request) == []
    assert stix.get(7) == 7 and stix.stream_and_get((1, None)) == (1, None) and stix.get("text") == "text"


@pytest.mark.parametrize("spelling, expected", [
    ("A100:8", {"A100": 8}), ("A100", {"A100": 1}), ({"V100": 0.5}, {"V100": 0.5}), ({"a100": 2}, {"A100": 2}),
    (["A100:8", "H100:8"], {"A100": 8, "H100": 8}), ({"A100:8", "H100:4"}, {"A100": 8, "H100": 4}),
])
def test_accelerators_read_as_skypilot_dict(spelling, expected):
    accelerators = stix.Resources(accelerators=spelling).accelerators
    assert accelerators == expected and dict(accelerators) == expected and list(accelerators) == list(expected)
    assert accelerators != {"A100": 3}
    assert repr(accelerators) == repr(expected)  # printed as SkyPilot prints it
    again = stix.Resources(accelerators=spelling).accelerators  # the record still compares and hashes as one
    assert again == accelerators and hash(again) == hash(accelerators)
    if not isinstance(spelling, set):  # a set is written as YAML writes one: a mapping to nulls
        assert stix.Resources(accelerators=spelling).model_dump()["accelerators"] == spelling


def test_status_records_have_skypilot_keys(stix_home):
    from stix.home import StixHome
    from tests.saved_cluster import save_cluster

    save_cluster(StixHome(stix_home), "a", autostop="10m (down)")
    save_cluster(StixHome(stix_home), "b", status="DEGRADED", num_nodes=1)
    a, b = stix.get(stix.status())
    assert a["name"] == "a" and a["status"] == stix.ClusterStatus.UP and a["status"].value == "UP"
    assert (a["autostop"], a["to_down"], b["autostop"], b["to_down"]) == (10, True, -1, False)
    assert isinstance(a["launched_at"], int) and a["resources_str"] == "2x local(local)"
    assert a["head_ip"] == "127.0.0.5" and a.handle.cluster_name == "a" and a.handle.launched_nodes == 2
    assert a["handle"].external_ips() == ["127.0.0.5", "127.0.0.6"] and a["last_use"] == "/tasks/t.yaml"
    assert b["status"] == stix.ClusterStatus.INIT  # SkyPilot's INIT covers an abnormal cluster
    assert [r["name"] for r in stix.get(stix.status(cluster_names="b"))] == ["b"]
    assert stix.get(stix.status(cluster_names=["a", "nope"]))[0]["name"] == "a"


def test_queue_rows_get_skypilot_keys():
    from stix.sdk_records import job_record

    row = {"id": 3, "name": "train", "status": "RUNNING", "submitted": 100.5, "started": 101.0, "ended": None,
           "cpus": 0.5, "gpus": 2.0, "num_nodes": 2, "exit_code": None, "detail": None, "gpu_ids": None}
    record = job_record(row)
    assert (record["job_id"], record["job_name"], record["status"], record.status.value) == (3, "train",
                                                                                            stix.JobStatus.RUNNING,
                                                                                            "RUNNING")
    assert (record["submitted_at"], record["start_at"], record["end_at"]) == (100.5, 101.0, None)
    assert record["resources"] == "2x[GPU:2]" and record["id"] == 3  # the agent's own keys stay
    assert not record["status"].is_terminal() and stix.JobStatus.CANCELLED.is_terminal()


def test_optimize_gives_the_chosen_placement(stix_home):
    placement = stix.get(stix.optimize(stix.Task(run="x", resources=stix.Resources(infra="local"))))
    assert placement.chosen.cloud == "local" and placement.chosen in placement.candidates


def test_cost_report_and_endpoints_records(stix_home):
    from stix.home import StixHome
    from stix.index import ClusterIndex
    from tests.saved_cluster import save_cluster

    home = StixHome(stix_home)
    save_cluster(home, "web", ports=((8888, 8888),))
    index = ClusterIndex(home.index_db)
    index.record_launch("web", "local", 2, "2x local(local)", 0.5)
    index.record_launch("old", "local", 1, "1x local(local)", 0.0)
    index.remove("old")
    old, web = sorted(stix.get(stix.cost_report()), key=lambda r: r["name"])
    assert old["status"] is None and web["status"] == stix.ClusterStatus.UP
    assert set(web) >= {"name", "launched_at", "duration", "num_nodes", "resources", "status", "total_cost"}
    assert isinstance(web["duration"], int) and web["num_nodes"] == 2
    assert stix.get(stix.endpoints("web")) == {8888: "127.0.0.5:8888"}
    assert stix.get(stix.endpoints("web", 8888)) == {8888: "127.0.0.5:8888"}


def test_the_sdk_prints_no_tables_or_progress_unless_asked(stix_home, capsys, monkeypatch):
    from stix import sdk
    from stix.engine.changes import ChangeSet
    from stix.events import Note, PreviewReady

    monkeypatch.delenv("STIX_SDK_VERBOSE", raising=False)
    monkeypatch.setattr(sdk, "_verbose", None)
    events = sdk._session().events
    events(Note("Cluster x is up.", "success"))
    events(PreviewReady("x", ChangeSet()))
    events(Note("resources.job_recovery is for managed jobs", "warning"))
    out, err = capsys.readouterr()
    assert out == "" and err == "resources.job_recovery is for managed jobs\n"

    for turn_on in (lambda: stix.set_verbose(True), lambda: monkeypatch.setenv("STIX_SDK_VERBOSE", "1")):
        monkeypatch.setattr(sdk, "_verbose", None)
        turn_on()
        events = sdk._session().events
        events(Note("Cluster x is up.", "success"))
        events(PreviewReady("x", ChangeSet()))
        out, _ = capsys.readouterr()
        assert "Cluster x is up." in out and "No infrastructure changes" in out
    stix.set_verbose(False)
    sdk._session().events(Note("Cluster x is up.", "success"))
    assert capsys.readouterr().out == ""


def test_storage_mounts_like_skypilot(tmp_path):
    task = stix.Task(run="python train.py", file_mounts={"~/code": ".", "/public": "s3://public-data"})
    storage = stix.Storage(name="ckpts", source=str(tmp_path), mode="MOUNT_CACHED", persistent=False)
    assert task.set_storage_mounts({"/ckpt": storage}) is task
    assert task.storage_mounts == {"/ckpt": storage}
    assert task.file_mounts == {"~/code": ".", "/public": "s3://public-data", "/ckpt": storage}
    task.update_storage_mounts({"/more": stix.Storage(source="gs://other")})
    assert sorted(task.storage_mounts) == ["/ckpt", "/more"]
    task.set_storage_mounts({"/data": stix.Storage(name="data-1", store="s3")})
    assert list(task.storage_mounts) == ["/data"] and "/public" in task.file_mounts

    again = stix.Task.from_yaml_str(task.to_yaml())  # the YAML is SkyPilot's: storage objects in file_mounts
    assert again.storage_mounts == task.storage_mounts
    text = task.to_yaml()
    assert "name: data-1" in text and "store: s3" in text

    task.set_storage_mounts(None)
    assert task.storage_mounts == {} and task.file_mounts == {"~/code": ".", "/public": "s3://public-data"}


def test_storage_mounts_are_validated():
    from pydantic import ValidationError

    task = stix.Task(run="x")
    with pytest.raises(TypeError, match=r"storage_mounts\['/d'\] must be a stix.Storage, got dict"):
        task.set_storage_mounts({"/d": {"name": "b"}})  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="destination leaves the node's home"):
        task.set_storage_mounts({"~/../x": stix.Storage(name="b")})
    with pytest.raises(ValidationError, match="unknown mount mode"):
        stix.Storage(name="b", mode="LINK")


def test_storage_mounts_are_planned_from_the_sdk(tmp_path):
    from stix.storage.plan import plan_mounts

    task = stix.Task(run="x").set_storage_mounts({"/ckpt": stix.Storage(name="ckpts-1", store="s3", persistent=False)})
    env = {"HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}
    (mount,) = plan_mounts(task, "aws", env)
    assert mount.name == "ckpts-1" and mount.persistent is False and mount.bucket.store == "s3"


def test_no_sdk_name_is_shadowed_by_a_module():
    """`from stix import X` (or importing stix.X) binds the module X onto the package: an SDK function of that
    name would turn into a module after first use."""
    package = Path(stix.__file__).parent
    clashes = [name for name in stix._SDK if (package / f"{name}.py").exists() or (package / name).is_dir()]
    assert clashes == []


def test_sdk_calls_stay_callable_after_use(stix_home):
    for _ in range(2):
        assert stix.get(stix.cost_report()) == [] and callable(stix.cost_report) and callable(stix.endpoints)


def test_launch_hands_skypilots_options_to_the_flow(stix_home, monkeypatch):
    from stix import flows

    seen = []

    def up(session, request):
        seen.append(request)
        return flows.JobResult(request.cluster_name, None)

    monkeypatch.setattr(flows, "up", up)
    task = stix.Task(name="t", setup="echo", resources=stix.Resources(infra="local"))
    assert stix.get(stix.launch(task, "c1", down=True, retry_until_up=True, no_setup=True)) == (None, None)
    assert stix.get(stix.launch(task, "c2", idle_minutes_to_autostop=15, fast=True)) == (None, None)
    first, second = seen
    assert (first.cluster, first.idle_minutes, first.down, first.retry_until_up, first.no_setup) == ("c1", 0, True,
                                                                                                    True, True)
    assert (second.idle_minutes, second.down, second.fast) == (15, False, True)
    assert first.detach_run and second.detach_run  # the SDK follows the job itself, so a failed job does not raise
    assert first.task is not task and first.task == task  # the caller's task is left as it was


def test_cancel_refuses_job_ids_in_the_all_slot(stix_home, monkeypatch):
    """cancel('dev', [3]) from before SkyPilot 0.14's signature would put [3] into `all`: every job."""
    from stix import cluster_jobs
    from stix.errors import UsageError

    monkeypatch.setattr(cluster_jobs, "head_connection", lambda *a: pytest.fail("nothing may reach the cluster"))
    with pytest.raises(UsageError, match=r"all must be True or False, got \[3\]; name the jobs with job_ids="):
        stix.cancel("dev", [3])
    with pytest.raises(UsageError, match="all_users must be True or False"):
        stix.cancel("dev", False, [3])


def test_autostop_refuses_an_unknown_wait_for_and_makes_one_call(stix_home, monkeypatch):
    from stix import flows
    from stix.errors import UsageError

    calls = []
    monkeypatch.setattr(flows, "set_autostop", lambda *args, **kwargs: calls.append((args[1:], kwargs)))
    with pytest.raises(UsageError, match="wait_for True: expected one of jobs_and_ssh, jobs, none or None; to tear "
                                         "down, pass down=True"):
        stix.autostop("dev", 10, True)  # the old `down` slot
    assert calls == []
    stix.autostop("dev", 10)
    stix.autostop("dev", 10, "jobs", down=True)
    stix.autostop("dev", -1)
    assert calls == [(("dev", 10, False, "jobs_and_ssh"), {}), (("dev", 10, True, "jobs"), {}),
                     (("dev", None, False, "jobs_and_ssh"), {})]


def test_exec_with_down_opens_one_connection_for_autostop_and_follow(stix_home, monkeypatch):
    from contextlib import contextmanager

    from stix import cluster_jobs, flows, sdk

    opened, seen = [], []

    @contextmanager
    def head_connection(home, cluster):
        opened.append(cluster)
        yield "head"

    monkeypatch.setattr(cluster_jobs, "head_connection", head_connection)
    monkeypatch.setattr(flows, "exec_", lambda session, request: flows.JobResult(request.cluster, 4))
    monkeypatch.setattr(cluster_jobs, "set_autostop", lambda head, *args: seen.append(("autostop", head, args[:2])))
    monkeypatch.setattr(cluster_jobs, "follow", lambda head, job, write: seen.append(("follow", head, job)) or 0)
    monkeypatch.setattr(sdk, "_handle", lambda cluster: None)
    assert stix.get(stix.exec("echo hi", "dev", down=True)) == (4, None)
    assert opened == ["dev"] and seen == [("autostop", "head", (0, True)), ("follow", "head", 4)]


def test_sdk_and_cli_status_records_agree(stix_home, monkeypatch):
    from stix.home import StixHome
    from stix.index import ClusterIndex
    from tests.saved_cluster import save_cluster

    home = StixHome(stix_home)
    save_cluster(home, "a", autostop="0.5m")
    index = ClusterIndex(home.index_db)
    index.upsert("a", "local", 2, "UP", "/tasks/t.yaml", None, "2x local(local, cpus=4)", 0.5)
    index.record_launch("a", "local", 2, "2x local(local, cpus=4)", 0.5)
    monkeypatch.setattr(ClusterIndex, "history", lambda self: pytest.fail("status reads no history"))
    (sdk_record,) = stix.get(stix.status())
    cli_record = index.get("a").status_record()
    assert {key: sdk_record[key] for key in cli_record if key not in ("status", "last_use")} == \
        {key: value for key, value in cli_record.items() if key not in ("status", "last_use")}
    assert (sdk_record["launched_at"], sdk_record["autostop"], sdk_record["resources_str"]) == \
        (int(index.get("a").launched_at), 0.5, "2x local(local, cpus=4)")
    assert sdk_record.handle.cluster_name == "a" and sdk_record["status"] == stix.ClusterStatus.UP


def test_sdk_and_cli_job_records_share_skypilots_keys():
    from stix.cli.read import _job_record
    from stix.sdk_records import job_record

    row = {"id": 3, "name": None, "status": "FAILED", "submitted": 1.0, "started": 2.0, "ended": 3.0, "cpus": 1,
           "gpus": 0, "num_nodes": 1, "exit_code": 1, "detail": None}
    cli, sdk = _job_record(row), job_record(row)
    for key in ("job_id", "submitted_at", "start_at", "end_at"):
        assert cli[key] == sdk[key]
    assert (cli["job_name"], sdk["job_name"]) == (None, "")
    from stix.agent.node_agent import TERMINAL

    assert {s.value for s in stix.JobStatus if s.is_terminal()} == {*TERMINAL, "FAILED_DRIVER"}


def test_the_saved_node_list_is_read_one_way(stix_home):
    """An info.json from before ssh_private_key_path was written names the key as `key`: the SDK's handle and
    the CLI read it alike."""
    import json

    from stix.cluster_jobs import info_path, read_info
    from stix.home import StixHome
    from stix.cluster_jobs import saved_info
    from tests.saved_cluster import save_cluster

    home = StixHome(stix_home)
    save_cluster(home, "old")
    data = json.loads(info_path(home, "old").read_text())
    data["key"] = data.pop("ssh_private_key_path")
    info_path(home, "old").write_text(json.dumps(data))
    assert saved_info(home, "old") == read_info(home, "old") and saved_info(home, "old").ssh_private_key_path
    info_path(home, "old").write_text("{trunc")
    assert saved_info(home, "old") is None
