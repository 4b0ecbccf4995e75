"""AWS components under strict Pulumi mocks: a 2-node GPU spot task with ports and labels."""

from __future__ import annotations

import dataclasses

import pytest

from stix.components.base import cloud_for
from stix.spec import ClusterInfo
from tests.components.conftest import SSH_CIDR
from tests.components.mocks import StrictMocks, is_secret, reveal, run_program

AMI_CALL = "aws:ec2/getAmi:getAmi"


def deploy(spec):
    calls = {AMI_CALL: lambda args: {"id": "ami-0123dlami", "name": "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) 20261101"}}
    mocks = StrictMocks(calls=calls)
    outputs = run_program(lambda: cloud_for("aws").deploy(spec), mocks)
    return mocks, outputs


def test_gpu_spot_cluster(spec_for):
    spec = spec_for("aws", "aws/us-east-1", "A100:8", buckets=("train-data",), load_balancer_port=8888)
    mocks, outputs = deploy(spec)

    provider = mocks.one("pulumi:providers:aws")
    assert provider.inputs["region"] == "us-east-1"
    instances = mocks.of_type("aws:ec2/instance:Instance")
    assert [i.name for i in instances] == ["vms-node-0", "vms-node-1"]
    for rank, instance in enumerate(instances):
        inputs = instance.inputs
        assert inputs["instanceType"] == "p4d.24xlarge"
        assert inputs["ami"] == "ami-0123dlami"
        assert inputs["instanceMarketOptions"] == {"marketType": "spot", "spotOptions": {
            "spotInstanceType": "persistent", "instanceInterruptionBehavior": "stop"}}
        assert inputs["instanceInitiatedShutdownBehavior"] == "stop"
        disk = inputs["rootBlockDevice"]
        assert (disk["volumeSize"], disk["volumeType"], disk["iops"], disk["encrypted"]) == (512, "gp3", 12000, True)
        assert inputs["tags"]["stix-cluster"] == "train" and inputs["tags"]["team"] == "ml"
        assert inputs["tags"]["Name"] == ["train-head", "train-worker1"][rank]
        assert is_secret(inputs["userData"])
        cloud_init = reveal(inputs["userData"])
        assert spec.ssh_public_key in cloud_init and spec.host_public_keys[rank] in cloud_init
        assert cloud_init.startswith("#cloud-config\n")

    group = mocks.one("aws:ec2/securityGroup:SecurityGroup")
    ingress = {(r["fromPort"], r["toPort"]): r for r in group.inputs["ingress"]}
    assert ingress[(22, 22)]["cidrBlocks"] == [SSH_CIDR]
    assert ingress[(8888, 8888)]["cidrBlocks"] == ["0.0.0.0/0"]
    assert ingress[(10020, 10040)]["cidrBlocks"] == ["0.0.0.0/0"]
    assert ingress[(0, 0)]["self"] is True and "cidrBlocks" not in ingress[(0, 0)]

    assert mocks.one("aws:ec2/subnet:Subnet").inputs["availabilityZone"] == spec.zone
    bucket = mocks.one("aws:s3/bucket:Bucket")
    assert bucket.inputs["bucket"] == "train-data"
    assert mocks.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs["blockPublicAcls"] is True
    target_group = mocks.one("aws:lb/targetGroup:TargetGroup")
    assert target_group.inputs["healthCheck"]["protocol"] == "TCP" and target_group.inputs["port"] == 8888
    assert mocks.one("aws:lb/loadBalancer:LoadBalancer").inputs["loadBalancerType"] == "network"
    assert len(mocks.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment")) == 2

    info = ClusterInfo.from_dict({"cluster": "train", "cloud": "aws", **outputs}, "/keys/id")
    assert [n.name for n in info.nodes] == ["train-head", "train-worker1"]
    assert info.head.ip.startswith("203.0.113.") and info.head.port == 22 and info.head.user == "stix"
    assert info.head.host_public_key == spec.host_public_keys[0]
    assert outputs["buckets"] == ["s3://train-data"] and outputs["endpoint"].endswith(":8888")


def test_autostop_down_terminates_and_uses_one_time_spot(spec_for):
    spec = spec_for("aws", "aws/us-east-1", "A100:8", autostop_down=True)
    mocks, _ = deploy(spec)
    instance = mocks.of_type("aws:ec2/instance:Instance")[0].inputs
    assert instance["instanceInitiatedShutdownBehavior"] == "terminate"
    assert instance["instanceMarketOptions"]["spotOptions"]["spotInstanceType"] == "one-time"


def test_image_override_skips_the_lookup(spec_for):
    spec = spec_for("aws", "aws/us-east-1", "A100:8", image_id="ami-custom", use_spot=False)
    mocks = StrictMocks()  # no calls allowed: the AMI lookup must not happen
    run_program(lambda: cloud_for("aws").deploy(spec), mocks)
    instance = mocks.of_type("aws:ec2/instance:Instance")[0].inputs
    assert instance["ami"] == "ami-custom" and "instanceMarketOptions" not in instance


def test_s3_bucket_names_follow_s3_rules():
    aws = cloud_for("aws")
    assert aws.bucket_name_problem("my-data.v2") is None
    for bad in ("ab", "x" * 64, "My-Data", "-data", "data-", "a..b", "192.168.1.1", "xn--data", "data-s3alias",
                "under_score"):
        assert aws.bucket_name_problem(bad), bad


def test_s3_rclone_remote_takes_credentials_from_the_environment(monkeypatch, tmp_path):
    from stix.home import StixHome
    from stix.storage.mounts import BucketRef

    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    aws = cloud_for("aws")
    ref = aws.ref_for_uri("s3://data/run-1/")
    assert ref == BucketRef("s3", "data", "run-1") and aws.managed_ref("ckpts") == BucketRef("s3", "ckpts")
    remote = aws.rclone_remote(ref, StixHome(tmp_path))
    assert remote == {"type": "s3", "provider": "AWS", "env_auth": "true", "region": "eu-west-1"}


def test_a_cluster_bucket_carries_the_cluster_tags(spec_for):
    spec = spec_for("aws", "aws/us-east-1", "A100:8", buckets=("train-data",))
    mocks, _ = deploy(spec)
    tags = mocks.one("aws:s3/bucket:Bucket").inputs["tags"]
    assert tags["stix-cluster"] == "train" and tags["stix-role"] == "bucket" and tags["team"] == "ml"
    assert "stix-bucket" not in tags


def test_buckets_of_another_store_are_built_by_that_cloud_with_one_provider_per_store(spec_for):
    from stix.spec import BucketSpec

    buckets = (BucketSpec("train-data", "s3", "us-east-1"), BucketSpec("scratch-a", "gcs", ""),
               BucketSpec("scratch-b", "gcs", ""))
    spec = dataclasses.replace(spec_for("aws", "aws/us-east-1", "A100:8"), buckets=buckets)
    mocks, outputs = deploy(spec)
    assert outputs["buckets"] == ["s3://train-data", "gs://scratch-a", "gs://scratch-b"]
    (gcp_provider,) = mocks.of_type("pulumi:providers:gcp")
    for made in mocks.of_type("gcp:storage/bucket:Bucket"):
        assert made.inputs["location"] == "US" and made.inputs["labels"]["stix-cluster"] == "train"
        assert made.provider is not None and made.provider.split("::")[-2] == gcp_provider.name
    s3 = mocks.one("aws:s3/bucket:Bucket")
    assert s3.provider is not None and s3.provider.split("::")[-2] == "aws"


def test_a_bucket_of_a_store_no_cloud_has_is_refused(spec_for):
    import pytest

    from stix.spec import BucketSpec

    spec = dataclasses.replace(spec_for("aws", "aws/us-east-1", "A100:8"), buckets=(BucketSpec("b-1", "r2", ""),))
    with pytest.raises(ValueError, match=r"no cloud of stix's has the store r2 \(bucket b-1\)"):
        cloud_for("aws").check(spec)


@pytest.mark.parametrize("accelerators, instance_type, name, arch", [
    ("A100:8", "p4d.24xlarge", "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *", "x86_64"),
    ("T4g:1", "g5g.xlarge", "Deep Learning ARM64 Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *", "arm64"),
    ("Inferentia2:1", "inf2.xlarge", "Deep Learning AMI Neuron (Ubuntu 22.04) *", "x86_64"),
    ("Trainium:1", "trn1.2xlarge", "Deep Learning AMI Neuron (Ubuntu 22.04) *", "x86_64"),
    ("Radeon Pro V520:1", "g4ad.2xlarge", "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*", "x86_64"),
])
def test_the_default_image_carries_the_accelerators_driver_for_the_instances_architecture(
        spec_for, accelerators, instance_type, name, arch):
    """A Graviton GPU (g5g) gets the arm64 NVIDIA image, Neuron devices the Neuron image: an x86_64 NVIDIA image
    would not boot or would have no driver for them."""
    spec = dataclasses.replace(spec_for("aws", "aws", accelerators, spot=False), instance_type=instance_type)
    asked = []
    mocks = StrictMocks(calls={AMI_CALL: lambda args: asked.append(args) or {"id": "ami-0123"}})
    run_program(lambda: cloud_for("aws").deploy(spec), mocks)
    (args,) = asked
    filters = {f["name"]: f["values"] for f in args["filters"]}
    assert filters == {"name": [name], "architecture": [arch]}
    assert args["owners"] == (["099720109477"] if name.startswith("ubuntu/") else ["amazon"])


def test_graviton_families_are_arm64():
    from stix.components.aws.plan import architecture

    assert [architecture(t) for t in ("g5g.xlarge", "c7gn.large", "m6gd.2xlarge", "r8g.large", "t4g.micro")] == [
        "arm64"] * 5
    assert [architecture(t) for t in ("g4dn.xlarge", "p5.48xlarge", "g6e.xlarge", "inf2.xlarge", "trn1.2xlarge",
                                      "dl1.24xlarge", "m7i.large", "g4ad.2xlarge")] == ["x86_64"] * 8
