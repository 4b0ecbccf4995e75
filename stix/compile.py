"""Task -> ClusterSpec: the planner's side of the contract with the Pulumi program."""

from __future__ import annotations

from typing import Optional

from stix.errors import PrerequisiteMissing, UsageError
from stix.home import StixHome
from stix.keys import ensure_cluster_key, ensure_host_keys
from stix.models import values
from stix.models.task import Task
from stix.optimizer import Placement
from stix.spec import ClusterSpec

RUNNABLE_CLOUDS = ("local", "aws", "gcp", "azure", "kubernetes")
RUNNABLE_TASK_FIELDS = {"name", "workdir", "num_nodes", "resources", "envs", "secrets", "setup", "run"}
PLACEMENT_FIELDS = {"infra", "cloud", "region", "zone", "cpus", "memory", "accelerators", "instance_type", "use_spot",
                    "any_of", "ordered", "max_hourly_cost"}
"""Constraints the optimizer enforces on every cloud (the local node is the host: no GPUs, no spot)."""
RUNTIME_FIELDS = {"autostop"}
"""Carried out by the node agent, on every cloud."""
CLOUD_VM_FIELDS = {"disk_size", "disk_tier", "ports", "labels", "image_id"}
"""Honoured by the cloud components; a local node has no disk, ports or image of its own."""


def unsupported_fields(task: Task, cloud: Optional[str] = None) -> list[str]:
    """Fields that validate but cannot run yet (on `cloud`, once placed), in the user's spelling."""
    out = [name for name in sorted(task.model_fields_set) if name not in RUNNABLE_TASK_FIELDS
           and name != "file_mounts" and getattr(task, name) not in (None, {}, [])]
    if any(not isinstance(source, str) or "://" in source for source in (task.file_mounts or {}).values()):
        out.append("file_mounts (buckets and storage objects; local paths work)")
    if cloud == "local":
        absolute = [dest for dest in (task.file_mounts or {}) if dest.startswith("/")]
        if absolute:
            out.append(f"file_mounts destination {absolute[0]!r} on the local cloud (its nodes share this "
                       f"machine's filesystem; use a path under ~)")
    if task.workdir is not None and not isinstance(task.workdir, str):
        out.append("workdir (git url/ref)")
    runnable = PLACEMENT_FIELDS | RUNTIME_FIELDS | (CLOUD_VM_FIELDS if cloud not in (None, "local") else set())
    considered = task.resources.set_of_fields() if cloud else task.resources.set_of_fields() - CLOUD_VM_FIELDS
    out += [f"resources.{name}" + (f" on the {cloud} cloud" if cloud == "local" and name in CLOUD_VM_FIELDS else "")
            for name in sorted(considered - runnable)]
    return out


def check_runnable(task: Task, cloud: Optional[str] = None) -> None:
    """Refuse, in one line, what validates but cannot run yet (before placement, then for the placed cloud)."""
    unsupported = unsupported_fields(task, cloud)
    if unsupported:
        raise UsageError(f"not supported yet: {', '.join(unsupported)}")


def choose_placement(task: Task) -> Placement:
    from stix.placement import place

    placement = place(task)
    check_runnable(task, placement.chosen.cloud)
    return placement


def check_prerequisites(home: StixHome, cloud: str) -> None:
    if cloud != "local":
        from stix.engine.plugins import require_plugin

        require_plugin(home, cloud)
    if cloud == "local":
        from stix.components.local import sshd

        try:
            sshd.find_sshd()
        except sshd.NodeProcessError as exc:
            raise PrerequisiteMissing(str(exc)) from None


def compile_spec(home: StixHome, task: Task, cluster: str, placement: Placement,
                 ssh_cidrs: tuple[str, ...] = ()) -> ClusterSpec:
    """The planner's whole decision as data: placement, sizes, ports, labels, keys."""
    chosen = placement.chosen
    resources = task.resources
    pool_hosts, pool_identity = _pool_hosts(chosen, task.num_nodes)
    if chosen.cloud not in ("local", "ssh") and not ssh_cidrs:
        from stix.ssh_source import ssh_cidrs as detect

        ssh_cidrs = detect()
    public_key = ensure_cluster_key(home.key_path(cluster), cluster)
    autostop = resources.autostop_setting
    host_key_dir = home.key_path(cluster).parent / "hosts"
    host_keys = ensure_host_keys(host_key_dir, cluster, task.num_nodes) if chosen.cloud not in ("local", "ssh") else ()
    return ClusterSpec(
        cluster=cluster,
        cloud=chosen.cloud,
        num_nodes=task.num_nodes,
        ssh_public_key=public_key,
        node_root=str(home.cluster_dir(cluster) / "nodes"),
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
        disk_size_gb=values.parse_disk_size(resources.disk_size) if resources.disk_size is not None else 256,
        disk_tier=resources.disk_tier or "medium",
        image_id=resolve_image(resources.image_id, chosen.region),
        ports=tuple(values.parse_ports(resources.ports)) if resources.ports is not None else (),
        ssh_cidrs=tuple(ssh_cidrs),
        host_public_keys=host_keys,
        host_key_dir=str(host_key_dir) if host_keys else "",
        autostop_down=bool(autostop and autostop.down),
        pool_hosts=pool_hosts,
        pool_identity_file=pool_identity,
    )


def _pool_hosts(chosen, num_nodes: int):
    if chosen.cloud != "ssh":
        return (), ""
    from stix.pools import load_pools

    pool = load_pools()[chosen.region]
    return tuple((h.ip, h.port, h.user, h.host_key) for h in pool.hosts[:num_nodes]), pool.identity_file


def resolve_image(image_id, region: str) -> str:
    """image_id as a string, or the entry for the placed region of a per-region mapping."""
    if image_id is None:
        return ""
    if isinstance(image_id, dict):
        if region not in image_id:
            raise UsageError(f"resources.image_id has no image for region {region}; it lists {', '.join(image_id)}")
        return image_id[region]
    return image_id
