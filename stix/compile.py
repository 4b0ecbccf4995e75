"""Task + placement -> ClusterSpec: the planner's side of the contract with the Pulumi program.

Pure: what comes from this machine (keys, the caller's address, pool hosts) is handed in as
ClusterInputs, made beforehand by stix.inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Optional

from pydantic import BaseModel

from stix.config import TASK_NOT_YET
from stix.containers import docker_image, node_container, vm_image
from stix.errors import PrerequisiteMissing, UsageError
from stix.home import StixHome
from stix.models.storage import Storage
from stix.models.task import Task
from stix.optimizer import Candidate
from stix.spec import ClusterSpec
from stix.storage.mounts import StorageMount

if TYPE_CHECKING:
    from stix.config import EffectiveConfig

RUNNABLE_TASK_FIELDS = {"name", "workdir", "num_nodes", "resources", "envs", "secrets", "setup", "run", "config"}
PLACEMENT_FIELDS = {"infra", "cloud", "region", "zone", "cpus", "memory", "accelerators", "instance_type", "use_spot",
                    "any_of", "ordered", "max_hourly_cost"}
"""Constraints the optimizer enforces on every cloud."""
RUNTIME_FIELDS = {"autostop", "job_recovery", "spot_recovery"}
"""Carried out by the node agent (autostop) or the managed-jobs controller (recovery), on every cloud."""
CLOUD_VM_FIELDS = {"disk_size", "disk_tier", "ports", "labels", "image_id"}
"""Honoured where nodes are machines of their own (Cloud.vm_fields)."""
IGNORED_FIELDS = {"metadata", "no_missing_accel_warnings", "is_image_managed", "requires_fuse"}
"""SkyPilot's private bookkeeping flags: accepted and ignored, since they change nothing that runs."""
NOT_YET = {
    "event_callback": "state-change callbacks",
    "pool": "worker pools",
    "service": "a service runs with `stix serve up TASK.yaml`",
    "managed_secrets": "no secret store; use secrets and --secret",
    "inputs": "data-transfer estimates",
    "outputs": "data-transfer estimates",
    "file_mounts_mapping": "SkyPilot's own file-mount translation",
    "volumes": "volumes",
    "volume_mounts": "volumes",
    "api_server_access": "stix has no API server",
    "ephemeral_storage": "deprecated; use disk_size",
    "local_disk": "local instance disks",
    "priority": "job priorities",
    "priority_class": "Kubernetes priority classes",
    "termination_hook": "termination hooks",
    "docker_login_config": "registry logins",
    "cluster_config_overrides": "provisioner overrides",
    "mount_options": "mount command options",
    "type": "MOUNT_CACHED presets; set config.mount_cached",
    "mount": "MOUNT options",
}
"""Why a field that validates cannot run yet, for the fields SkyPilot 0.14 added (shown in the refusal)."""


@dataclass(frozen=True)
class ClusterInputs:
    """What compile needs from this machine: made or found once per cluster, before compiling."""

    ssh_public_key: str
    node_root: str
    host_public_keys: tuple[str, ...] = ()
    host_key_dir: str = ""
    ssh_cidrs: tuple[str, ...] = ()
    pool_hosts: tuple[tuple[str, int, str, str], ...] = ()
    pool_identity_file: str = ""


def unsupported_fields(task: Task, cloud: Optional[str] = None) -> list[str]:
    """Fields that validate but cannot run yet (on `cloud`, once placed), in the user's spelling."""
    from stix.components.base import cloud_for

    out = [_refused(task, name) for name in sorted(task.model_fields_set) if name not in RUNNABLE_TASK_FIELDS
           and name not in IGNORED_FIELDS and name != "file_mounts" and getattr(task, name) not in (None, {}, [], False)]
    vm_fields = cloud is not None and cloud_for(cloud).vm_fields
    absolute = [dest for dest in (task.file_mounts or {}) if dest.startswith("/")]
    if cloud is not None and absolute and not vm_fields:
        out.append(f"file_mounts destination {absolute[0]!r} on the {cloud} cloud (its nodes share this "
                   f"machine's filesystem; use a path under ~)")
    elif cloud is not None and absolute and node_container(task.resources.image_id, cloud) is not None:
        out.append(f"file_mounts destination {absolute[0]!r} with image_id {task.resources.image_id} "
                   f"(the container sees only ~; use a path under ~)")
    runnable = PLACEMENT_FIELDS | RUNTIME_FIELDS | (CLOUD_VM_FIELDS if vm_fields else set())
    if cloud is not None and cloud_for(cloud).ports_reachable:
        runnable |= {"ports"}
    fields = task.resources.set_of_fields()
    if docker_image(task.resources.image_id) is not None:
        fields -= {"image_id"}  # docker:IMAGE runs setup and run in a container, on every cloud (stix.containers)
    considered = fields if cloud else fields - CLOUD_VM_FIELDS
    out += [_refused(task.resources, name, "resources.") + (f" on the {cloud} cloud" if name in CLOUD_VM_FIELDS else "")
            for name in sorted(considered - runnable - IGNORED_FIELDS)]
    for kind in ("any_of", "ordered"):
        for index, alternative in enumerate(getattr(task.resources, kind) or []):
            out += [_refused(alternative, name, f"resources.{kind}[{index}].")
                    for name in sorted(alternative.model_fields_set) if name in NOT_YET
                    and getattr(alternative, name) is not None]
    for destination, source in (task.file_mounts or {}).items():
        if isinstance(source, Storage):
            where = f"file_mounts[{destination!r}]."
            out += [_refused(source, name, where) for name in ("mount_options", "type") if getattr(source, name)]
            if source.config is not None and source.config.mount is not None:
                out.append(_refused(source.config, "mount", where + "config."))
    out += [f"config.{key} ({why})" for key, why in TASK_NOT_YET.items() if key in (task.config or {})]
    out += task.resources.foreign_clouds()
    recovery = task.resources.job_recovery or task.resources.spot_recovery
    strategy = recovery if isinstance(recovery, str) else getattr(recovery, "strategy", None)
    if strategy == "DYNAMIC_NODE_SET":
        out.append("resources.job_recovery strategy DYNAMIC_NODE_SET (FAILOVER and EAGER_NEXT_REGION work)")
    return out


