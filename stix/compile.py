"""Task -> ClusterSpec: the planner's side of the contract with the Pulumi program."""

from __future__ import annotations

from stix.errors import PrerequisiteMissing, UsageError
from stix.home import StixHome
from stix.keys import ensure_cluster_key
from stix.spec import ClusterSpec
from stix.task import RUNNABLE_CLOUDS, Task


def check_runnable(task: Task) -> None:
    """Refuse, in one line, what validates but cannot run yet."""
    cloud = task.resources.cloud_name
    if cloud not in RUNNABLE_CLOUDS:
        raise UsageError(f"not supported yet: resources.cloud={cloud} (this version runs the local cloud only)")


def check_prerequisites(cloud: str) -> None:
    if cloud == "local":
        from stix.components.local import sshd

        try:
            sshd.find_sshd()
        except sshd.NodeProcessError as exc:
            raise PrerequisiteMissing(str(exc)) from None


def compile_spec(home: StixHome, task: Task, cluster: str) -> ClusterSpec:
    check_runnable(task)
    check_prerequisites(task.resources.cloud_name)
    public_key = ensure_cluster_key(home.key_path(cluster), cluster)
    return ClusterSpec(
        cluster=cluster,
        cloud=task.resources.cloud_name,
        num_nodes=task.num_nodes,
        ssh_public_key=public_key,
        node_root=str(home.cluster_dir(cluster) / "nodes"),
    )
