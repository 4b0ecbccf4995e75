"""Resource override flags over a loaded task (SkyPilot's Task.set_resources_override)."""

from __future__ import annotations

import pytest

from stix.errors import UsageError
from stix.models.task import Task
from stix.models.values import Accelerator, Infra
from stix.overrides import ResourceOverrides, apply_overrides, check_job_demand


def task(**config) -> Task:
    return Task.model_validate(config)


def test_no_flags_is_the_same_task():
    original = task(run="x", resources={"cpus": 2})
    assert apply_overrides(original, ResourceOverrides()) is original
    assert apply_overrides(original, None) is original


def test_each_flag_replaces_its_field_and_the_original_is_untouched():
    original = task(run="x", num_nodes=1, resources={"accelerators": "T4:1", "cpus": 2, "memory": "8+", "use_spot": False,
                                                     "disk_size": 100, "disk_tier": "low", "ports": 80})
    out = apply_overrides(original, ResourceOverrides(
        gpus="A100:8", cpus="4+", memory="32", num_nodes=3, use_spot=True, instance_type="p4d.24xlarge",
        image_id="docker:ubuntu", disk_size=512, disk_tier="high", ports=("8080", "9000-9010")))
    r = out.resources
    assert r.accelerators.choices == (Accelerator("A100", 8.0),)
    assert (r.cpus.value, r.cpus.at_least) == (4.0, True)
    assert (r.memory.gib, r.memory.at_least) == (32.0, False)
    assert out.num_nodes == 3 and r.use_spot is True and r.instance_type == "p4d.24xlarge"
    assert r.image_id == "docker:ubuntu" and r.disk_size.gib == 512 and r.disk_tier == "high"
    assert r.ports.ranges == ((8080, 8080), (9000, 9010))
    assert original.resources.accelerators.choices == (Accelerator("T4", 1.0),) and original.num_nodes == 1
    assert out.to_config()["resources"]["accelerators"] == "A100:8"  # written back as typed


def test_infra_replaces_the_legacy_cloud_region_zone():
    out = apply_overrides(task(resources={"cloud": "aws", "region": "us-east-1"}), ResourceOverrides(infra="gcp/us-central1"))
    r = out.resources
    assert r.infra == Infra("gcp", "us-central1") and (r.cloud, r.region, r.zone) == (None, None, None)
    assert r.placement.cloud == "gcp"


def test_alternatives_that_set_a_field_get_the_flag_and_the_others_inherit_it():
    out = apply_overrides(task(resources={"cpus": 2, "any_of": [{"accelerators": "T4:1", "infra": "aws"},
                                                                {"cloud": "gcp", "accelerators": "L4:1"}, {"cpus": 8}]}),
                          ResourceOverrides(gpus="H100:8", infra="local", cpus="16"))
    first, second, third = out.resources.any_of
    assert out.resources.accelerators.choices == (Accelerator("H100", 8.0),)
    assert first.accelerators.choices == second.accelerators.choices == (Accelerator("H100", 8.0),)
    assert first.infra == second.infra == Infra("local") and second.cloud is None
    assert third.accelerators is None and third.infra is None  # inherits the base's (overridden) values
    assert third.cpus.value == 16 and out.resources.accelerator_choices() == [Accelerator("H100", 8.0)] * 3


def test_ordered_alternatives_too():
    out = apply_overrides(task(resources={"ordered": [{"accelerators": "A100:1"}, {"accelerators": "V100:1"}]}),
                          ResourceOverrides(gpus="L4:2"))
    assert [alt.accelerators.choices[0] for alt in out.resources.ordered] == [Accelerator("L4", 2.0)] * 2


def test_none_clears_a_field():
    out = apply_overrides(task(resources={"accelerators": "T4:1", "infra": "aws", "instance_type": "g4dn.xlarge"}),
                          ResourceOverrides(gpus="none", infra="None", instance_type="none"))
    assert out.resources.accelerators is None and out.resources.infra is None and out.resources.instance_type is None


def test_none_clears_the_disk_tier_as_it_does_every_other_field():
    out = apply_overrides(task(resources={"disk_tier": "high"}), ResourceOverrides(disk_tier=" None "))
    assert out.resources.disk_tier is None


