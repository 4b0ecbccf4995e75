"""The per-cloud sections of stix's config file (`aws:`, `gcp:`, `azure:`, `kubernetes:`), SkyPilot's keys.

Each section turns into ClusterSpec fields (`spec_fields`) when a cluster is compiled on its cloud (every
`stix up`: an existing cluster takes a change at its next up). Spelling follows SkyPilot's config schema
(sky/utils/schemas.py); `ssh_user` outside `aws:` is stix's own.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Optional, Union

from pydantic import Field, model_validator

from stix.models.base import Model

SSH_USER_PATTERN = r"^[a-z_][a-z0-9_-]{0,31}$"
"""A Linux login name: it becomes the nodes' user (cloud-init, the pod's bootstrap)."""
AZURE_RESERVED_USERS = frozenset({
    "administrator", "admin", "user", "user1", "test", "user2", "test1", "user3", "admin1", "1", "123", "a",
    "actuser", "adm", "admin2", "aspnet", "backup", "console", "david", "guest", "john", "owner", "root", "server",
    "sql", "support", "support_388945a0", "sys", "test2", "test3", "user4", "user5"})
"""Names Azure refuses as a VM's admin user."""
K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
"""A Kubernetes namespace (an RFC 1123 label)."""


class CloudConfig(Model):
    """What every VM cloud takes from config."""

    labels: Optional[dict[str, str]] = Field(
        None, description="Tags/labels put on every resource of a cluster (instances, disks, networks, buckets). "
                          "A task's resources.labels win over these; stix's own (stix-cluster, stix-role) win over both.")
    instance_tags: Optional[dict[str, str]] = Field(
        None, description="SkyPilot's older name of labels (set one of the two).")
    vpc_name: Optional[str] = Field(None, description="An existing VPC / network, by name, to create nodes in "
                                                      "(looked up, never created or deleted by stix).")
    use_internal_ips: Optional[bool] = Field(
        None, description="Nodes get no public address and are reached at their private one (needs a VPN or "
                          "a machine inside vpc_name; refused without vpc_name).")
    ssh_user: Optional[str] = Field(None, pattern=SSH_USER_PATTERN,
                                    description="The user nodes are logged in as (default: stix). SkyPilot has this key "
                                                "under aws: only; stix takes it on every VM cloud.")

    @model_validator(mode="after")
    def _one_label_key(self) -> "CloudConfig":
        if self.labels is not None and self.instance_tags is not None:
            raise ValueError("set labels or instance_tags (its older name), not both")
        return self

    def unsupported(self) -> list[str]:
        """Keys that validate but stix does not carry out yet (refused when a cluster is compiled here)."""
        return []

    def spec_fields(self, cluster: str) -> dict[str, Any]:
        """The ClusterSpec fields this section sets for `cluster` (unset keys keep the spec's defaults)."""
        out: dict[str, Any] = {"labels": dict(self.labels or self.instance_tags or {})}
        if self.vpc_name:
            out["vpc_name"] = self.vpc_name
        if self.use_internal_ips:
            out["use_internal_ips"] = True
        if self.ssh_user:
            out["ssh_user"] = self.ssh_user
        return out


class AwsConfig(CloudConfig):
    security_group_name: Optional[Union[str, list[dict[str, str]]]] = Field(
        None, description="With vpc_name: an existing security group there, by name, the nodes use instead of the "
                          "one stix makes; without: the name of the cluster's own group. Or a list of one-entry "
                          "maps {cluster-name pattern: group name}, the first match wins "
                          "(e.g. [{'train-*': ml-sg}, {'*': default-sg}]).")

    @model_validator(mode="after")
    def _single_entry_patterns(self) -> "AwsConfig":
        if isinstance(self.security_group_name, list):
            for entry in self.security_group_name:
                if len(entry) != 1 or not all(entry.values()):
                    raise ValueError("security_group_name: each list entry is one {cluster-name pattern: group name}")
        return self

    def spec_fields(self, cluster: str) -> dict[str, Any]:
        out = super().spec_fields(cluster)
        group = security_group_for(self.security_group_name, cluster)
        if group:
            out["security_group_name"] = group
        return out


class GcpConfig(CloudConfig):
    vpc_name: Optional[str] = Field(
        None, pattern=r"^(?:[-a-z0-9]+/)?[-a-z0-9]+$",
        description="An existing VPC network, `name` or `project-id/name`, to create nodes in (an auto-mode "
                    "network: nodes use its subnet in the placed region).")


class AzureConfig(CloudConfig):
    resource_group_vm: Optional[str] = Field(None, description="An existing resource group for the nodes "
                                                               "(not supported yet by stix).")

    @model_validator(mode="after")
    def _azure_admin_name(self) -> "AzureConfig":
        if self.ssh_user in AZURE_RESERVED_USERS:
            raise ValueError(f"ssh_user {self.ssh_user!r} is reserved on Azure (it refuses it as an admin user)")
        return self

    def unsupported(self) -> list[str]:
        return [f"azure.{key}" for key in ("vpc_name", "resource_group_vm", "use_internal_ips")
                if getattr(self, key)]


class KubernetesConfig(Model):
    namespace: Optional[str] = Field(None, pattern=K8S_NAME_PATTERN,
                                     description="The namespace every object of a cluster is created in "
                                                 "(default: the context's, else `default`).")
    pod_config: Optional[dict[str, Any]] = Field(
        None, description="A Pod manifest (metadata, spec) deep-merged into every node pod: maps merge key by key, "
                          "lists of named items (containers, volumes, env) merge by name, other lists are appended. "
                          "stix's own settings win on the node container (image, command, ports, resources, keys).")
    def unsupported(self) -> list[str]:
        return []

    def spec_fields(self, cluster: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.namespace:
            out["k8s_namespace"] = self.namespace
        if self.pod_config:
            out["pod_config"] = self.pod_config
        return out


def security_group_for(value: Union[str, list[dict[str, str]], None], cluster: str) -> Optional[str]:
    """SkyPilot's form: a name, or an ordered list of {cluster-name pattern: name}; None where nothing matches."""
    if value is None or isinstance(value, str):
        return value
    for entry in value:
        for pattern, name in entry.items():
            if fnmatch.fnmatchcase(cluster, pattern):
                return name
    return None
