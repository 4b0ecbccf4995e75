"""The built-in pack on each cloud's components, through the real engine: the cluster's program recorded under
Pulumi's mocks, replayed in a scratch stack (stix.policy.replay) and previewed with the packs. The mutations are
the ones the component policy tests (test_policies.py) guard against, each caught by name."""

from __future__ import annotations

import dataclasses

import pulumi
import pytest

from stix.config import EffectiveConfig
from stix.policy import replay
from stix.policy.packs import PlanFacts, policy_run

CLOUDS = ["aws", "gcp", "azure", "kubernetes"]
TAG_HELPERS = {"aws": ("stix.components.aws.plan", "tags"), "gcp": ("stix.components.gcp.plan", "labels"),
               "azure": ("stix.components.azure.plan", "tags"), "kubernetes": ("stix.components.kubernetes.plan", "labels")}


@pytest.fixture
def check(stix_home, engine, tmp_path):
    """Record a spec's program (under whatever the test monkeypatched), replay it through the engine with stix's
    packs; the violations, by policy name."""
    policies = policy_run(EffectiveConfig(), None, tmp_path / "packs", PlanFacts())

    def run(spec, mutate=None):
        with pytest.MonkeyPatch.context() as patch:
            if mutate is not None:
                mutate(patch)
            recorded = replay.record(spec)
        scratch = tmp_path / "scratch"
        scratch.mkdir(exist_ok=True)
        found = replay.violations(spec, recorded, policies, scratch)
        assert not list(scratch.iterdir()), "the scratch home outlived the replay"
        assert not stix_home.exists(), "the replay wrote to stix's home"
        return found
    return run


def make_spec(cloud, spec_for, k8s_spec, **changes):
    if cloud == "kubernetes":
        return k8s_spec(load_balancer_port=8888, **changes)
    infra = {"aws": "aws/us-east-1", "gcp": "gcp/us-central1", "azure": "azure/eastus"}[cloud]
    accelerators = {"aws": "A100:8", "gcp": "A100:8", "azure": "A100-80GB:4"}[cloud]
    return spec_for(cloud, infra, accelerators, buckets=("train-data",), load_balancer_port=8888, **changes)


def names(violations, level="mandatory"):
    return {v.policy for v in violations if v.level == level}


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_unmutated_cluster_passes_every_mandatory_policy(cloud, check, spec_for, k8s_spec):
    found = check(make_spec(cloud, spec_for, k8s_spec))
    assert not [v.line() for v in found if v.mandatory]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_ssh_open_to_the_world_is_caught(cloud, check, spec_for, k8s_spec):
    spec = make_spec(cloud, spec_for, k8s_spec)
    found = check(dataclasses.replace(spec, ssh_cidrs=("0.0.0.0/0",)))
    assert names(found) == {"no-world-open-ports"}, [v.line() for v in found]
    hit = next(v for v in found if v.policy == "no-world-open-ports")
    assert "port 22 is open to 0.0.0.0/0" in hit.message and hit.pack == "stix-guardrails"
    assert hit.type and hit.resource and hit.resource != f"stix-{spec.cluster}"  # the offending resource, by name


def test_kubernetes_load_balancer_open_beyond_the_asked_port_is_caught(check, k8s_spec):
    spec = k8s_spec(load_balancer_port=9999)  # the balancer's port, not among the task's ports
    found = check(spec)
    assert "no-world-open-ports" in names(found), [v.line() for v in found]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_missing_cluster_tag_is_caught(cloud, check, spec_for, k8s_spec):
    module, helper = TAG_HELPERS[cloud]
    import importlib

    plan = importlib.import_module(module)
    original = getattr(plan, helper)

    def without_cluster(*args, **kwargs):
        return {k: v for k, v in original(*args, **kwargs).items() if k != "stix-cluster"}

    spec = make_spec(cloud, spec_for, k8s_spec)
    found = check(spec, lambda patch: patch.setattr(plan, helper, without_cluster))
    assert "resources-tagged-with-cluster" in names(found), [v.line() for v in found]
    assert all("stix-cluster=train" in v.message for v in found if v.policy == "resources-tagged-with-cluster")


@pytest.mark.parametrize("cloud", CLOUDS)
def test_no_secret_wrapper_is_caught(cloud, check, spec_for, k8s_spec):
    found = check(make_spec(cloud, spec_for, k8s_spec),
                  lambda patch: patch.setattr(pulumi.Output, "secret", staticmethod(pulumi.Output.from_input)))
    assert "no-plaintext-secrets" in names(found), [v.line() for v in found]
    assert all("is not a secret" in v.message for v in found if v.policy == "no-plaintext-secrets")


def test_an_unencrypted_aws_root_volume_is_caught(check, spec_for, k8s_spec):
    import pulumi_aws as aws

    original = aws.ec2.InstanceRootBlockDeviceArgs.__init__

    def unencrypted(self, *args, **kwargs):
        original(self, *args, **{**kwargs, "encrypted": False})

    found = check(make_spec("aws", spec_for, k8s_spec),
                  lambda patch: patch.setattr(aws.ec2.InstanceRootBlockDeviceArgs, "__init__", unencrypted))
    assert names(found) == {"disks-encrypted"}, [v.line() for v in found]


def test_a_planned_preview_lists_the_packs_violations(stix_home, engine, tmp_path, monkeypatch):
    """`stix preview --clouds aws` without credentials: the packs still check the plan, through the replay."""
    from stix import flows
    from stix.home import StixHome
    from stix.loader import load_pipeline_text
    from stix.session import Session

    monkeypatch.chdir(tmp_path)  # outside any stix project (the repository is one)
    stix_home.mkdir(parents=True)
    (stix_home / "config.yaml").write_text("policy:\n  max_gpus_per_cluster: 4\n"
                                           "  enforcement: {disks-encrypted: advisory}\n")
    task = load_pipeline_text("num_nodes: 2\nresources:\n  accelerators: A100:8\nrun: python train.py\n").tasks[0]
    report = flows.preview(Session(StixHome(stix_home)), flows.LaunchRequest(task, "train", clouds=("aws",)))
    assert report.planned
    blocking = [v for v in report.violations if v.mandatory]
    assert [(v.policy, v.type, v.resource) for v in blocking] == [
        ("max-gpus-per-cluster", "pulumi:pulumi:Stack", "stix-train")]
    assert "has 16 A100(s) (2 node(s) x 8); the limit is 4" in blocking[0].message
    assert not (stix_home / "state").exists() and not (stix_home / "clusters").exists()


def test_a_pack_that_fails_to_load_fails_the_replay(stix_home, engine, tmp_path, spec_for):
    from stix.errors import PolicyError

    pack = tmp_path / "project" / "policies" / "broken"
    pack.mkdir(parents=True)
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\nname: broken\nversion: 0.0.1\n")
    (pack / "__main__.py").write_text('raise RuntimeError("broken on purpose")\n')
    policies = policy_run(EffectiveConfig(), tmp_path / "project", tmp_path / "packs", PlanFacts())
    spec = spec_for("aws", "aws/us-east-1", "A100:8")
    with pytest.raises(PolicyError, match=r"a policy pack could not run \(the project's policies/broken\)"):
        replay.violations(spec, replay.record(spec), policies)
