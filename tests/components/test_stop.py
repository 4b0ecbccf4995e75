"""Stopping a cluster through the stack: each cloud that declares `stop` stops its machines; others refuse."""

import pytest

from stix.components.base import cloud_for
from tests.components.mocks import StrictMocks, run_program

AMI = {"aws:ec2/getAmi:getAmi": lambda args: {"id": "ami-0123"}}


def test_aws_instances_are_stopped_and_started_with_instance_state(spec_for):
    for stopped, state in ((True, "stopped"), (False, "running")):
        spec = spec_for("aws", "aws/us-east-1", "A100:8", stopped=stopped)
        mocks = StrictMocks(calls=AMI)
        run_program(lambda: cloud_for("aws").deploy(spec), mocks)
        states = mocks.of_type("aws:ec2transitgateway/instanceState:InstanceState")
        assert [s.inputs["state"] for s in states] == [state, state]
        assert {s.inputs["instanceId"] for s in states} == {"vms-node-0-id", "vms-node-1-id"}


def test_gcp_instances_take_a_desired_status(spec_for):
    spec = spec_for("gcp", "gcp/us-central1", "A100:8", stopped=True)
    mocks = StrictMocks()
    run_program(lambda: cloud_for("gcp").deploy(spec), mocks)
    assert {i.inputs["desiredStatus"] for i in mocks.of_type("gcp:compute/instance:Instance")} == {"TERMINATED"}


@pytest.mark.parametrize("cloud", ["azure", "kubernetes"])
def test_clouds_without_stop_refuse(cloud, spec_for, k8s_spec):
    spec = k8s_spec(stopped=True) if cloud == "kubernetes" else spec_for("azure", "azure/eastus", "A100-80GB:4", stopped=True)
    with pytest.raises(ValueError, match="cannot be stopped by stix yet"):
        cloud_for(cloud).check(spec)
