"""Kubernetes components under strict Pulumi mocks: a 2-node GPU task with ports and labels."""

from __future__ import annotations

from stix.components.base import cloud_for
from stix.spec import ClusterInfo
from tests.components.conftest import SSH_CIDR
from tests.components.mocks import StrictMocks, is_secret, reveal, run_program


def deploy(spec):
    mocks = StrictMocks()
    return mocks, run_program(lambda: cloud_for("kubernetes").deploy(spec), mocks)


def test_gpu_statefulset(k8s_spec):
    spec = k8s_spec(load_balancer_port=8888)
    assert (spec.instance_type, spec.price_per_node, spec.region) == ("32CPU--128GB--8H100", 0.0, "my-context")
    mocks, outputs = deploy(spec)
    assert mocks.one("pulumi:providers:kubernetes").inputs["context"] == "my-context"
    statefulset = mocks.one("kubernetes:apps/v1:StatefulSet").inputs
    assert statefulset["spec"]["replicas"] == 2 and statefulset["spec"]["serviceName"] == "train-nodes"
    pod = statefulset["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"skypilot.co/accelerator": "h100"}
    container = pod["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "32", "memory": "128Gi", "ephemeral-storage": "512Gi",
                                                "nvidia.com/gpu": "8"}
    assert container["readinessProbe"]["tcpSocket"]["port"] == 22
    assert [p["containerPort"] for p in container["ports"]] == [22, 8888, 10020]
    assert pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert statefulset["metadata"]["labels"]["team"] == "ml"

    secret = mocks.one("kubernetes:core/v1:Secret").inputs
    assert is_secret(secret["stringData"])
    keys = reveal(secret["stringData"])
    assert set(keys) == {"authorized_keys", "host-0", "host-1"} and "PRIVATE KEY" in keys["host-1"]

    services = {s.name: s.inputs for s in mocks.of_type("kubernetes:core/v1:Service")}
    assert services["net-headless"]["spec"]["clusterIP"] == "None"
    for rank in (0, 1):
        ssh = services[f"vms-ssh-{rank}"]["spec"]
        assert ssh["type"] == "LoadBalancer" and ssh["loadBalancerSourceRanges"] == [SSH_CIDR]
        assert ssh["selector"] == {"statefulset.kubernetes.io/pod-name": f"train-{rank}"}
    assert services["lb-service"]["spec"]["ports"][0]["port"] == 8888

    policy = mocks.one("kubernetes:networking.k8s.io/v1:NetworkPolicy").inputs["spec"]
    ssh_rule = next(rule for rule in policy["ingress"] if rule.get("ports", [{}])[0].get("port") == 22)
    assert ssh_rule["from"] == [{"ipBlock": {"cidr": SSH_CIDR}}]

    info = ClusterInfo.from_dict({"cluster": "train", "cloud": "kubernetes", **outputs}, "/keys/id")
    assert [n.rank for n in info.nodes] == [0, 1] and info.head.ip.startswith("192.0.2.")
    assert outputs["endpoint"].endswith(":8888")


def test_spot_is_not_offered_on_kubernetes(tmp_path):
    import pytest

    from stix.optimizer import NoFeasiblePlacement
    from tests.components.conftest import cloud_spec

    with pytest.raises(NoFeasiblePlacement):
        cloud_spec(tmp_path, "kubernetes", "k8s", "H100:8", spot=True)
