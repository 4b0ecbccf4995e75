"""The task: the whole SkyPilot-compatible task YAML as one pydantic model."""

from __future__ import annotations

from typing import Any, Optional, Union

from pydantic import Field, StrictInt, field_validator

from stix.models import values
from stix.models.base import Model
from stix.models.resources import Resources
from stix.models.service import Service
from stix.models.storage import FileMountValue, check_file_mounts

EnvValue = Optional[Union[str, int, float, bool]]
REDACTED = "<redacted>"


class GitWorkdir(Model):
    url: str = Field(..., description="Git repository URL cloned as the workdir.")
    ref: Optional[str] = Field(None, description="Branch, tag or commit to check out.")


class Task(Model, validate_assignment=True):
    name: Optional[str] = Field(None, description="Task name; the default cluster name.")
    workdir: Optional[Union[str, GitWorkdir]] = Field(
        None, description="Directory synced to ~/sky_workdir on every node (setup and run start there), or {url, ref}."
    )
    num_nodes: StrictInt = Field(1, ge=1, description="Number of nodes (at least 1).")
    resources: Resources = Field(default_factory=Resources, description="What each node needs.")
    envs: dict[str, EnvValue] = Field(
        default_factory=dict,
        description="Environment variables for file_mounts, setup and run; null means required (--env K=V).",
    )
    secrets: dict[str, EnvValue] = Field(
        default_factory=dict, description="Like envs, but redacted wherever stix prints or stores them."
    )
    file_mounts: Optional[dict[str, FileMountValue]] = Field(
        None, description="Destination path on the nodes -> local path, bucket URI, or storage mapping."
    )
    setup: Optional[str] = Field(None, description="Script run once on every node before run.")
    run: Optional[str] = Field(None, description="Script run on every node in parallel.")
    service: Optional[Service] = Field(None, description="Serve the task behind a load balancer.")
    config: Optional[dict[str, Any]] = Field(None, description="Per-task overrides of stix/SkyPilot config.")

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        return values.check_task_name(value) if isinstance(value, str) else value

    @field_validator("envs", "secrets", mode="before")
    @classmethod
    def _env_names(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key in value:
                values.check_env_name(key)
        return value

    @field_validator("file_mounts", mode="before")
    @classmethod
    def _file_mounts(cls, value: Any) -> Any:
        if isinstance(value, dict):
            check_file_mounts(value)
        return value

    @field_validator("setup", "run", mode="before")
    @classmethod
    def _script(cls, value: Any) -> Any:
        # SkyPilot accepts a bare number or boolean as a one-word command; keep them as text.
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return value

    # --- SkyPilot-style Python API (from_yaml / from_yaml_str: stix.Task, the SDK's subclass) --------

    def to_yaml_config(self, redact_secrets: bool = True) -> dict[str, Any]:
        config = self.to_config()
        if redact_secrets and config.get("secrets"):
            config["secrets"] = {k: (None if v is None else REDACTED) for k, v in config["secrets"].items()}
        return config

    def to_yaml(self, redact_secrets: bool = True) -> str:
        import yaml

        return yaml.safe_dump(self.to_yaml_config(redact_secrets), sort_keys=False, allow_unicode=True)

    def set_resources(self, resources: Resources) -> "Task":
        self.resources = resources
        return self

    def update_envs(self, envs: dict[str, str]) -> "Task":
        self.envs = {**self.envs, **{values.check_env_name(k): v for k, v in envs.items()}}
        return self

    def __repr_args__(self):
        for name, value in super().__repr_args__():
            if name == "secrets" and value:
                value = {k: (None if v is None else REDACTED) for k, v in value.items()}
            yield name, value

    # --- values for the nodes ---------------------------------------------------------------

    def env_values(self) -> dict[str, str]:
        return _as_strings(self.envs)

    def secret_values(self) -> dict[str, str]:
        return _as_strings(self.secrets)

    def required_unset(self) -> list[str]:
        """envs/secrets declared null, as the flag that sets each: `--env K`, `--secret K`."""
        return [f"--env {k}" for k, v in self.envs.items() if v is None] + [
            f"--secret {k}" for k, v in self.secrets.items() if v is None
        ]


def _as_strings(mapping: dict[str, EnvValue]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in mapping.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out
