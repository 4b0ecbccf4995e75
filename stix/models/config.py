"""stix's config file: `~/.stix/config.yaml`, a project's `.stix.yaml` and a task's `config:` field, one schema.

SkyPilot's keys where stix acts on them (allowed_clouds, the per-cloud sections, jobs.controller.resources), and
stix's own: a default `autostop`, the state `backend`, the `catalog` directory. The SkyPilot keys stix accepts
without acting on them are listed in stix.config.IGNORED_KEYS and never reach this model.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

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


ENFORCEMENT_LEVELS = ("advisory", "mandatory", "disabled")


class PolicyConfig(Model):
    """The guardrails every plan is checked against (stix.policy): the built-in policy pack's limits, the levels
    it enforces them at, and more packs to run beside it."""

    packs: Optional[list[str]] = Field(
        None, description="More Pulumi policy packs (directories holding a PulumiPolicy.yaml) run on every plan, "
                          "relative to the file that names them; a project's policies/*/ are found without this.")
    enforcement: Optional[dict[str, Literal["advisory", "mandatory", "disabled"]]] = Field(
        None, description="The built-in pack's policies by name, each advisory (reported), mandatory (stops `up` "
                          "before anything is created) or disabled: e.g. {max-hourly-cost-per-cluster: advisory}.")
    allowed_regions: Optional[list[str]] = Field(
        None, description="The only regions a cluster may be placed in (the local cloud's region is 'local').")
    allowed_instance_families: Optional[list[str]] = Field(
        None, description="The only instance families a cluster may use: prefixes of the instance type before its "
                          "first '.' or '-', e.g. [g5, p4d, a2, Standard_NC].")
    max_gpus_per_cluster: Optional[int] = Field(
        None, ge=0, description="At most this many accelerators in one cluster (per node times nodes).")
    max_hourly_cost_per_cluster: Optional[float] = Field(
        None, ge=0, description="A budget in $/hr for one cluster, at the catalog's price for its placement.")
    max_hourly_cost_per_project: Optional[float] = Field(
        None, ge=0, description="A budget in $/hr for every cluster of the project together (stix's index: the "
                                "project's other clusters that are up, plus this one).")


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
    admin_policy: Optional[str] = Field(
        None, description="SkyPilot's key: an admin policy, `module.Class`, importable from the project (or the "
                          "directory of the file that names it) or installed; it checks and may rewrite every "
                          "request before planning (stix.admin_policy.AdminPolicy).")
    org_config: Optional[str] = Field(
        None, description="stix's key: an organisation's config file, read last so that its values win over the "
                          "user's, the project's and the task's (its admin_policy and policy limits bind everyone: "
                          "a `policy:` it sets replaces the other files' `policy:` whole, so none of its limits, "
                          "levels or packs can be loosened, disabled or added to below it); "
                          "user or project file only, relative to the file that names it.")
    policy: Optional[PolicyConfig] = Field(
        None, description="stix's key: the policy packs every plan is checked against, and the built-in pack's "
                          "limits (stix policy check).")

    @field_validator("admin_policy")
    @classmethod
    def _admin_policy(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            module, _, name = value.rpartition(".")
            if not module or not name.isidentifier() or not all(part.isidentifier() for part in module.split(".")):
                raise ValueError(f"admin_policy {value!r} must name a class as module.Class, e.g. my_policies.Guard")
        return value

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
