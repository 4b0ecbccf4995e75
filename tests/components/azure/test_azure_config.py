"""The azure: config section reaching the Azure components: labels as tags, the SSH user; the keys stix does
not carry out yet are refused when a cluster is compiled on Azure."""

from __future__ import annotations

import pytest

from stix.compile import with_config
from stix.components.base import cloud_for
from stix.config import EffectiveConfig
from stix.errors import UsageError
from stix.models.cloud_config import AzureConfig
from stix.models.config import StixConfig
from stix.spec import ClusterInfo
from tests.components.mocks import StrictMocks, reveal, run_program


def configured(spec_for, **section):
    spec = spec_for("azure", "azure/eastus", "A100-80GB:4", buckets=("train-data",), load_balancer_port=8888)
    return with_config(spec, EffectiveConfig(values=StixConfig(azure=AzureConfig(**section))))


def deploy(spec):
    mocks = StrictMocks()
    return mocks, run_program(lambda: cloud_for("azure").deploy(spec), mocks)


def test_config_labels_are_tags_on_every_tagged_resource(spec_for):
    spec = configured(spec_for, labels={"cost-center": "42", "team": "platform"})
    mocks, _ = deploy(spec)
    tagged = [r for r in mocks.resources if "tags" in r.inputs]
    assert {r.type for r in tagged} >= {"azure-native:compute:VirtualMachine", "azure-native:network:VirtualNetwork",
                                        "azure-native:network:NetworkSecurityGroup",
                                        "azure-native:resources:ResourceGroup"}
    for resource in tagged:
        tags = resource.inputs["tags"]
        assert tags["cost-center"] == "42" and tags["team"] == "ml" and tags["stix-cluster"] == "train", resource.name


def test_ssh_user_is_the_admin_user(spec_for):
    spec = configured(spec_for, ssh_user="ml")
    mocks, outputs = deploy(spec)
    for vm in mocks.of_type("azure-native:compute:VirtualMachine"):
        assert reveal(vm.inputs["osProfile"])["adminUsername"] == "ml"
    assert ClusterInfo.from_dict({"cluster": "train", "cloud": "azure", **outputs}).head.user == "ml"


@pytest.mark.parametrize("key,value", [("vpc_name", "corp-vnet"), ("resource_group_vm", "corp-rg"),
                                       ("use_internal_ips", True)])
def test_keys_stix_does_not_carry_out_on_azure_are_refused(spec_for, key, value):
    with pytest.raises(UsageError, match=f"not supported yet: config azure.{key}"):
        configured(spec_for, **{key: value})


def test_an_admin_name_azure_reserves_is_refused_at_load():
    with pytest.raises(ValueError, match="reserved on Azure"):
        AzureConfig(ssh_user="admin")
    assert AzureConfig(ssh_user="ml").ssh_user == "ml"
