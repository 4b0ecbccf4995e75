"""The aws: config section reaching the AWS components: labels, an existing VPC, a named security group,
internal IPs and the SSH user."""

from __future__ import annotations

import dataclasses

import pytest

from stix.compile import with_config
from stix.components.base import cloud_for
from stix.config import EffectiveConfig
from stix.models.cloud_config import AwsConfig
from stix.models.config import StixConfig
from stix.spec import ClusterInfo
from tests.components.mocks import StrictMocks, reveal, run_program

AMI_CALL = "aws:ec2/getAmi:getAmi"
VPC_CALL = "aws:ec2/getVpc:getVpc"
SUBNETS_CALL = "aws:ec2/getSubnets:getSubnets"
SG_CALL = "aws:ec2/getSecurityGroup:getSecurityGroup"


def configured(spec_for, **aws):
    spec = spec_for("aws", "aws/us-east-1", "A100:8", load_balancer_port=8888, buckets=("train-data",))
    return with_config(spec, EffectiveConfig(values=StixConfig(aws=AwsConfig(**aws))))


def deploy(spec, **calls):
    mocks = StrictMocks(calls={AMI_CALL: lambda args: {"id": "ami-0123dlami"}, **calls})
    outputs = run_program(lambda: cloud_for("aws").deploy(spec), mocks)
    return mocks, outputs


def tagged(mocks):
    """Every recorded resource that carries tags, with them (instances: also their root volume's)."""
    out = [(r.name, r.inputs["tags"]) for r in mocks.resources if "tags" in r.inputs]
    out += [(r.name + "-disk", r.inputs["rootBlockDevice"]["tags"])
            for r in mocks.of_type("aws:ec2/instance:Instance")]
    return out


def test_config_labels_are_on_every_tagged_resource_under_the_task_labels_and_stix_tags(spec_for):
    spec = configured(spec_for, labels={"cost-center": "42", "team": "platform", "stix-cluster": "hijack"})
    assert spec.labels == {"cost-center": "42", "team": "ml", "project": "llm", "stix-cluster": "hijack"}
    mocks, _ = deploy(spec)
    resources = tagged(mocks)
    types = {r.type for r in mocks.resources if "tags" in r.inputs}
    assert {"aws:ec2/instance:Instance", "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/securityGroup:SecurityGroup",
            "aws:s3/bucket:Bucket", "aws:lb/loadBalancer:LoadBalancer"} <= types
    for name, tags in resources:
        assert tags["cost-center"] == "42", name
        assert tags["team"] == "ml", name  # the task's resources.labels win over config's
        assert tags["stix-cluster"] == "train", name  # stix's own tags win over both


def test_instance_tags_is_the_older_spelling_of_labels(spec_for):
    spec = configured(spec_for, instance_tags={"owner": "ada"})
    mocks, _ = deploy(spec)
    assert all(tags["owner"] == "ada" for _, tags in tagged(mocks))
    with pytest.raises(ValueError, match="not both"):
        AwsConfig(labels={"a": "b"}, instance_tags={"a": "b"})


def test_an_existing_vpc_is_looked_up_by_name_not_created(spec_for):
    spec = configured(spec_for, vpc_name="shared-vpc")
    seen = {}

    def vpc(args):
        seen["vpc"] = args
        return {"id": "vpc-0shared"}

    def subnets(args):
        seen["subnets"] = args
        return {"ids": ["subnet-b", "subnet-a"], "id": "x"}

    mocks, outputs = deploy(spec, **{VPC_CALL: vpc, SUBNETS_CALL: subnets})
    assert not mocks.of_type("aws:ec2/vpc:Vpc") and not mocks.of_type("aws:ec2/subnet:Subnet")
    assert not mocks.of_type("aws:ec2/internetGateway:InternetGateway")
    assert not mocks.of_type("aws:ec2/routeTable:RouteTable")
    assert seen["vpc"]["filters"] == [{"name": "tag:Name", "values": ["shared-vpc"]}]
    assert {"name": "vpc-id", "values": ["vpc-0shared"]} in seen["subnets"]["filters"]
    assert {"name": "availability-zone", "values": [spec.zone]} in seen["subnets"]["filters"]
    for instance in mocks.of_type("aws:ec2/instance:Instance"):
        assert instance.inputs["subnetId"] == "subnet-a"
    assert mocks.one("aws:ec2/securityGroup:SecurityGroup").inputs["vpcId"] == "vpc-0shared"
    assert mocks.one("aws:lb/targetGroup:TargetGroup").inputs["vpcId"] == "vpc-0shared"


