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


REFUSED = [
    ({"resources": {"priority": 10}}, "resources.priority (job priorities)"),
    ({"resources": {"priority_class": "high"}}, "resources.priority_class (Kubernetes priority classes)"),
    ({"resources": {"local_disk": "nvme:100"}}, "resources.local_disk (local instance disks)"),
    ({"resources": {"termination_hook": {"command": "save.sh"}}}, "resources.termination_hook (termination hooks)"),
    ({"resources": {"ephemeral_storage": 100}}, "resources.ephemeral_storage (deprecated; use disk_size)"),
    ({"resources": {"volumes": [{"name": "d", "path": "/d"}]}}, "resources.volumes (volumes)"),
    ({"resources": {"_cluster_config_overrides": {"a": 1}}}, "resources._cluster_config_overrides (provisioner overrides)"),
    ({"resources": {"_docker_login_config": {"username": "u", "password": "p", "server": "s"}}},
     "resources._docker_login_config (registry logins)"),
    ({"resources": {"any_of": [{"infra": "local"}, {"infra": "aws", "priority": 1}]}},
     "resources.any_of[1].priority (job priorities)"),
    ({"event_callback": "echo"}, "event_callback (state-change callbacks)"),
    ({"pool": {"workers": 1}}, "pool (worker pools)"),
    ({"managed_secrets": ["db"]}, "managed_secrets (no secret store; use secrets and --secret)"),
    ({"inputs": {"s3://b": 1}}, "inputs (data-transfer estimates)"),
    ({"volumes": {"/d": "pvc"}}, "volumes (volumes)"),
    ({"volume_mounts": [{"path": "/d"}]}, "volume_mounts (volumes)"),
    ({"file_mounts_mapping": {"/a": "/b"}}, "file_mounts_mapping (SkyPilot's own file-mount translation)"),
    ({"api_server_access": True}, "api_server_access (stix has no API server)"),
    ({"file_mounts": {"~/c": {"source": "s3://b", "mode": "MOUNT_CACHED", "type": "DATASET_RO"}}},
     "file_mounts['~/c'].type (MOUNT_CACHED presets; set config.mount_cached)"),
    ({"file_mounts": {"~/c": {"source": "s3://b", "mount_options": "-o ro"}}},
     "file_mounts['~/c'].mount_options (mount command options)"),
    ({"file_mounts": {"~/c": {"source": "s3://b", "config": {"mount": {"read_only": True}}}}},
     "file_mounts['~/c'].config.mount (MOUNT options)"),
]


def test_each_field_skypilot_added_is_refused_by_name_until_it_runs():
    for spelled, refusal in REFUSED:
        assert unsupported_fields(Task.model_validate({**spelled, "run": "x"})) == [refusal], spelled


def test_skypilot_bookkeeping_flags_are_accepted_and_ignored():
    task = Task.model_validate({"api_server_access": False, "_metadata": {"a": 1}, "run": "x",
                                "resources": {"_no_missing_accel_warnings": True, "_is_image_managed": False,
                                              "_requires_fuse": True, "infra": "local"}})
    assert unsupported_fields(task) == [] and unsupported_fields(task, "local") == []


def test_up_refuses_priority_naming_the_field_and_validate_accepts_it(stix, stix_home, tmp_path):
    path = tmp_path / "task.yaml"
    path.write_text("resources: {infra: local, priority: 500}\nrun: 'true'\n")
    assert stix("validate", str(path)).returncode == 0
    for verb in ("up", "preview"):
        result = stix(verb, "-y", str(path)) if verb == "up" else stix(verb, str(path))
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == "stix: error: not supported yet: resources.priority (job priorities)"
    assert not list(stix_home.glob("clusters/*")) and not list(stix_home.glob("workspaces/*"))


def test_jobs_launch_refuses_a_job_group(stix, stix_home, tmp_path):
    path = tmp_path / "group.yaml"
    path.write_text("name: g\nexecution: parallel\n---\nname: a\nrun: 'true'\n---\nname: b\nrun: 'true'\n")
    assert stix("validate", str(path)).stdout.startswith(f"{path}: OK (job group 'g', 2 tasks)")
    result = stix("jobs", "launch", "-y", str(path))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith(f"stix: error: {path}: not supported yet: execution: parallel")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_container_task_refuses_absolute_file_mount_destinations():
    """The container mounts only the home, so setup and run would not see /data."""
    task = Task.model_validate({"resources": {"infra": "aws", "image_id": "docker:ubuntu:22.04"}, "run": "x",
                                "file_mounts": {"/data": "s3://bucket", "~/ok": "s3://bucket"}})
    assert unsupported_fields(task, "aws") == [
        "file_mounts destination '/data' with image_id docker:ubuntu:22.04 (the container sees only ~; use a path under ~)"]
    assert unsupported_fields(task) == []  # not placed yet
    at_home = Task.model_validate({"resources": {"infra": "aws", "image_id": "docker:ubuntu:22.04"}, "run": "x",
                                   "file_mounts": {"~/data": "s3://bucket"}})
    assert unsupported_fields(at_home, "aws") == []
    on_the_vm = Task.model_validate({"resources": {"infra": "aws"}, "run": "x", "file_mounts": {"/data": "s3://b"}})
    assert unsupported_fields(on_the_vm, "aws") == []
    on_kubernetes = Task.model_validate({"resources": {"infra": "kubernetes", "image_id": "docker:ubuntu:22.04"},
                                         "run": "x", "file_mounts": {"/data": "s3://bucket"}})
    assert not any("file_mounts" in line for line in unsupported_fields(on_kubernetes, "kubernetes"))
