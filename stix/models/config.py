"""stix's config file: `~/.stix/config.yaml`, a project's file and a task's `config:` field, one schema."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from stix.models.base import Model
from stix.models.cloud_config import AwsConfig, AzureConfig, GcpConfig, KubernetesConfig


class StixConfig(Model):
    allowed_clouds: Optional[list[str]] = Field(None, description="The clouds stix may use (default: all enabled).")
    aws: Optional[AwsConfig] = None
    gcp: Optional[GcpConfig] = None
    azure: Optional[AzureConfig] = None
    kubernetes: Optional[KubernetesConfig] = None
