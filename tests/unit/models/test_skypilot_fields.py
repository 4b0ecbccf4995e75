"""Every field path of SkyPilot 0.14's task, resources, storage, service and job-group schemas is a field of stix's.

The paths are test data (tests/data/skypilot_field_paths.txt), read from SkyPilot's schema source; this walks stix's
pydantic models along each one, so removing or renaming a field of stix's fails here.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from stix.loader import load_pipeline_text
from stix.models.job_group import JobGroup
from stix.models.task import Task

PATHS_FILE = Path(__file__).resolve().parents[2] / "data" / "skypilot_field_paths.txt"
GROUPS = ("task", "resources", "storage", "service", "job group")


def read_paths() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    current = None
    for line in PATHS_FILE.read_text().splitlines():
        if line.startswith("# ") and line[2:] in GROUPS:
            current = groups.setdefault(line[2:], [])
        elif line and not line.startswith("#"):
            assert current is not None, f"{line!r} comes before any group header"
            current.append(line)
    return groups


PATHS = read_paths()
CASES = [(group, path) for group, paths in PATHS.items() for path in paths]


def _flatten(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [a for arg in typing.get_args(annotation) for a in _flatten(arg)]
    if origin is typing.Annotated:
        # A parsed field (stix.models.resources._parsed) is walked as the spelling it accepts.
        base, *metadata = typing.get_args(annotation)
        spelled = [m.json_schema_input_type for m in metadata if getattr(m, "json_schema_input_type", None) is not None]
        # Its core type is Any (the record is built by a validator), so only the spelling says what is below it.
        return [a for arg in (spelled or [base]) for a in _flatten(arg)]
    return [annotation]


def _step(annotation: Any, part: str) -> list[Any]:
    """What `part` leads to from a value of this type; empty when the type has no such key."""
    if annotation is Any:
        return [Any]  # a free mapping (config, _cluster_config_overrides): anything below it is accepted
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            if part in (name, info.alias):
                return _flatten(info.annotation)
        return []
    origin = typing.get_origin(annotation)
    if origin is dict:
        return _flatten(typing.get_args(annotation)[1])
    if origin is list and part == "*":
        return _flatten(typing.get_args(annotation)[0])
    return []


def walk(root: type[BaseModel], path: str) -> list[Any]:
    """The types a dotted path reaches from the root model ('*' is any key or any list item)."""
    reached: list[Any] = [root]
    for part in path.split("."):
        reached = [found for annotation in reached for found in _step(annotation, part)]
        if not reached:
            return []
    return reached


def test_the_list_names_its_source_and_covers_every_schema():
    first = PATHS_FILE.read_text().splitlines()[0]
    assert "sky/utils/schemas.py" in first and "commit 00052dfe0d132c5ad6aa9a175572b0695f747c80" in first
    assert set(PATHS) == set(GROUPS)
    assert len(CASES) > 250
    assert len({path for _, path in CASES}) == len(CASES) - len(set(PATHS["job group"]) & set(PATHS["task"]))


@pytest.mark.parametrize("group, path", CASES, ids=[f"{g}:{p}" for g, p in CASES])
def test_stix_has_the_field(group, path):
    root = JobGroup if group == "job group" else Task
    assert walk(root, path), f"{path}: not a field of stix's {root.__name__} model"


@pytest.mark.parametrize("path", ["resources.no_such_field", "resources.autostop.no_such_field",
                                  "file_mounts.*.config.mount_cached.no_such_field", "service.pool.no_such_field",
                                  "no_such_field", "num_nodes.x", "envs.*.x"])
def test_the_walk_refuses_what_stix_lacks(path):
    """The check is not vacuous: a path stix's models do not have is found missing."""
    assert walk(Task, path) == []