def test_a_vpc_without_a_subnet_in_the_zone_fails_naming_the_key(spec_for):
    spec = configured(spec_for, vpc_name="shared-vpc")
    with pytest.raises(Exception, match="aws.vpc_name"):
        deploy(spec, **{VPC_CALL: lambda args: {"id": "vpc-0shared"}, SUBNETS_CALL: lambda args: {"ids": []}})


def test_a_named_security_group_in_the_users_vpc_replaces_the_clusters_own(spec_for):
    spec = configured(spec_for, security_group_name="corp-sg", vpc_name="shared-vpc")
    seen = {}

    def group(args):
        seen.update(args)
        return {"id": "sg-0corp"}

    mocks, _ = deploy(spec, **{SG_CALL: group, VPC_CALL: lambda args: {"id": "vpc-0shared"},
                               SUBNETS_CALL: lambda args: {"ids": ["subnet-a"]}})
    assert not mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert (seen["name"], seen["vpcId"]) == ("corp-sg", "vpc-0shared")
    for instance in mocks.of_type("aws:ec2/instance:Instance"):
        assert instance.inputs["vpcSecurityGroupIds"] == ["sg-0corp"]


def test_a_named_security_group_in_the_clusters_own_vpc_is_the_clusters_group_by_that_name(spec_for):
    spec = configured(spec_for, security_group_name="corp-sg")
    mocks, _ = deploy(spec)  # no lookup: the strict mocks refuse any call but the AMI's
    group = mocks.one("aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs["name"] == "corp-sg" and group.inputs["tags"]["stix-cluster"] == "train"
    assert any(rule["fromPort"] == 22 for rule in group.inputs["ingress"])


def test_security_group_name_by_cluster_name_pattern_first_match_wins(spec_for):
    patterns = [{"dev-*": "dev-sg"}, {"tr*": "train-sg"}, {"*": "default-sg"}]
    assert configured(spec_for, security_group_name=patterns).security_group_name == "train-sg"
    assert configured(spec_for, security_group_name=[{"dev-*": "dev-sg"}]).security_group_name == ""
    with pytest.raises(ValueError, match="one \\{cluster-name pattern"):
        AwsConfig(security_group_name=[{"a": "x", "b": "y"}])


def test_internal_ips_nodes_are_reached_at_their_private_address(spec_for):
    # config refuses use_internal_ips without vpc_name (test_compile_config); the component still honours a spec
    # that asks for it, which is what this checks
    spec = dataclasses.replace(configured(spec_for), use_internal_ips=True)
    mocks, outputs = deploy(spec)
    for instance in mocks.of_type("aws:ec2/instance:Instance"):
        assert instance.inputs["associatePublicIpAddress"] is False
    assert mocks.one("aws:ec2/subnet:Subnet").inputs["mapPublicIpOnLaunch"] is False
    info = ClusterInfo.from_dict({"cluster": "train", "cloud": "aws", **outputs})
    assert all(node.ip == node.private_ip and node.ip.startswith("10.20.1.") for node in info.nodes)


def test_ssh_user_is_the_nodes_login(spec_for):
    spec = configured(spec_for, ssh_user="ubuntu")
    mocks, outputs = deploy(spec)
    instance = mocks.of_type("aws:ec2/instance:Instance")[0]
    assert "name: ubuntu" in reveal(instance.inputs["userData"])
    info = ClusterInfo.from_dict({"cluster": "train", "cloud": "aws", **outputs})
    assert info.head.user == "ubuntu" and info.head.home == "/home/ubuntu"
    with pytest.raises(ValueError, match="ssh_user"):
        AwsConfig(ssh_user="root; rm -rf /")


def test_without_config_nothing_changes(spec_for):
    spec = spec_for("aws", "aws/us-east-1", "A100:8")
    assert with_config(spec, EffectiveConfig()) == spec
    assert with_config(spec, None) == spec
