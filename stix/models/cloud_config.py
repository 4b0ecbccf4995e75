"""The per-cloud sections of stix's config file (`aws:`, `gcp:`, `azure:`, `kubernetes:`), SkyPilot's keys."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from stix.models.base import Model


class CloudConfig(Model):
    """What every VM cloud takes from config; applies to clusters created after it is set."""

    labels: Optional[dict[str, str]] = Field(None, description="Tags/labels put on every resource of a cluster.")
    vpc_name: Optional[str] = Field(None, description="The existing VPC / network to create nodes in.")
    security_group_name: Optional[str] = Field(None, description="The security group / firewall name to use.")
    ssh_user: Optional[str] = Field(None, description="The user stix logs in as on the image.")


class KubernetesConfig(Model):
    namespace: Optional[str] = Field(None, description="The namespace pods are created in.")
    pod_config: Optional[dict[str, Any]] = Field(None, description="A pod spec merged into every node pod.")