def test_a_task_using_every_new_field_validates():
    """The fields SkyPilot added since stix's first schema, in one file, with values as SkyPilot documents them."""
    text = """
name: all-new
event_callback: echo done
pool: {workers: 2}
secrets: [HF_TOKEN]
managed_secrets: [db-pass, {api-key: {mount_path: /secrets/key}}]
inputs: {s3://in: 10}
outputs: {s3://out: 1.5}
file_mounts_mapping: {/a: /b}
volumes: {/mnt/data: my-pvc, /mnt/cache: {size: 100Gi, type: k8s-pvc, config: {access_mode: ReadWriteOnce}}}
volume_mounts: [{path: /mnt/data, volume_name: my-pvc, is_ephemeral: false, volume_config: {cloud: kubernetes}}]
api_server_access: false
_metadata: {git_commit: abc}
config: {hooks: [{run: echo bye, events: [stop], timeout: 60}]}
resources:
  priority: -1000
  priority_class: high
  local_disk: nvme:1000
  ephemeral_storage: 100GB
  volumes: [{name: data, path: /data, disk_size: 100Gi, disk_tier: high, auto_delete: true, attach_mode: read_only}]
  accelerator_args: {runtime_version: tpu-vm-base, tpu_vm: true, gcp_queued_resource: false, tpu_name: t}
  job_recovery: {strategy: FAILOVER, max_restarts_on_errors: 3, recover_on_exit_codes: [33, 34]}
  autostop: {idle_minutes: 10, wait_for: none, hook: echo bye, hook_timeout: 300}
  _no_missing_accel_warnings: true
  _docker_login_config: {username: u, password: hunter2, server: nvcr.io}
  _is_image_managed: false
  _requires_fuse: true
  _cluster_config_overrides: {provider: {x: 1}}
  any_of: [{priority: 10, infra: aws}, {infra: gcp}]
file_mounts:
  /ckpt:
    source: s3://bucket
    mode: MOUNT_CACHED
    type: model_checkpoint_ro
    mount_options: "--allow-other"
    config: {mount: {read_only: true, hf_mount_args: [--cache-dir, /nvme]}}
service:
  readiness_probe: {path: /health, initial_delay_seconds: 1.5, timeout_seconds: 2, endpoint_probe_interval_seconds: 5,
                    consecutive_failure_threshold_timeout: 60, post_data: {q: 1}, headers: {X-Key: v}}
  load_balancer: {stream_timeout_seconds: 600}
  replica_policy: {min_replicas: 1, max_replicas: 3, target_qps_per_replica: {"H100:1": 10, A100: 5},
                   spot_placer: DYNAMIC_FALLBACK, upscale_delay_seconds: 0.5, downscale_delay_seconds: 30}
  ports: 8080
run: echo hi
"""
    task = load_pipeline_text(text).tasks[0]
    assert task.resources.priority == -1000 and task.resources.any_of[0].priority == 10
    assert task.secrets == {"HF_TOKEN": None} and task.required_unset() == ["--secret HF_TOKEN"]
    assert task.file_mounts["/ckpt"].type == "MODEL_CHECKPOINT_RO"
    assert task.service.replica_policy.spot_placer == "dynamic_fallback"
    assert task.metadata == {"git_commit": "abc"} and task.to_config()["_metadata"] == {"git_commit": "abc"}
    login = task.resources.docker_login_config
    assert "hunter2" not in repr(task) and "hunter2" not in str(task.to_config())
    assert login.password.get_secret_value() == "hunter2"


def test_a_pool_service_needs_no_probe_but_a_service_does():
    assert load_pipeline_text("service: {pool: {workers: 2}}\nrun: x\n").tasks[0].service.pool.workers == 2
    assert load_pipeline_text("service: {workers: 2}\nrun: x\n").tasks[0].service.workers == 2


def test_job_group_header():
    text = """name: rl
execution: parallel
placement: same_infra
primary_tasks: [trainer]
termination_delay: {default: 30s, data: 1m}
---
name: trainer
run: python train.py
---
name: data
run: python serve.py
"""
    pipeline = load_pipeline_text(text)
    assert pipeline.is_job_group and pipeline.name == "rl" and [t.name for t in pipeline.tasks] == ["trainer", "data"]
    assert pipeline.header.primary_tasks == ["trainer"] and pipeline.header.termination_delay["data"] == "1m"
    assert pipeline.header.placement == "SAME_INFRA"
    serial = load_pipeline_text("name: p\nexecution: serial\n---\nrun: a\n---\nrun: b\n")
    assert not serial.is_job_group and serial.name == "p" and len(serial.tasks) == 2


def test_a_registry_password_is_never_echoed():
    from stix.errors import TaskError

    with pytest.raises(TaskError) as info:
        load_pipeline_text("resources:\n  _docker_login_config: {username: u, password: 987654321, server: s}\nrun: x\n")
    assert "987654321" not in str(info.value) and "password must be a string" in str(info.value)
