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
