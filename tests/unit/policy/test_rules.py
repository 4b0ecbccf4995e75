"""The built-in pack's resource checks, pure (stix.policy.rules), and the secret-path recording of its adapter."""

from __future__ import annotations

import base64
import json

from stix.policy import builtin, rules
from stix.policy.rules import UNKNOWN, ResourceView

KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


def view(type_: str, name: str = "r", parent: str = "", **props) -> ResourceView:
    return ResourceView(f"urn:pulumi:train::stix::{type_}::{name}", type_, name, props, parent)


def sg(*ingress) -> ResourceView:
    return view("aws:ec2/securityGroup:SecurityGroup", "net-sg", ingress=list(ingress))


# --- no-world-open-ports ---------------------------------------------------------------------------------


def test_aws_ssh_open_to_the_world_is_reported_against_the_group():
    group = sg({"fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]},
               {"fromPort": 8888, "toPort": 8888, "cidrBlocks": ["0.0.0.0/0"]},
               {"fromPort": 0, "toPort": 65535, "self": True})
    found = rules.world_open_ports([group], ((8888, 8888),))
    assert found == [(group.urn, "port 22 is open to 0.0.0.0/0; the task asked for 8888")]


def test_asked_ranges_and_narrow_sources_pass():
    group = sg({"fromPort": 10020, "toPort": 10040, "cidrBlocks": ["0.0.0.0/0"]},
               {"fromPort": 22, "toPort": 22, "cidrBlocks": ["198.51.100.7/32"]})
    assert rules.world_open_ports([group], ((10000, 10100),)) == []


def test_ipv6_world_is_the_world():
    group = sg({"fromPort": 22, "toPort": 22, "ipv6CidrBlocks": ["::/0"]})
    assert [m for _, m in rules.world_open_ports([group], ())] == ["port 22 is open to ::/0; the task asked for no ports"]


def test_gcp_firewall_source_ranges():
    rule = view("gcp:compute/firewall:Firewall", "net-ssh", sourceRanges=["0.0.0.0/0"],
                allows=[{"protocol": "tcp", "ports": ["22", "8000-8100"]}])
    found = rules.world_open_ports([rule], ((8000, 8100),))
    assert [m for _, m in found] == ["port 22 is open to 0.0.0.0/0; the task asked for 8000-8100"]
    egress = view("gcp:compute/firewall:Firewall", direction="EGRESS", sourceRanges=["0.0.0.0/0"], allows=[{}])
    assert rules.world_open_ports([egress], ()) == []


def test_azure_star_and_internet_tag():
    nsg = view("azure-native:network:NetworkSecurityGroup", "net-nsg", securityRules=[
        {"destinationPortRange": "22", "sourceAddressPrefix": "*", "direction": "Inbound", "access": "Allow"},
        {"destinationPortRange": "3389", "sourceAddressPrefix": "Internet"},
        {"destinationPortRange": "80", "sourceAddressPrefix": "*", "access": "Deny"},
        {"destinationPortRange": "443", "sourceAddressPrefixes": ["10.0.0.0/8"]},
    ])
    assert sorted(m for _, m in rules.world_open_ports([nsg], ())) == [
        "port 22 is open to *; the task asked for no ports", "port 3389 is open to Internet; the task asked for no ports"]


def test_kubernetes_load_balancer_without_source_ranges_and_network_policy_ip_block():
    service = view("kubernetes:core/v1:Service", "lb", spec={"type": "LoadBalancer", "ports": [{"port": 9000}]})
    ranged = view("kubernetes:core/v1:Service", "lb2", spec={"type": "LoadBalancer", "ports": [{"port": 9000}],
                                                            "loadBalancerSourceRanges": ["198.51.100.0/24"]})
    internal = view("kubernetes:core/v1:Service", "svc", spec={"type": "ClusterIP", "ports": [{"port": 9000}]})
    policy = view("kubernetes:networking.k8s.io/v1:NetworkPolicy", "np", spec={"ingress": [
        {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 22}]},
        {"from": [{"podSelector": {}}]}]})
    found = rules.world_open_ports([service, ranged, internal, policy], ())
    assert sorted(urn.rpartition("::")[2] for urn, _ in found) == ["lb", "np"]
    assert rules.world_open_ports([service, policy], ((9000, 9000), (22, 22))) == []


# --- resources-tagged-with-cluster ---------------------------------------------------------------------------