@pytest.mark.parametrize("flags, message", [
    (dict(gpus="A100:x"), "--gpus 'A100:x': accelerator count for A100 must be a number, got 'x'"),
    (dict(gpus="B300:8"), "--gpus 'B300:8': unknown accelerator 'B300'"),
    (dict(infra="aws/a/b/c"), "--infra 'aws/a/b/c': infra 'aws/a/b/c' has too many parts"),
    (dict(infra="lcoal"), "--infra 'lcoal': unknown cloud 'lcoal'; did you mean 'local'?"),
    (dict(cpus="four"), "--cpus 'four': cpus 'four' is not a valid size"),
    (dict(memory="-3"), "--memory '-3': memory '-3' is not a valid size"),
    (dict(disk_size=0), "--disk-size '0': disk_size must be positive"),
    (dict(disk_tier="fastest"), "--disk-tier 'fastest': unknown disk tier 'fastest'"),
    (dict(ports=("80", "70000")), "--ports '80 70000': port 70000 is outside 1-65535"),
    (dict(num_nodes=0), "--num-nodes 0: must be at least 1"),
])
def test_bad_values_name_the_flag(flags, message):
    with pytest.raises(UsageError) as raised:
        apply_overrides(task(run="x"), ResourceOverrides(**flags))
    assert raised.value.message.startswith(message), raised.value.message


def test_exec_takes_only_what_sizes_a_job():
    check_job_demand(ResourceOverrides(gpus="A100:1", cpus="2", memory="4", num_nodes=2))
    with pytest.raises(UsageError) as raised:
        check_job_demand(ResourceOverrides(infra="aws", use_spot=False, ports=("80",)))
    assert raised.value.message == ("--infra, --use-spot, --ports change the cluster, which `stix launch` does; "
                                    "stix exec takes only --gpus, --cpus, --memory and --num-nodes")


def test_an_existing_cluster_as_it_is_and_placement_flags_replace_its_placement():
    from stix.overrides import cluster_as_it_is
    from stix.spec import ClusterSpec

    spec = ClusterSpec(cluster="dev", cloud="aws", num_nodes=2, ssh_public_key="k", node_root="", labels={"team": "ml"},
                       instance_type="p4d.24xlarge", region="us-east-1", zone="us-east-1a", accelerator="A100",
                       accelerator_count=8, use_spot=True, disk_size_gb=512, disk_tier="high", image_id="ami-1",
                       ports=((8080, 8080),))
    kept = cluster_as_it_is(spec)
    r = kept.resources
    assert kept.num_nodes == 2 and kept.run is None
    assert r.infra == Infra("aws", "us-east-1", "us-east-1a") and r.instance_type == "p4d.24xlarge"
    assert r.accelerators.choices == (Accelerator("A100", 8.0),) and r.use_spot is True
    assert (r.disk_size.gib, r.disk_tier, r.image_id, r.labels, r.ports.ranges) == (512, "high", "ami-1", {"team": "ml"},
                                                                                    ((8080, 8080),))
    moved = apply_overrides(cluster_as_it_is(spec, ResourceOverrides(gpus="H100:8")), ResourceOverrides(gpus="H100:8"))
    assert moved.resources.infra is None and moved.resources.instance_type is None and moved.resources.use_spot is None
    assert moved.resources.accelerators.choices == (Accelerator("H100", 8.0),) and moved.resources.disk_size.gib == 512


def test_an_existing_cluster_keeps_compiled_defaults_unset():
    from stix.overrides import cluster_as_it_is
    from stix.spec import ClusterSpec

    r = cluster_as_it_is(ClusterSpec(cluster="dev", cloud="local", num_nodes=1, ssh_public_key="k", node_root="")).resources
    assert r.disk_size is None and r.disk_tier is None and r.ports is None and r.image_id is None and r.labels is None


def test_an_existing_cluster_as_it_is_takes_the_tasks_own_fields_through_the_tasks_validators():
    from pydantic import ValidationError

    from stix.overrides import cluster_as_it_is
    from stix.spec import ClusterSpec

    spec = ClusterSpec(cluster="dev", cloud="local", num_nodes=2, ssh_public_key="k", node_root="")
    out = cluster_as_it_is(spec, None, run=7, envs={"A": "1"}, secrets={"TOKEN": "s"})
    assert (out.run, out.envs, out.secrets, out.num_nodes) == ("7", {"A": "1"}, {"TOKEN": "s"}, 2)
    with pytest.raises(ValidationError):
        cluster_as_it_is(spec, None, run="x", envs={"1A": "v"})
