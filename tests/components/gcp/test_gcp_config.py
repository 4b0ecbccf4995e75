"""The gcp: config section reaching the GCP components: labels (GCP's label rules), an existing network by
name, internal IPs and the SSH user."""

from __future__ import annotations

import dataclasses

import pytest

from stix.compile import with_config
from stix.components.base import cloud_for
from stix.config import EffectiveConfig
from stix.models.cloud_config import GcpConfig
from stix.models.config import StixConfig
from stix.spec import ClusterInfo
from tests.components.mocks import StrictMocks, run_program

NETWORK_CALL = "gcp:compute/getNetwork:getNetwork"


def configured(spec_for, **section):
    spec = spec_for("gcp", "gcp/us-central1", "T4:4", buckets=("train-data",), load_balancer_port=8888)
    return with_config(spec, EffectiveConfig(values=StixConfig(gcp=GcpConfig(**section))))


def deploy(spec, **calls):
    mocks = StrictMocks(calls=calls)
    return mocks, run_program(lambda: cloud_for("gcp").deploy(spec), mocks)


def test_config_labels_follow_gcp_label_rules_on_every_labelled_resource(spec_for):
    spec = configured(spec_for, labels={"Cost.Center": "CC 42", "9lives": "x", "team": "platform"})
    mocks, _ = deploy(spec)
    labelled = [(r.name, r.inputs["labels"]) for r in mocks.resources if "labels" in r.inputs]
    labelled += [(r.name + "-disk", r.inputs["bootDisk"]["initializeParams"]["labels"])
                 for r in mocks.of_type("gcp:compute/instance:Instance")]
    assert {r.type for r in mocks.resources if "labels" in r.inputs} >= {"gcp:compute/instance:Instance",
                                                                          "gcp:storage/bucket:Bucket"}
    for name, labels in labelled:
        assert labels["cost-center"] == "cc-42", name
        assert labels["k-9lives"] == "x", name
        assert labels["team"] == "ml", name  # the task's labels win over config's
        assert labels["stix-cluster"] == "train", name


def test_an_existing_network_is_looked_up_by_name_not_created(spec_for):
    spec = configured(spec_for, vpc_name="shared-project/shared-net")
    seen = {}

    def network(args):
        seen.update(args)
        return {"selfLink": "https://compute.example/shared-net", "name": "shared-net"}

    mocks, _ = deploy(spec, **{NETWORK_CALL: network})
    assert (seen["name"], seen["project"]) == ("shared-net", "shared-project")
    assert not mocks.of_type("gcp:compute/network:Network") and not mocks.of_type("gcp:compute/subnetwork:Subnetwork")
    for instance in mocks.of_type("gcp:compute/instance:Instance"):
        interface = instance.inputs["networkInterfaces"][0]
        assert interface["network"] == "https://compute.example/shared-net" and "subnetwork" not in interface
    firewalls = mocks.of_type("gcp:compute/firewall:Firewall")
    assert firewalls and all(f.inputs["network"] == "https://compute.example/shared-net" for f in firewalls)


def test_a_bad_network_name_is_refused():
    with pytest.raises(ValueError, match="vpc_name"):
        GcpConfig(vpc_name="Bad Name")


def test_internal_ips_and_ssh_user(spec_for):
    # config refuses use_internal_ips without vpc_name (test_compile_config); the component still honours a spec
    # that asks for it, which is what this checks
    spec = dataclasses.replace(configured(spec_for, ssh_user="ml"), use_internal_ips=True)
    mocks, outputs = deploy(spec)
    for instance in mocks.of_type("gcp:compute/instance:Instance"):
        assert "accessConfigs" not in instance.inputs["networkInterfaces"][0]
    info = ClusterInfo.from_dict({"cluster": "train", "cloud": "gcp", **outputs})
    assert all(node.ip == node.private_ip and node.user == "ml" for node in info.nodes)