def _refused(model: BaseModel, name: str, prefix: str = "") -> str:
    """A field as the user spells it (SkyPilot's private fields keep their '_'), with why, where known."""
    spelled = type(model).model_fields[name].alias or name
    return f"{prefix}{spelled}" + (f" ({NOT_YET[name]})" if name in NOT_YET else "")


def check_runnable(task: Task, cloud: Optional[str] = None) -> None:
    """Refuse, in one line, what validates but cannot run yet (before placement, then for the placed cloud)."""
    unsupported = unsupported_fields(task, cloud)
    if unsupported:
        raise UsageError(f"not supported yet: {', '.join(unsupported)}")


def check_prerequisites(home: StixHome, cloud: str, mounts: tuple[StorageMount, ...] = ()) -> None:
    """The cloud's provider plugin and the programs its nodes need on this machine; and the plugin of every
    other cloud whose store makes one of the cluster's buckets."""
    from stix.components.base import cloud_for, store_cloud

    chosen = cloud_for(cloud)
    needed = [chosen] + [owner for owner in (store_cloud(m.bucket.store) for m in mounts if m.managed)
                         if owner is not None and owner is not chosen]
    for owner in dict.fromkeys(needed):
        if owner.plugin is not None:
            from stix.engine.plugins import require_plugin

            require_plugin(home, owner.name, *owner.plugin)
    problem = chosen.missing_on_host()
    if problem:
        raise PrerequisiteMissing(problem)


def compile_spec(task: Task, cluster: str, chosen: Candidate, inputs: ClusterInputs,
                 mounts: tuple[StorageMount, ...] = (), config: Optional["EffectiveConfig"] = None) -> ClusterSpec:
    """The planner's whole decision as data: placement, sizes, ports, labels, keys, the cluster's own
    buckets (the non-persistent ones of the planned storage mounts, stix.storage.plan), and the placed
    cloud's config section (labels, network, security group, SSH user, namespace, pod_config)."""
    from stix.components.base import store_of
    from stix.storage.plan import cluster_buckets

    resources = task.resources
    autostop = resources.autostop
    spec = ClusterSpec(
        cluster=cluster,
        cloud=chosen.cloud,
        num_nodes=task.num_nodes,
        ssh_public_key=inputs.ssh_public_key,
        node_root=inputs.node_root,
        labels=dict(resources.labels or {}),
        instance_type=chosen.instance_type,
        region=chosen.region,
        zone=chosen.zone,
        price_per_node=chosen.price_per_node,
        accelerator=chosen.accelerator,
        accelerator_count=chosen.accelerator_count,
        vcpus=chosen.vcpus or 0.0,
        memory_gib=chosen.memory_gib or 0.0,
        use_spot=chosen.spot,
        disk_size_gb=resources.disk_size.gib if resources.disk_size is not None else 256,
        disk_tier=resources.disk_tier or "medium",
        image_id=vm_image(resolve_image(resources.image_id, chosen.region), chosen.cloud),
        ports=resources.ports.ranges if resources.ports is not None else (),
        ssh_cidrs=inputs.ssh_cidrs,
        host_public_keys=inputs.host_public_keys,
        host_key_dir=inputs.host_key_dir,
        autostop_down=bool(autostop and autostop.down),
        pool_hosts=inputs.pool_hosts,
        pool_identity_file=inputs.pool_identity_file,
        buckets=cluster_buckets(mounts, chosen.region, store_of(chosen.cloud)),
    )
    return with_config(spec, config)


def with_config(spec: ClusterSpec, config: Optional["EffectiveConfig"]) -> ClusterSpec:
    """spec with the placed cloud's config section applied: the config file's sections are named after the
    clouds (clouds without one, local and SSH pools, take nothing). Labels: the task's win over config's."""
    from stix.models.cloud_config import CloudConfig

    section = config.section(spec.cloud) if config is not None else None
    if section is None:
        return spec
    unsupported = section.unsupported()
    if unsupported:
        raise UsageError(f"not supported yet: config {', '.join(unsupported)}")
    if isinstance(section, CloudConfig) and section.use_internal_ips and not section.vpc_name:
        assert config is not None
        raise UsageError(f"config {spec.cloud}.use_internal_ips ({config.source(f'{spec.cloud}.use_internal_ips')}) "
                         f"needs {spec.cloud}.vpc_name: in the network stix creates, nodes without a public address "
                         f"cannot be reached (no NAT or VPN); name an existing VPC that this machine reaches")
    fields = section.spec_fields(spec.cluster)
    fields["labels"] = {**fields.get("labels", {}), **spec.labels}
    return replace(spec, **fields)


def resolve_image(image_id, region: str) -> str:
    """image_id as a string, or the entry for the placed region of a per-region mapping."""
    if image_id is None:
        return ""
    if isinstance(image_id, dict):
        if region not in image_id:
            raise UsageError(f"resources.image_id has no image for region {region}; it lists {', '.join(image_id)}")
        return image_id[region]
    return image_id
