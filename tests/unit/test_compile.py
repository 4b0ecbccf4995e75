"""compile_spec with planned storage mounts, and a bad mount refused by `stix up` before anything exists."""

from __future__ import annotations

from stix.catalog.load import load_catalog
from stix.compile import compile_spec, unsupported_fields
from stix.home import StixHome
from stix.inputs import cluster_inputs
from stix.models.task import Task
from stix.optimizer import HostLimits, optimize
from stix.spec import BucketSpec, ClusterSpec
from stix.storage.plan import plan_mounts

STORAGE = {"~/scratch": {"name": "scratch-1", "persistent": False}, "~/keep": {"name": "keep-1"},
           "~/public": "s3://public-data"}


def test_the_cluster_stack_makes_the_non_persistent_buckets_only(tmp_path):
    task = Task.model_validate({"resources": {"infra": "aws/us-east-1", "cpus": "2+"}, "file_mounts": STORAGE})
    assert unsupported_fields(task, "aws") == []
    env = {"HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}
    mounts = plan_mounts(task, "aws", env)
    chosen = optimize(task.resources, 1, load_catalog(), ["aws"], host=HostLimits(2, 8)).chosen
    inputs = cluster_inputs(StixHome(tmp_path / "home"), "c", chosen, 1, ("198.51.100.7/32",))
    spec = compile_spec(task, "c", chosen, inputs, mounts)
    assert spec.buckets == (BucketSpec("scratch-1", "s3", "us-east-1"),)
    assert ClusterSpec.from_dict(spec.to_dict()).buckets == spec.buckets


def test_up_refuses_a_store_that_is_not_enabled_before_making_anything(stix, stix_home, tmp_path):
    path = tmp_path / "task.yaml"
    path.write_text("resources: {infra: local}\nfile_mounts:\n  ~/ckpt: {name: ckpts, store: s3}\nrun: 'true'\n")
    result = stix("up", "-y", str(path), HOME=str(tmp_path / "empty-home"))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith("stix: error: file_mounts['~/ckpt']: store s3 is not enabled (no "
                                            "credentials"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list(stix_home.glob("clusters/*")) and not list(stix_home.glob("workspaces/*"))
