"""GCP components under strict Pulumi mocks: a 2-node GPU spot task with ports and labels."""

from __future__ import annotations

from stix.components.base import cloud_for
from stix.spec import ClusterInfo
from tests.components.conftest import SSH_CIDR
from tests.components.mocks import StrictMocks, is_secret, reveal, run_program


def deploy(spec):
    mocks = StrictMocks()
    return mocks, run_program(lambda: cloud_for("gcp").deploy(spec), mocks)


def test_attached_gpu_spot_cluster(spec_for):
    spec = spec_for("gcp", "gcp/us-central1", "T4:4", buckets=("train-data",), load_balancer_port=8888)
    assert spec.instance_type.startswith("n1-")
    mocks, outputs = deploy(spec)
    instances = mocks.of_type("gcp:compute/instance:Instance")
    assert [i.inputs["name"] for i in instances] == ["train-head", "train-worker1"]
    for rank, instance in enumerate(instances):
        inputs = instance.inputs
        assert inputs["machineType"] == spec.instance_type and inputs["zone"] == spec.zone
        assert inputs["guestAccelerators"] == [{"type": "nvidia-tesla-t4", "count": 4}]
        scheduling = inputs["scheduling"]
        assert (scheduling["provisioningModel"], scheduling["preemptible"], scheduling["automaticRestart"],
                scheduling["onHostMaintenance"], scheduling["instanceTerminationAction"]) == \
            ("SPOT", True, False, "TERMINATE", "STOP")
        params = inputs["bootDisk"]["initializeParams"]
        assert (params["size"], params["type"]) == (512, "pd-ssd")
        assert "deeplearning-platform-release" in params["image"]
        assert inputs["labels"]["stix-cluster"] == "train" and inputs["labels"]["team"] == "ml"
        assert is_secret(inputs["metadata"]), "the metadata holds a private host key"
        metadata = reveal(inputs["metadata"])
        assert spec.host_public_keys[rank] in metadata["user-data"]
        assert metadata["block-project-ssh-keys"] == "TRUE"

    rules = {r.name: r.inputs for r in mocks.of_type("gcp:compute/firewall:Firewall")}
    assert rules["net-ssh"]["sourceRanges"] == [SSH_CIDR] and rules["net-ssh"]["allows"] == [{"protocol": "tcp", "ports": ["22"]}]
    assert rules["net-port-10020-10040"]["allows"][0]["ports"] == ["10020-10040"]
    assert "sourceRanges" not in rules["net-internal"] and rules["net-internal"]["sourceTags"] == ["stix-train"]
    assert rules["lb-health-checkers"]["sourceRanges"] == ["35.191.0.0/16", "130.211.0.0/22"]

    assert mocks.one("gcp:storage/bucket:Bucket").inputs["publicAccessPrevention"] == "enforced"
    assert mocks.one("gcp:compute/regionHealthCheck:RegionHealthCheck").inputs["tcpHealthCheck"]["port"] == 8888
    assert mocks.one("gcp:compute/forwardingRule:ForwardingRule").inputs["portRange"] == "8888"

    info = ClusterInfo.from_dict({"cluster": "train", "cloud": "gcp", **outputs}, "/keys/id")
    assert info.head.ip.startswith("198.51.100.") and info.nodes[1].name == "train-worker1"
    assert outputs["buckets"] == ["gs://train-data"]


def test_built_in_gpus_are_not_attached(spec_for):
    spec = spec_for("gcp", "gcp/us-central1", "A100:8")
    mocks, _ = deploy(spec)
    instance = mocks.of_type("gcp:compute/instance:Instance")[0].inputs
    assert spec.instance_type == "a2-highgpu-8g" and "guestAccelerators" not in instance


def test_gcs_bucket_names_follow_gcs_rules():
    gcp = cloud_for("gcp")
    assert gcp.bucket_name_problem("my_data-v2") is None and gcp.bucket_name_problem("a." + "b" * 63) is None
    for bad in ("ab", "x" * 64, "My-Data", "_data", "goog-data", "my-google-data", "10.0.0.1", "a." + "b" * 64):
        assert gcp.bucket_name_problem(bad), bad


def test_gcs_rclone_remote_uses_uniform_access_and_ambient_credentials(tmp_path):
    from stix.home import StixHome
    from stix.storage.mounts import BucketRef

    gcp = cloud_for("gcp")
    ref = gcp.ref_for_uri("gs://data/a/b")
    assert ref == BucketRef("gcs", "data", "a/b")
    assert gcp.rclone_remote(ref, StixHome(tmp_path)) == {
        "type": "google cloud storage", "env_auth": "true", "bucket_policy_only": "true"}


def test_a_cluster_bucket_is_placed_in_the_cluster_region_with_its_labels(spec_for):
    spec = spec_for("gcp", "gcp/us-central1", "A100:8", buckets=("train-data",))
    mocks = StrictMocks()
    run_program(lambda: cloud_for("gcp").deploy(spec), mocks)
    bucket = mocks.one("gcp:storage/bucket:Bucket").inputs
    assert bucket["location"] == "US-CENTRAL1" and bucket["labels"]["stix-cluster"] == "train"
