"""Config's per-cloud sections reach the ClusterSpec: compile_spec and spec_at carry them, the spec round-trips
through the stack file with them, and an older stored spec without them still loads."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from stix import flows, stages
from stix.catalog.load import load_catalog
from stix.compile import compile_spec
from stix.config import EffectiveConfig
from stix.errors import UsageError
from stix.home import StixHome
from stix.inputs import cluster_inputs
from stix.models.cloud_config import AwsConfig, AzureConfig, CloudConfig, GcpConfig, KubernetesConfig
from stix.models.config import StixConfig
from stix.models.task import Task
from stix.optimizer import HostLimits, optimize
from stix.pin import Pin, read_spec, write_pin
from stix.session import Session
from stix.spec import ClusterSpec

CONFIG = EffectiveConfig(values=StixConfig(
    aws=AwsConfig(labels={"team": "platform", "cost-center": "42"}, vpc_name="shared", ssh_user="ubuntu",
                  security_group_name=[{"dev-*": "dev-sg"}, {"*": "corp-sg"}], use_internal_ips=True),
    gcp=GcpConfig(labels={"gcp-only": "yes"}),
    kubernetes=KubernetesConfig(namespace="ml", pod_config={"spec": {"serviceAccountName": "trainer"}})))


def task(infra: str) -> Task:
    return Task.model_validate({"run": "true", "resources": {"infra": infra, "cpus": "2+", "labels": {"team": "ml"}}})


def compiled(tmp_path, infra: str, cloud: str, config=CONFIG, cluster: str = "train") -> ClusterSpec:
    chosen = optimize(task(infra).resources, 1, load_catalog(), [cloud], host=HostLimits(2, 8)).chosen
    inputs = cluster_inputs(StixHome(tmp_path / "home"), cluster, chosen, 1, ("198.51.100.7/32",))
    return compile_spec(task(infra), cluster, chosen, inputs, config=config)


def test_compile_applies_the_placed_clouds_section_only(tmp_path):
    spec = compiled(tmp_path, "aws/us-east-1", "aws")
    assert spec.labels == {"team": "ml", "cost-center": "42"}  # the task's labels win over config's
    assert (spec.vpc_name, spec.ssh_user, spec.security_group_name, spec.use_internal_ips) == (
        "shared", "ubuntu", "corp-sg", True)
    assert (spec.k8s_namespace, spec.pod_config) == ("", {})
    assert compiled(tmp_path, "aws/us-east-1", "aws", cluster="dev-1").security_group_name == "dev-sg"
    gcp = compiled(tmp_path, "gcp/us-central1", "gcp")
    assert gcp.labels == {"team": "ml", "gcp-only": "yes"} and gcp.vpc_name == "" and gcp.ssh_user == "stix"
    local = compiled(tmp_path, "local", "local")
    assert local.labels == {"team": "ml"} and local.ssh_user == "stix" and local.vpc_name == ""


def test_compile_without_config_keeps_the_defaults(tmp_path):
    spec = compiled(tmp_path, "aws/us-east-1", "aws", config=None)
    assert spec == compiled(tmp_path, "aws/us-east-1", "aws", config=EffectiveConfig())
    assert (spec.vpc_name, spec.security_group_name, spec.ssh_user, spec.use_internal_ips) == ("", "", "stix", False)


def test_compile_refuses_a_key_the_placed_cloud_cannot_carry_out(tmp_path):
    config = EffectiveConfig(values=StixConfig(azure=AzureConfig(vpc_name="corp-vnet")))
    with pytest.raises(UsageError, match="not supported yet: config azure.vpc_name"):
        compiled(tmp_path, "azure/eastus", "azure", config=config)
    assert compiled(tmp_path, "aws/us-east-1", "aws", config=config).vpc_name == ""


def test_compile_refuses_internal_ips_without_an_existing_vpc(tmp_path):
    """The VPC stix creates has no NAT or VPN: nodes without a public address there could not be reached."""
    config = EffectiveConfig(values=StixConfig(aws=AwsConfig(use_internal_ips=True), gcp=GcpConfig(
        use_internal_ips=True, vpc_name="corp")), sources={"aws.use_internal_ips": "/etc/u.yaml"})
    with pytest.raises(UsageError) as caught:
        compiled(tmp_path, "aws/us-east-1", "aws", config=config)
    assert caught.value.message.startswith("config aws.use_internal_ips (/etc/u.yaml) needs aws.vpc_name: ")
    assert "\n" not in caught.value.message
    assert compiled(tmp_path, "gcp/us-central1", "gcp", config=config).use_internal_ips is True


def test_effective_config_hands_the_per_cloud_classes_back():
    assert isinstance(CONFIG.section("aws"), AwsConfig) and isinstance(CONFIG.section("gcp"), CloudConfig)
    assert CONFIG.section("kubernetes").namespace == "ml" and CONFIG.section("azure") is None
    assert CONFIG.section("local") is None and CONFIG.section("allowed_clouds") is None  # no section: not a cloud's
    with pytest.raises(ValueError, match="security_group_name"):
        StixConfig.model_validate({"gcp": {"security_group_name": "x"}})  # an AWS-only key


def test_spec_at_carries_the_targets_config_into_the_spec(stix_home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside any stix project
    monkeypatch.setattr(stages, "check_prerequisites", lambda *args: None)  # no AWS provider plugin here
    monkeypatch.setenv("STIX_SSH_CIDR", "198.51.100.7/32")
    session = Session(StixHome(stix_home))
    target = dataclasses.replace(stages.target_of(flows.LaunchRequest(task("aws/us-east-1"), "train")), config=CONFIG)
    chosen = optimize(target.task.resources, 1, load_catalog(), ["aws"], host=HostLimits(2, 8)).chosen
    spec, _ = stages.spec_at(session, target, chosen)
    assert spec.vpc_name == "shared" and spec.labels["cost-center"] == "42" and spec.ssh_user == "ubuntu"


def test_the_new_fields_round_trip_through_the_stack_file_and_an_older_spec_loads(tmp_path):
    spec = dataclasses.replace(compiled(tmp_path, "aws/us-east-1", "aws"), k8s_namespace="ml",
                               pod_config={"spec": {"tolerations": [{"key": "gpu", "operator": "Exists"}]}})
    pin = Pin.of("train.yaml", optimize(task("aws/us-east-1").resources, 1, load_catalog(), ["aws"],
                                        host=HostLimits(2, 8)).chosen, "", ("198.51.100.7/32",))
    stack_file = tmp_path / "Pulumi.train.yaml"
    write_pin(stack_file, pin, spec)
    assert read_spec(stack_file) == spec
    assert ClusterSpec.from_json(spec.to_json()) == spec

    data = yaml.safe_load(stack_file.read_text())
    for key in ("vpc_name", "security_group_name", "use_internal_ips", "k8s_namespace", "pod_config"):
        del data["config"]["stix:spec"][key]  # what stix wrote before these fields
    stack_file.write_text(yaml.safe_dump(data))
    older = read_spec(stack_file)
    assert older is not None and (older.vpc_name, older.k8s_namespace, older.pod_config) == ("", "", {})


def test_a_planned_preview_in_an_existing_vpc_declares_no_network_of_its_own(tmp_path):
    from stix.planned import planned_changes

    spec = compiled(tmp_path, "aws/us-east-1", "aws")
    types = {change.type for change in planned_changes(spec).changes}
    assert "aws:ec2/instance:Instance" in types
    assert not types & {"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/securityGroup:SecurityGroup"}
