"""stix's config file: `~/.stix/config.yaml`, a project's `.stix.yaml` and a task's `config:` field, one schema.

SkyPilot's keys where stix acts on them (allowed_clouds, the per-cloud sections, jobs.controller.resources), and
stix's own: a default `autostop`, the state `backend`, the `catalog` directory. The SkyPilot keys stix accepts
without acting on them are listed in stix.config.IGNORED_KEYS and never reach this model.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field, field_validator

from stix.models import values
from stix.models.base import Model
from stix.models.cloud_config import AwsConfig, AzureConfig, GcpConfig, KubernetesConfig
from stix.models.resources import Autostop, Resources

BACKEND_SCHEMES = ("file://", "s3://", "gs://", "azblob://", "https://", "http://")
"""Pulumi's state backends: a directory, S3, GCS, Azure Blob, or Pulumi Cloud (https://api.pulumi.com)."""


class ControllerConfig(Model):
    resources: Optional[Resources] = Field(
        None, description="What the managed-jobs controller runs on, as a task's resources (SkyPilot's key).")


class JobsConfig(Model):
    controller: Optional[ControllerConfig] = Field(None, description="The managed-jobs controller.")


class CatalogConfig(Model):
    dir: Optional[str] = Field(
        None, description="A directory of stix CSVs or a SkyPilot catalog directory, read before the bundled "
                          "catalogs (as STIX_CATALOG_DIR, which wins when set); relative to the file that sets it.")


class StixConfig(Model):
    allowed_clouds: Optional[list[str]] = Field(
        None, description="The only clouds stix may plan on and use (default: every enabled cloud).")
    aws: Optional[AwsConfig] = Field(None, description="AWS settings for clusters created from now on.")
    gcp: Optional[GcpConfig] = Field(None, description="GCP settings for clusters created from now on.")
    azure: Optional[AzureConfig] = Field(None, description="Azure settings for clusters created from now on.")
    kubernetes: Optional[KubernetesConfig] = Field(None, description="Kubernetes settings for new clusters.")
    jobs: Optional[JobsConfig] = Field(None, description="Managed jobs: the controller's resources.")
    autostop: Optional[Autostop] = Field(
        None, description="stix's key: the autostop `up`/`launch` arm when neither the task's resources.autostop "
                          "nor -i/--down says: true, minutes, '10h', or {idle_minutes, down, wait_for}.")
    backend: Optional[str] = Field(
        None, description="stix's key: the Pulumi state backend URL (file://, s3://, gs://, azblob://, https://), "
                          "as STIX_BACKEND (which wins when set); user file only.")
    catalog: Optional[CatalogConfig] = Field(None, description="stix's key: where catalogs are read from.")

    @field_validator("allowed_clouds", mode="before")
    @classmethod
    def _clouds(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        out = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"allowed_clouds lists cloud names, got {item!r}")
            name = values.CLOUD_ALIASES.get(item.lower(), item.lower())
            out.append(values.choice("cloud", name, values.KNOWN_CLOUDS))
        return out

    @field_validator("backend")
    @classmethod
    def _backend(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not value.startswith(BACKEND_SCHEMES):
            raise ValueError(f"backend {value!r} must be a URL starting with one of {', '.join(BACKEND_SCHEMES)}")
        return value
