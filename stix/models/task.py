"""The task: the whole SkyPilot-compatible task YAML as one pydantic model."""

from __future__ import annotations

from typing import Any, Optional, Union

from pydantic import Field, StrictBool, StrictInt, ValidationInfo, field_validator

from stix.models import values
from stix.models.base import Model
from stix.models.resources import Resources
from stix.models.service import PoolConfig, Service
from stix.models.storage import FileMountValue, check_file_mounts

EnvValue = Optional[Union[str, int, float, bool]]
REDACTED = "<redacted>"


class GitWorkdir(Model):
    url: str = Field(..., description="Git repository URL cloned as the workdir.")
    ref: Optional[str] = Field(None, description="Branch, tag or commit to check out.")


class ManagedSecretMount(Model):
    mount_path: Optional[str] = Field(None, description="Where the secret is written as a file on the nodes.")


ManagedSecret = Union[str, dict[str, ManagedSecretMount]]
VOLUME_ACCESS_MODES = ("ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany", "ReadOnlyMany")


class VolumeConfig(Model):
    storage_class_name: Optional[str] = Field(None, description="Kubernetes storage class of the claim.")
    access_mode: Optional[str] = Field(None, description="ReadWriteOnce, ReadWriteOncePod, ReadWriteMany or ReadOnlyMany.")
    namespace: Optional[str] = Field(None, description="Kubernetes namespace of the claim.")
    host_path: Optional[str] = Field(None, description="A path on the host to use as the volume.")
    cleanup_on_deletion: Optional[StrictBool] = Field(None, description="Delete the data when the volume is deleted.")

    @field_validator("access_mode", mode="before")
    @classmethod
    def _access_mode(cls, value: Any) -> Any:
        return None if value is None else values.choice("access_mode", value, VOLUME_ACCESS_MODES, case_sensitive=True)


class VolumeSpec(Model):
    """An inline volume in `volumes:` (SkyPilot's volume schema), e.g. an ephemeral claim sized for the task."""

    name: Optional[str] = Field(None, description="Volume name.")
    type: Optional[str] = Field(None, description="Volume type, e.g. k8s-pvc.")
    infra: Optional[str] = Field(None, description="Where the volume lives: cloud[/region[/zone]] or k8s[/context].")
    size: Optional[Union[StrictInt, str]] = Field(None, description="Size: 100 (GiB), '100Gi', '1TB'.")
    use_existing: Optional[StrictBool] = Field(None, description="Use an existing volume of this name.")
    config: Optional[VolumeConfig] = Field(None, description="Type-specific settings.")
    labels: Optional[dict[str, str]] = Field(None, description="Labels put on the volume.")

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        return None if value is None else values.check_memory_size("size", value)


class VolumeLocation(Model):
    cloud: Optional[str] = Field(None, description="The volume's cloud.")
    region: Optional[str] = Field(None, description="The volume's region.")
    zone: Optional[str] = Field(None, description="The volume's zone.")


class VolumeMount(Model):
    """Private (SkyPilot): a resolved volume mount, as SkyPilot writes it back."""

    path: Optional[str] = Field(None, description="Mount path on the nodes.")
    volume_name: Optional[str] = Field(None, description="The volume mounted.")
    is_ephemeral: Optional[StrictBool] = Field(None, description="The volume lives and dies with the cluster.")
    sub_path: Optional[str] = Field(None, description="A path inside the volume to mount.")
    volume_config: Optional[VolumeLocation] = Field(None, description="Where the volume is.")


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
    event_callback: Optional[str] = Field(None, description="Command run on this machine when the task's state changes.")
    pool: Optional[PoolConfig] = Field(None, description="Define a pool of workers for managed jobs (workers, ...).")
    managed_secrets: Optional[list[ManagedSecret]] = Field(
        None, description="Secrets from the secret store: names, or {name: {mount_path}}.")
    inputs: Optional[dict[str, float]] = Field(None, description="Experimental: the input bucket and its size in GB.")
    outputs: Optional[dict[str, float]] = Field(None, description="Experimental: the output bucket and its size in GB.")
    file_mounts_mapping: Optional[dict[str, Any]] = Field(None, description="Private (SkyPilot): translated file mounts.")
    volumes: Optional[dict[str, Union[str, VolumeSpec]]] = Field(
        None, description="Mount path on the nodes -> volume name, or an inline volume.")
    volume_mounts: Optional[list[VolumeMount]] = Field(None, description="Private (SkyPilot): resolved volume mounts.")
    api_server_access: Optional[StrictBool] = Field(None, description="Give the task access to the API server.")
    metadata: Optional[dict[str, Any]] = Field(None, alias="_metadata", description="Private (SkyPilot): task metadata.")

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        return values.check_task_name(value) if isinstance(value, str) else value

    @field_validator("inputs", "outputs")
    @classmethod
    def _one_bucket(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and len(value) > 1:
            raise ValueError(f"{info.field_name} names one bucket, got {len(value)}")
        return value

    @field_validator("managed_secrets")
    @classmethod
    def _one_secret_each(cls, value: Any) -> Any:
        for item in value or []:
            if isinstance(item, dict) and len(item) != 1:
                raise ValueError("each managed_secrets entry names one secret")
        return value

    @field_validator("envs", "secrets", mode="before")
    @classmethod
    def _env_names(cls, value: Any, info: ValidationInfo) -> Any:
        # SkyPilot's list form of secrets names managed secrets; stix has no secret store, so each becomes a
        # required secret that `--secret NAME=VALUE` sets. Its names are checked as the mapping's keys are.
        if info.field_name == "secrets" and isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise ValueError("a list of secrets holds names only")
            value = dict.fromkeys(value)
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

    @classmethod
    def of_command(cls, run: str, envs: dict[str, str], secrets: dict[str, str]) -> "Task":
        """`Task(run=run, envs=envs, secrets=secrets)` for `stix exec CLUSTER 'command'`, without building the
        task's validator (a fifth of that command's start) when it would change nothing: text that pydantic takes
        as it is, checked names, and the defaults of the task and its resources, which are valid as they stand.
        Anything else is validated, so that it is refused with the validator's own error."""
        if _plain_text(run) and all(values.ENV_NAME.fullmatch(key) and _plain_text(value)
                                    for mapping in (envs, secrets) for key, value in mapping.items()):
            return cls.model_construct({"run", "envs", "secrets"}, run=run, envs=dict(envs), secrets=dict(secrets),
                                       resources=Resources.model_construct())
        return cls(run=run, envs=dict(envs), secrets=dict(secrets))

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


def _plain_text(value: Any) -> bool:
    """A str that validates as itself (pydantic refuses lone surrogates, such as undecodable argv bytes)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