def test_tags_labels_and_metadata_labels_carry_the_cluster():
    good = [view("aws:ec2/instance:Instance", tags={"stix-cluster": "train"}),
            view("gcp:compute/instance:Instance", labels={"stix-cluster": "train"}),
            view("kubernetes:apps/v1:StatefulSet", metadata={"labels": {"stix-cluster": "train"}}),
            view("stix:aws:VmGroup"), view("pulumi:providers:aws"), view("gcp:compute/firewall:Firewall"),
            view("aws:ec2/vpc:Vpc", tags=UNKNOWN), view("pulumi:pulumi:Stack", plan={})]
    assert rules.untagged(good, "train") == []
    bad = [view("aws:ec2/instance:Instance", "a", tags={"team": "ml"}),
           view("gcp:compute/instance:Instance", "b", labels={"stix-cluster": "other"}),
           view("aws:ec2/vpc:Vpc", "c")]
    assert [(urn.rpartition("::")[2], message) for urn, message in rules.untagged(bad, "train")] == [
        ("a", "it is not tagged stix-cluster=train"),
        ("b", "it is not tagged stix-cluster=train (it has stix-cluster=other)"),
        ("c", "it is not tagged stix-cluster=train")]


def test_kubernetes_label_form_of_the_cluster_is_accepted():
    assert rules.label_form("my cluster!") == "my-cluster"
    assert rules.untagged([view("kubernetes:core/v1:Service", metadata={"labels": {"stix-cluster": "my-cluster"}})],
                          "my cluster!") == []


def test_local_dynamic_resources_carry_their_cluster_input():
    node = "pulumi-python:dynamic/local:Node"
    assert rules.untagged([view(node, cluster="train")], "train") == []
    assert [m for _, m in rules.untagged([view(node, "vms-head")], "train")] == ["its `cluster` input is None, not 'train'"]


def test_untaggable_lists_what_has_no_tags_field():
    assert "gcp:compute/firewall:Firewall" in rules.UNTAGGABLE and "aws:ec2/instance:Instance" not in rules.UNTAGGABLE


# --- disks-encrypted -----------------------------------------------------------------------------------------


def test_aws_root_and_ebs_volumes_must_be_encrypted():
    good = view("aws:ec2/instance:Instance", rootBlockDevice={"volumeSize": 512, "encrypted": True},
                ebsBlockDevices=[{"deviceName": "/dev/sdf", "encrypted": True}])
    assert rules.unencrypted_disks([good, view("aws:ec2/volume:Volume", encrypted=True)]) == []
    plain = view("aws:ec2/instance:Instance", "vms-0", rootBlockDevice={"volumeSize": 512},
                 ebsBlockDevices=[{"deviceName": "/dev/sdf", "encrypted": False}])
    found = rules.unencrypted_disks([plain, view("aws:ec2/instance:Instance", "vms-1"), view("aws:ec2/volume:Volume", "v")])
    assert [(u.rpartition("::")[2], m) for u, m in found] == [
        ("vms-0", "its root volume is not encrypted"), ("vms-0", "its EBS volume /dev/sdf is not encrypted"),
        ("vms-1", "its root volume is not encrypted"), ("v", "the EBS volume is not encrypted")]


def test_s3_bucket_needs_server_side_encryption_beside_it():
    parent = "urn:pulumi:train::stix::stix:aws:Bucket::bucket-0"
    bucket = view("aws:s3/bucket:Bucket", "bucket-0-bucket", parent, bucket="train-data")
    sse = view("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
               "bucket-0-encryption", parent, rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}])
    assert rules.unencrypted_disks([bucket, sse]) == []
    assert [m for _, m in rules.unencrypted_disks([bucket])] == ["the S3 bucket has no server-side encryption"]


def test_other_clouds_have_nothing_to_check():
    assert rules.unencrypted_disks([view("gcp:compute/instance:Instance", bootDisk={}),
                                    view("azure-native:compute:VirtualMachine")]) == []


# --- no-plaintext-secrets ------------------------------------------------------------------------------------


def test_private_key_plain_or_base64_outside_a_secret_is_found():
    encoded = base64.b64encode(KEY.encode()).decode()
    props = {"userData": encoded, "metadata": {"items": [{"key": "host", "value": KEY}]}, "name": "vms-0"}
    assert rules.plaintext_secrets(props) == ["userData", "metadata.items[0].value"]
    assert rules.plaintext_secrets(props, frozenset({("userData",), ("metadata", "items", 0)})) == []
    assert rules.plaintext_secrets({"publicKey": "ssh-ed25519 AAAA stix"}) == []


def _policy(name: str):
    return next(p for p in builtin.policies() if p.name == name)


def _analyze(raw: dict) -> list[str]:
    """What the pack's no-plaintext-secrets reports for a request's raw properties, through pulumi-policy's own
    deserialization wrapped as the pack's process wraps it."""
    from pulumi_policy import ResourceValidationArgs
    from pulumi_policy.deserialize import deserialize_properties

    props = builtin.recording_deserialize(deserialize_properties)(raw)
    assert props == deserialize_properties(raw)  # the wrapper changes nothing pulumi-policy hands the policies
    reported: list[str] = []
    args = ResourceValidationArgs("aws:ec2/instance:Instance", props, "urn:x", "vms-0", None, None, None, {})
    _policy("no-plaintext-secrets").validate(args, lambda message, urn=None: reported.append(message))
    return reported


