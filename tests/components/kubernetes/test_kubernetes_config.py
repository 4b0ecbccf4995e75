"""The kubernetes: config section reaching the Kubernetes components: the namespace of every object and
pod_config merged into the node pod."""

from __future__ import annotations

import pytest

from stix.compile import with_config
from stix.components.base import cloud_for
from stix.components.kubernetes.plan import merge_pod
from stix.config import EffectiveConfig
from stix.models.cloud_config import KubernetesConfig
from stix.models.config import StixConfig
from tests.components.mocks import StrictMocks, run_program

POD_CONFIG = {
    "metadata": {"labels": {"team": "research", "stix-cluster": "hijack"}, "annotations": {"owner": "ada"}},
    "spec": {
        "serviceAccountName": "trainer",
        "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "nodeSelector": {"pool": "a100", "skypilot.co/accelerator": "other"},
        "containers": [
            {"image": "evil:latest", "command": ["sleep", "inf"], "imagePullPolicy": "Always",
             "env": [{"name": "HF_HOME", "value": "/data/hf"}, {"name": "STIX_USER", "value": "root"}],
             "volumeMounts": [{"name": "data", "mountPath": "/data"}],
             "resources": {"limits": {"cpu": "1", "example.com/fpga": "1"}}},
            {"name": "sidecar", "image": "busybox"},
        ],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "datasets"}}],
    },
}


def configured(k8s_spec, **section):
    spec = k8s_spec(load_balancer_port=8888)
    return with_config(spec, EffectiveConfig(values=StixConfig(kubernetes=KubernetesConfig(**section))))


def deploy(spec):
    mocks = StrictMocks()
    run_program(lambda: cloud_for("kubernetes").deploy(spec), mocks)
    return mocks


def test_namespace_is_on_every_object_and_the_provider(k8s_spec):
    spec = configured(k8s_spec, namespace="ml-team")
    assert spec.k8s_namespace == "ml-team"
    mocks = deploy(spec)
    assert mocks.one("pulumi:providers:kubernetes").inputs["namespace"] == "ml-team"
    objects = [r for r in mocks.resources if r.type.startswith("kubernetes:")]
    assert {r.type for r in objects} >= {"kubernetes:core/v1:Secret", "kubernetes:apps/v1:StatefulSet",
                                         "kubernetes:core/v1:Service", "kubernetes:networking.k8s.io/v1:NetworkPolicy"}
    for resource in objects:
        assert resource.inputs["metadata"]["namespace"] == "ml-team", resource.name


def test_without_a_namespace_objects_take_the_providers_default(k8s_spec):
    mocks = deploy(k8s_spec())
    assert mocks.one("pulumi:providers:kubernetes").inputs["namespace"] == "default"
    assert "namespace" not in mocks.one("kubernetes:apps/v1:StatefulSet").inputs["metadata"]


def test_a_bad_namespace_is_refused():
    with pytest.raises(ValueError, match="namespace"):
        KubernetesConfig(namespace="Not_A_Namespace")


def test_pod_config_merges_into_the_node_pod_with_stix_winning_on_the_node_container(k8s_spec):
    spec = configured(k8s_spec, pod_config=POD_CONFIG)
    template = deploy(spec).one("kubernetes:apps/v1:StatefulSet").inputs["spec"]["template"]
    assert template["metadata"]["annotations"] == {"owner": "ada"}
    assert template["metadata"]["labels"]["team"] == "ml"  # the task's labels, as on every object
    assert template["metadata"]["labels"]["stix-cluster"] == "train"
    pod = template["spec"]
    assert pod["serviceAccountName"] == "trainer"
    assert pod["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["nodeSelector"] == {"pool": "a100", "skypilot.co/accelerator": "h100"}
    assert [c["name"] for c in pod["containers"]] == ["node", "sidecar"]
    node = pod["containers"][0]
    assert node["image"] == "nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04"
    assert node["command"][:2] == ["/bin/bash", "-c"]
    assert node["imagePullPolicy"] == "Always"
    env = {e["name"]: e["value"] for e in node["env"]}
    assert env["HF_HOME"] == "/data/hf" and env["STIX_USER"] == "stix"
    assert [m["name"] for m in node["volumeMounts"]] == ["keys", "data"]
    assert node["resources"]["limits"]["cpu"] == "32" and node["resources"]["limits"]["example.com/fpga"] == "1"
    assert [v["name"] for v in pod["volumes"]] == ["keys", "data"]


def test_merge_pod_rules():
    ours = {"spec": {"containers": [{"name": "node", "args": ["a"]}], "tolerations": [{"key": "x"}]}}
    merged = merge_pod({"spec": {"containers": [{"name": "other"}], "tolerations": [{"key": "y"}]}}, ours)
    assert [c["name"] for c in merged["spec"]["containers"]] == ["node", "other"]
    assert merged["spec"]["tolerations"] == [{"key": "y"}, {"key": "x"}]
    assert merge_pod({}, ours) == ours
