"""The task model: what a task YAML may say, as pydantic records.

This is the walking-skeleton subset of SkyPilot's schema. Every model forbids
unknown keys, and every field carries a description because the JSON schema
generated from these models is what users' editors load.
"""

from __future__ import annotations

import re
from typing import Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

CLOUDS = ("local", "aws", "gcp", "azure", "kubernetes")
RUNNABLE_CLOUDS = ("local",)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Resources(_Model):
    infra: Optional[str] = Field(
        None, description="Where to run: 'local', or cloud[/region[/zone]] as SkyPilot's infra field."
    )
    cloud: Optional[str] = Field(None, description="Legacy form of infra: the cloud name.")
    region: Optional[str] = Field(None, description="Legacy form of infra: the region.")
    zone: Optional[str] = Field(None, description="Legacy form of infra: the zone.")
    cpus: Optional[Union[int, float, str]] = Field(
        None, description="vCPUs per node, e.g. 4 or '4+'. Informational on the local cloud."
    )
    memory: Optional[Union[int, float, str]] = Field(
        None, description="Memory per node in GiB, e.g. 16 or '16+'. Informational on the local cloud."
    )

    @field_validator("cloud")
    @classmethod
    def _known_cloud(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and value.lower() not in CLOUDS:
            raise ValueError(_unknown("cloud", value, CLOUDS))
        return value.lower() if value else value

    @field_validator("infra")
    @classmethod
    def _known_infra(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return value
        cloud = value.split("/", 1)[0].lower()
        if cloud in ("k8s",):
            cloud = "kubernetes"
        if cloud not in CLOUDS:
            raise ValueError(_unknown("cloud", cloud, CLOUDS))
        return value

    @property
    def cloud_name(self) -> str:
        if self.infra:
            head = self.infra.split("/", 1)[0].lower()
            return "kubernetes" if head == "k8s" else head
        return self.cloud or "local"


class Task(_Model):
    name: Optional[str] = Field(None, description="Task name; the default cluster name.")
    workdir: Optional[str] = Field(
        None, description="Local directory synced to every node; setup and run start in it."
    )
    num_nodes: int = Field(1, ge=1, description="Number of nodes in the cluster (at least 1).")
    resources: Resources = Field(default_factory=Resources, description="What each node needs.")
    envs: dict[str, Optional[Union[str, int, float, bool]]] = Field(
        default_factory=dict, description="Environment variables set for setup and run."
    )
    setup: Optional[str] = Field(None, description="Shell script run once on every node before run.")
    run: Optional[str] = Field(None, description="Shell script run on every node in parallel.")

    @field_validator("envs")
    @classmethod
    def _env_names(cls, value: dict) -> dict:
        for key in value:
            if not ENV_NAME.match(str(key)):
                raise ValueError(f"invalid environment variable name {key!r}")
        return value

    def env_values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in self.envs.items():
            if value is None:
                continue
            if isinstance(value, bool):
                out[key] = "true" if value else "false"
            else:
                out[key] = str(value)
        return out


def _unknown(kind: str, value: str, choices: tuple[str, ...]) -> str:
    import difflib

    close = difflib.get_close_matches(value.lower(), choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(choices)}"
    return f"unknown {kind} {value!r}{hint}"