def test_a_wrapped_key_passes_and_an_unwrapped_one_fails():
    wrapped = {"userData": {builtin.SECRET_SIG_KEY: builtin.SECRET_SIG, "value": KEY}, "name": "vms-0"}
    assert _analyze(json.loads(json.dumps(wrapped))) == []
    reported = _analyze({"userData": KEY, "name": "vms-0"})
    assert len(reported) == 1 and reported[0].startswith("private-key text in userData is not a secret")


def test_the_pack_wraps_pulumi_policys_deserialization_once():
    from pulumi_policy import policy as analyzer

    original = analyzer.deserialize_properties
    unwrapped = getattr(original, "__wrapped__", original)  # this process may serve the pack already (installed)
    analyzer.deserialize_properties = unwrapped
    try:
        builtin.record_secret_paths()
        builtin.record_secret_paths()
        assert analyzer.deserialize_properties.recording and analyzer.deserialize_properties.__wrapped__ is unwrapped
        analyzer.deserialize_properties({"k": {builtin.SECRET_SIG_KEY: builtin.SECRET_SIG, "value": "v"}})
        assert builtin.last_secret_paths() == frozenset({("k",)})
    finally:
        analyzer.deserialize_properties = original


def test_every_builtin_policy_is_named_once():
    names = [p.name for p in builtin.policies()]
    assert len(names) == len(set(names))
    assert {"no-world-open-ports", "resources-tagged-with-cluster", "no-plaintext-secrets", "disks-encrypted"} <= set(names)


def test_unknown_preview_values_reach_the_checks_as_unknown():
    """A preview's computed values (pulumi-policy's proxy raises on reading one) never make a check conclude."""
    from pulumi_policy.proxy import UNKNOWN_OBJECT_VALUE, unknown_checking_proxy

    props = unknown_checking_proxy({"tags": UNKNOWN_OBJECT_VALUE, "ingress": [{"fromPort": 22}], "name": "n"})
    plain = builtin._plain(props)
    assert plain == {"tags": UNKNOWN, "ingress": [{"fromPort": 22}], "name": "n"}
    assert rules.untagged([view("aws:ec2/vpc:Vpc", **plain)], "train") == []


# --- allowed-instance-families -------------------------------------------------------------------------------


def _placed(instance_type: str) -> rules.PlanView:
    return rules.PlanView(cluster="train", cloud="aws", region="us-east-1", instance_type=instance_type)


def test_allowed_families_match_the_family_exactly_not_its_siblings():
    assert rules.family_not_allowed(_placed("g5.xlarge"), ["g5"]) is None
    assert rules.family_not_allowed(_placed("a2-highgpu-1g"), ["a2"]) is None
    assert "family g5g" in rules.family_not_allowed(_placed("g5g.xlarge"), ["g5"])
    assert "family p4de" in rules.family_not_allowed(_placed("p4de.24xlarge"), ["p4d"])
    assert rules.family_not_allowed(_placed("p4d.24xlarge"), ["p4d"]) is None


def test_azure_standard_families_match_by_prefix():
    assert rules.family_not_allowed(_placed("Standard_NC24ads_A100_v4"), ["Standard_NC"]) is None
    assert rules.family_not_allowed(_placed("Standard_NC24ads_A100_v4"), ["Standard_NC24ads"]) is None
    assert rules.family_not_allowed(_placed("Standard_ND96asr_v4"), ["Standard_NC"]) is not None


def test_analyze_with_a_provider_keeps_the_resources_secret_paths():
    """The analyzer decodes the provider's properties after the resource's: the resource's marks still count."""
    from google.protobuf import json_format, struct_pb2
    from pulumi.runtime import proto
    from pulumi_policy import EnforcementLevel
    from pulumi_policy import policy as analyzer

    original = (analyzer.deserialize_properties, analyzer._PolicyAnalyzerServicer._get_provider_resource)
    try:
        builtin.record_secret_paths()
        servicer = analyzer._PolicyAnalyzerServicer(builtin.PACK_NAME, "0.0.1", [_policy("no-plaintext-secrets")],
                                                    EnforcementLevel.MANDATORY)

        def analyze(user_data) -> list[str]:
            properties = json_format.ParseDict({"userData": user_data, "name": "vms-0"}, struct_pb2.Struct())
            provider = proto.AnalyzerProviderResource(
                type="pulumi:providers:aws", name="default", urn="urn:p",
                properties=json_format.ParseDict({"region": "us-east-1"}, struct_pb2.Struct()))
            request = proto.AnalyzeRequest(type="aws:ec2/instance:Instance", properties=properties, urn="urn:x",
                                           name="vms-0", provider=provider)
            return [d.message for d in servicer.Analyze(request, None).diagnostics]

        assert analyze({builtin.SECRET_SIG_KEY: builtin.SECRET_SIG, "value": KEY}) == []
        reported = analyze(KEY)
        assert len(reported) == 1 and "private-key text in userData is not a secret" in reported[0]
    finally:
        analyzer.deserialize_properties, analyzer._PolicyAnalyzerServicer._get_provider_resource = original
