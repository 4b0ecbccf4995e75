"""A cluster's pin in its stack file: round trips, stickiness, merging with what Pulumi wrote."""

import dataclasses

import pytest
import yaml

from stix.errors import UsageError
from stix.home import StixHome
from stix.models.task import Task
from stix.optimizer import Candidate, Placement
from stix.pin import Pin, keep_pinned, read_pin, read_spec, task_reference, write_pin

A100 = Candidate("aws", "us-east-1", "us-east-1a", "p4d.24xlarge", "A100", 8.0, 96.0, 1152.0, False, 32.77, 2)
CHEAPER = Candidate("gcp", "us-central1", "us-central1-a", "a2-highgpu-8g", "A100", 8.0, 96.0, 680.0, False, 29.39, 2)


def pin(**changes) -> Pin:
    return dataclasses.replace(Pin.of("jobs/train.yaml", A100, "ami-123", ("203.0.113.7/32",)), **changes)


def test_config_round_trip_uses_pulumi_config_keys():
    config = pin().to_config()
    assert config["stix:task"] == "jobs/train.yaml"
    placement = config["stix:placement"]
    assert placement["instanceType"] == "p4d.24xlarge" and placement["numNodes"] == 2
    assert placement["hourlyCost"] == pytest.approx(65.54) and placement["sshCidrs"] == ["203.0.113.7/32"]
    assert "stix:stopped" not in config
    assert Pin.from_config(config["stix:task"], placement) == pin()
    assert pin(stopped=True).to_config()["stix:stopped"] is True


def test_missing_placement_fields_are_named():
    placement = pin().to_config()["stix:placement"]
    del placement["zone"], placement["numNodes"]
    with pytest.raises(UsageError, match="stix:placement: missing zone, numNodes"):
        Pin.from_config("t.yaml", placement, where="stacks/Pulumi.t.yaml")
    with pytest.raises(UsageError, match="needs stix:task and stix:placement"):
        Pin.from_config(None, None)


def test_the_pin_holds_while_it_is_still_a_candidate_even_when_no_longer_cheapest():
    placement = Placement(CHEAPER, [CHEAPER, A100])
    assert keep_pinned(pin(), placement) is A100
    assert keep_pinned(pin(), Placement(CHEAPER, [CHEAPER])) is CHEAPER, "a pin the task rules out moves"
    assert keep_pinned(None, placement) is CHEAPER


def test_write_pin_keeps_what_pulumi_and_users_wrote_and_reports_changes(tmp_path):
    stack_file = tmp_path / "stacks" / "Pulumi.train.yaml"
    stack_file.parent.mkdir()
    stack_file.write_text("encryptionsalt: v1:abc\nconfig:\n  aws:profile: ml\n  stix:old: gone\n")
    assert write_pin(stack_file, pin()) is True
    data = yaml.safe_load(stack_file.read_text())
    assert data["encryptionsalt"] == "v1:abc" and data["config"]["aws:profile"] == "ml"
    assert "stix:old" not in data["config"]
    assert read_pin(stack_file) == pin()
    assert write_pin(stack_file, pin()) is False
    assert write_pin(stack_file, pin(num_nodes=4)) is True and read_pin(stack_file).num_nodes == 4


def test_a_stack_file_without_a_pin_reads_as_none_and_broken_yaml_names_the_line(tmp_path):
    stack_file = tmp_path / "Pulumi.x.yaml"
    assert read_pin(stack_file) is None
    stack_file.write_text("encryptionsalt: v1:abc\n")
    assert read_pin(stack_file) is None
    stack_file.write_text("config:\n  stix:task: [t.yaml\n")
    with pytest.raises(UsageError, match=r"Pulumi.x.yaml:3:1: not valid YAML"):
        read_pin(stack_file)


def test_task_reference_is_relative_inside_the_project_and_absolute_outside(tmp_path):
    root = tmp_path / "proj"
    assert task_reference(root, root / "jobs" / "t.yaml") == "jobs/t.yaml"
    assert task_reference(root, tmp_path / "elsewhere.yaml") == str(tmp_path / "elsewhere.yaml")


def test_the_stack_file_stores_the_compiled_spec_the_program_deploys(tmp_path):
    """Plain `pulumi preview` builds from the stored spec: no task file is read, nothing is re-planned."""
    from stix.compile import compile_spec
    from stix.inputs import cluster_inputs

    home = StixHome(tmp_path / "home")
    task = Task.model_validate({"name": "train", "num_nodes": 3, "run": "true", "resources": {"ports": [8888]}})
    pinned = pin(stopped=True)
    candidate = pinned.candidate()
    spec = compile_spec(task, "train", candidate, cluster_inputs(home, "train", candidate, 3, pinned.ssh_cidrs))
    stack_file = tmp_path / "stacks" / "Pulumi.train.yaml"
    assert write_pin(stack_file, pinned, spec)
    assert not write_pin(stack_file, pinned, spec)
    stored = read_spec(stack_file)
    assert stored == spec
    assert (stored.cloud, stored.region, stored.zone, stored.instance_type) == ("aws", "us-east-1", "us-east-1a", "p4d.24xlarge")
    assert stored.num_nodes == 3 and stored.ports == ((8888, 8888),) and stored.ssh_cidrs == ("203.0.113.7/32",)
