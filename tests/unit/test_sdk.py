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
    assert stix.status() == []


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
