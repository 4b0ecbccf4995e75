"""Azure components under strict Pulumi mocks: a 2-node GPU spot task with ports and labels."""

from __future__ import annotations

import base64

from stix.components.base import cloud_for
from stix.spec import ClusterInfo
from tests.components.conftest import SSH_CIDR
from tests.components.mocks import StrictMocks, is_secret, reveal, run_program


def deploy(spec):
    mocks = StrictMocks()
    return mocks, run_program(lambda: cloud_for("azure").deploy(spec), mocks)


def test_gpu_spot_cluster(spec_for):
    spec = spec_for("azure", "azure/eastus", "A100-80GB:4", buckets=("train-data",), load_balancer_port=8888)
    mocks, outputs = deploy(spec)
    assert mocks.one("pulumi:providers:azure-native").inputs["location"] == "eastus"
    vms = mocks.of_type("azure-native:compute:VirtualMachine")
    assert [v.inputs["vmName"] for v in vms] == ["train-head", "train-worker1"]
    for rank, vm in enumerate(vms):
        inputs = vm.inputs
        assert inputs["hardwareProfile"] == {"vmSize": "Standard_NC96ads_A100_v4"}
        assert (inputs["priority"], inputs["evictionPolicy"], inputs["billingProfile"]) == ("Spot", "Deallocate", {"maxPrice": -1})
        disk = inputs["storageProfile"]["osDisk"]
        assert (disk["diskSizeGB"], disk["managedDisk"]["storageAccountType"]) == (512, "Premium_LRS")
        assert inputs["storageProfile"]["imageReference"]["publisher"] == "microsoft-dsvm"
        profile = inputs["osProfile"]
        assert is_secret(profile), "custom data carries a private host key"
        profile = reveal(profile)
        assert profile["linuxConfiguration"]["disablePasswordAuthentication"] is True
        cloud_init = base64.b64decode(profile["customData"]).decode()
        assert spec.host_public_keys[rank] in cloud_init
        assert inputs["tags"]["stix-cluster"] == "train" and inputs["tags"]["project"] == "llm"

    rules = {r["name"]: r for r in mocks.one("azure-native:network:NetworkSecurityGroup").inputs["securityRules"]}
    assert rules["ssh"]["sourceAddressPrefixes"] == [SSH_CIDR] and rules["ssh"]["destinationPortRange"] == "22"
    assert rules["port-10020-10040"]["destinationPortRange"] == "10020-10040"
    account = mocks.one("azure-native:storage:StorageAccount").inputs
    assert account["allowBlobPublicAccess"] is False and account["minimumTlsVersion"] == "TLS1_2"
    balancer = mocks.one("azure-native:network:LoadBalancer").inputs
    assert balancer["probes"][0]["port"] == 8888 and balancer["loadBalancingRules"][0]["frontendPort"] == 8888
    assert len(balancer["backendAddressPools"][0]["loadBalancerBackendAddresses"]) == 2

    info = ClusterInfo.from_dict({"cluster": "train", "cloud": "azure", **outputs}, "/keys/id")
    assert info.head.ip.startswith("192.0.2.") and info.head.user == "stix"
    assert outputs["buckets"][0].endswith(".blob.core.windows.net/train-data")


def test_on_demand_has_no_spot_settings(spec_for):
    spec = spec_for("azure", "azure/eastus", "A100-80GB:4", use_spot=False)
    mocks, _ = deploy(spec)
    vm = mocks.of_type("azure-native:compute:VirtualMachine")[0].inputs
    assert vm["priority"] == "Regular" and "evictionPolicy" not in vm


def test_azure_container_names_follow_azure_rules():
    azure = cloud_for("azure")
    assert azure.bucket_name_problem("my-data-2") is None
    for bad in ("ab", "x" * 64, "My-Data", "-data", "data-", "a--b", "a_b", "a.b"):
        assert azure.bucket_name_problem(bad), bad


def test_azure_refs_carry_the_account_and_rclone_reaches_it(tmp_path):
    from stix.components.azure.plan import storage_account_name
    from stix.home import StixHome
    from stix.storage.mounts import BucketRef

    azure = cloud_for("azure")
    ref = azure.ref_for_uri("https://acct1.blob.core.windows.net/data/run-1")
    assert ref == BucketRef("azure", "data", "run-1", "acct1")
    assert ref.rclone_path == "stixazure_acct1:data/run-1"
    assert azure.managed_ref("ckpts").account == storage_account_name("ckpts")
    assert azure.rclone_remote(ref, StixHome(tmp_path)) == {"type": "azureblob", "account": "acct1", "env_auth": "true"}


def test_a_cluster_bucket_lives_in_the_cluster_resource_group(spec_for):
    spec = spec_for("azure", "azure/eastus", "A100-80GB:4", buckets=("train-data",))
    mocks = StrictMocks()
    run_program(lambda: cloud_for("azure").deploy(spec), mocks)
    assert len(mocks.of_type("azure-native:resources:ResourceGroup")) == 1  # the network's, none of the bucket's
    account = mocks.one("azure-native:storage:StorageAccount").inputs
    assert account["tags"]["stix-cluster"] == "train" and account["location"] == "eastus"
