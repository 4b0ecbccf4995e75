"""Policies every cloud's components must satisfy, checked over everything the mocks recorded."""

from __future__ import annotations

import pytest

from stix.components.base import cloud_for
from stix.policy.rules import UNTAGGABLE  # resources whose API has no tags/labels field at all
from tests.components.conftest import SSH_CIDR
from tests.components.mocks import StrictMocks, is_secret, reveal, run_program

AMI = {"aws:ec2/getAmi:getAmi": lambda args: {"id": "ami-0123"}}
WORLD = ("0.0.0.0/0", "*", "Internet", "::/0")
ASKED_PORTS = {(8888, 8888), (10020, 10040)}
COMPONENT_PREFIX = "stix:"


def deployed(cloud: str, spec):
    mocks = StrictMocks(calls=AMI if cloud == "aws" else {})
    run_program(lambda: cloud_for(cloud).deploy(spec), mocks)
    return mocks


@pytest.fixture(params=["aws", "gcp", "azure", "kubernetes"])
def cluster(request, spec_for, k8s_spec):
    cloud = request.param
    if cloud == "kubernetes":
        spec = k8s_spec(load_balancer_port=8888)
    else:
        infra = {"aws": "aws/us-east-1", "gcp": "gcp/us-central1", "azure": "azure/eastus"}[cloud]
        accelerators = {"aws": "A100:8", "gcp": "A100:8", "azure": "A100-80GB:4"}[cloud]
        spec = spec_for(cloud, infra, accelerators, buckets=("train-data",), load_balancer_port=8888)
    return cloud, spec, deployed(cloud, spec)


def open_ports(cloud: str, mocks: StrictMocks) -> list[tuple[int, int, tuple[str, ...]]]:
    """(from, to, sources) of every inbound rule, in one shape for all clouds."""
    out = []
    if cloud == "aws":
        for group in mocks.of_type("aws:ec2/securityGroup:SecurityGroup"):
            for rule in group.inputs.get("ingress", []):
                out.append((rule["fromPort"], rule["toPort"], tuple(rule.get("cidrBlocks", ())) or ("self",)))
    elif cloud == "gcp":
        for rule in mocks.of_type("gcp:compute/firewall:Firewall"):
            sources = tuple(rule.inputs.get("sourceRanges", ())) or ("tagged nodes",)
            for allow in rule.inputs["allows"]:
                for ports in allow.get("ports", ["0-65535"]):
                    low, _, high = ports.partition("-")
                    out.append((int(low), int(high or low), sources))
    elif cloud == "azure":
        for group in mocks.of_type("azure-native:network:NetworkSecurityGroup"):
            for rule in group.inputs["securityRules"]:
                low, _, high = rule["destinationPortRange"].partition("-")
                sources = tuple(rule.get("sourceAddressPrefixes", ())) or (rule.get("sourceAddressPrefix"),)
                out.append((int(low), int(high or low), sources))
    else:
        for policy in mocks.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
            for rule in policy.inputs["spec"]["ingress"]:
                sources = tuple(peer["ipBlock"]["cidr"] if "ipBlock" in peer else "self" for peer in rule["from"])
                for port in rule.get("ports") or [{"port": 0, "endPort": 65535}]:
                    out.append((port["port"], port.get("endPort", port["port"]), sources))
        for service in mocks.of_type("kubernetes:core/v1:Service"):
            spec = service.inputs["spec"]
            if spec.get("type") == "LoadBalancer":
                sources = tuple(spec.get("loadBalancerSourceRanges", ())) or ("0.0.0.0/0",)
                for port in spec["ports"]:
                    out.append((port["port"], port["port"], sources))
    return out


def test_nothing_open_to_the_world_unless_asked(cluster):
    cloud, spec, mocks = cluster
    rules = open_ports(cloud, mocks)
    assert rules, "no inbound rules recorded"
    for low, high, sources in rules:
        if any(source in WORLD for source in sources):
            assert (low, high) in ASKED_PORTS, f"{cloud}: port {low}-{high} open to the world"
    internal = {"self", "tagged nodes"}  # the cluster's own nodes, by security-group or network-tag reference
    ssh = [sources for low, high, sources in rules if low <= 22 <= high and not set(sources) <= internal]
    assert ssh and all(sources == (SSH_CIDR,) for sources in ssh), f"{cloud}: SSH reachable from {ssh}"


def test_every_resource_carries_the_cluster(cluster):
    cloud, spec, mocks = cluster
    for resource in mocks.resources:
        if resource.type.startswith(COMPONENT_PREFIX) or resource.type in UNTAGGABLE:
            continue
        inputs = resource.inputs
        metadata = reveal(inputs.get("metadata")) or {}
        candidates = (inputs.get("tags"), inputs.get("labels"), metadata.get("labels") if isinstance(metadata, dict) else None)
        tags = next((c for c in candidates if isinstance(c, dict)), None)
        assert isinstance(tags, dict) and tags.get("stix-cluster") == "train", f"{cloud}: {resource.type} {resource.name} untagged"
        if cloud != "kubernetes" or resource.type.endswith("StatefulSet"):
            assert tags.get("team") == "ml", f"{cloud}: {resource.name} lacks the task's labels"


def test_disk_size_and_spot_as_asked(cluster):
    cloud, spec, mocks = cluster
    if cloud == "aws":
        for i in mocks.of_type("aws:ec2/instance:Instance"):
            assert i.inputs["rootBlockDevice"]["volumeSize"] == 512 and i.inputs["instanceMarketOptions"]["marketType"] == "spot"
    elif cloud == "gcp":
        for i in mocks.of_type("gcp:compute/instance:Instance"):
            assert i.inputs["bootDisk"]["initializeParams"]["size"] == 512
            assert i.inputs["scheduling"]["provisioningModel"] == "SPOT"
    elif cloud == "azure":
        for vm in mocks.of_type("azure-native:compute:VirtualMachine"):
            assert vm.inputs["storageProfile"]["osDisk"]["diskSizeGB"] == 512 and vm.inputs["priority"] == "Spot"
    else:
        pod = mocks.one("kubernetes:apps/v1:StatefulSet").inputs["spec"]["template"]["spec"]
        assert pod["containers"][0]["resources"]["requests"]["ephemeral-storage"] == "512Gi"


def _plain_strings(value, path=""):
    if is_secret(value):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _plain_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _plain_strings(item, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def _unbase64(text: str) -> str:
    import base64
    import binascii

    try:
        return base64.b64decode(text, validate=True).decode(errors="replace")
    except (binascii.Error, ValueError):
        return ""


def test_no_secret_in_plain_text_inputs(cluster):
    cloud, spec, mocks = cluster
    private_keys = [open(f"{spec.host_key_dir}/host-{rank}").read().strip() for rank in range(spec.num_nodes)]
    for resource in mocks.resources:
        for path, text in _plain_strings(resource.inputs):
            for variant in (text, _unbase64(text)):
                assert "PRIVATE KEY" not in variant, f"{cloud}: {resource.name}{path} holds a private key in plain text"
            assert not any(key in text for key in private_keys), f"{cloud}: {resource.name}{path}"


def test_every_child_is_named_after_its_component(cluster):
    cloud, spec, mocks = cluster
    import re

    components = re.compile(r"^(net|vms|lb|bucket-\d+)(-|$)")
    for resource in mocks.resources:
        assert components.match(resource.name) or resource.type.startswith("pulumi:providers:"), resource.name
        assert spec.cluster not in resource.name, f"{resource.name}: logical names must not derive from user fields"


STORE_REGIONS = {"s3": ("aws", "us-west-2"), "gcs": ("gcp", "us-central1"), "azure": ("azure", "eastus")}


@pytest.fixture(params=sorted(STORE_REGIONS))
def storage_stack(request):
    """A persistent bucket's own stack (stix.engine.program.deploy_bucket): no cluster around it."""
    from stix.engine.program import bucket_outputs
    from stix.spec import BucketSpec

    store = request.param
    bucket = BucketSpec("ckpts-7", store, STORE_REGIONS[store][1])
    mocks = StrictMocks()
    outputs = run_program(lambda: bucket_outputs(bucket), mocks)
    return store, bucket, mocks, outputs


def test_storage_stack_resources_carry_the_bucket_and_its_own_provider(storage_stack):
    store, bucket, mocks, outputs = storage_stack
    cloud, region = STORE_REGIONS[store]
    providers = [r for r in mocks.resources if r.type.startswith("pulumi:providers:")]
    assert len(providers) == 1
    assert region in (providers[0].inputs.get("region"), providers[0].inputs.get("location"))
    for resource in mocks.resources:
        if resource.type.startswith(COMPONENT_PREFIX) or resource.type in UNTAGGABLE:
            continue
        tags = resource.inputs.get("tags") or resource.inputs.get("labels")
        assert isinstance(tags, dict) and tags.get("stix-bucket") == bucket.name, f"{store}: {resource.type} untagged"
        assert "stix-cluster" not in tags
        assert resource.provider and resource.provider.split("::")[-1].startswith(providers[0].name)
    assert outputs["name"] == bucket.name and outputs["store"] == store
    assert outputs["url"].startswith({"s3": "s3://", "gcs": "gs://", "azure": "https://"}[store])


def test_storage_stack_buckets_are_private(storage_stack):
    store, bucket, mocks, _ = storage_stack
    if store == "s3":
        block = mocks.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
        assert all(block[key] is True for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                                   "restrictPublicBuckets"))
        rule = mocks.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        assert rule.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    elif store == "gcs":
        made = mocks.one("gcp:storage/bucket:Bucket").inputs
        assert made["publicAccessPrevention"] == "enforced" and made["uniformBucketLevelAccess"] is True
        assert made["location"] == "US-CENTRAL1" and made["forceDestroy"] is False
    else:
        account = mocks.one("azure-native:storage:StorageAccount").inputs
        assert account["allowBlobPublicAccess"] is False and account["enableHttpsTrafficOnly"] is True
        assert account["minimumTlsVersion"] == "TLS1_2"
        container = mocks.one("azure-native:storage:BlobContainer").inputs
        assert container["publicAccess"] == "None" and container["containerName"] == bucket.name
        group = mocks.one("azure-native:resources:ResourceGroup").inputs
        assert group["location"] == "eastus"
