"""resources: what each node needs, in every spelling SkyPilot accepts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional, Union, cast

from pydantic import (BeforeValidator, Field, PlainSerializer, SecretStr, StrictBool, StrictInt, ValidationInfo,
                      field_validator, model_validator)

from stix.models import values
from stix.models.base import Model
from stix.models.storage import VolumeSettings

Scalar = Union[StrictInt, float, str]
AcceleratorSpec = Union[str, list[Union[str, dict[str, Optional[Union[int, float]]]]], dict[str, Optional[Union[int, float]]]]
PortsSpec = Union[StrictInt, str, list[Union[StrictInt, str]]]


def _parsed(kind: type, parse: Callable[[Any], Any], spelled: Any) -> Any:
    """A field kept as its parsed record (parsed once, at load), written back and described as the user spells it."""

    def before(value: Any) -> Any:
        return value if value is None or isinstance(value, kind) else parse(value)

    # The core type is Any: `before` returns the record or raises, and a plain schema keeps model building cheap
    # (an InstanceOf of a dataclass would build that dataclass's whole schema too).
    return Annotated[Any, BeforeValidator(before, json_schema_input_type=spelled),
                     PlainSerializer(lambda value: value.to_spelling(), return_type=Any)]


if TYPE_CHECKING:  # what a field holds once loaded; the annotated forms below are built at runtime
    Infra = values.Infra
    Accelerators = values.Accelerators
    Cpus = values.Amount
    Memory = values.Memory
    DiskSize = values.DiskSize
    Ports = values.Ports
else:
    Infra = _parsed(values.Infra, values.parse_infra, str)
    Accelerators = _parsed(values.Accelerators, values.parse_accelerators, AcceleratorSpec)
    Cpus = _parsed(values.Amount, values.parse_cpus, Scalar)
    Memory = _parsed(values.Memory, values.parse_memory, Scalar)
    DiskSize = _parsed(values.DiskSize, values.parse_disk_size, Union[StrictInt, str])
    Ports = _parsed(values.Ports, values.parse_ports, PortsSpec)


class JobRecovery(Model):
    strategy: Optional[str] = Field(None, description="FAILOVER, EAGER_NEXT_REGION or DYNAMIC_NODE_SET.")
    max_restarts_on_errors: Optional[StrictInt] = Field(None, ge=0, description="Restarts after a user-code failure.")
    recover_on_exit_codes: Optional[Union[StrictInt, list[StrictInt]]] = Field(
        None, description="Exit codes that always trigger recovery."
    )
    min_nodes: Optional[StrictInt] = Field(None, ge=1, description="DYNAMIC_NODE_SET: fewest nodes to keep running.")

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy(cls, value: Any) -> Any:
        return None if value is None else values.choice("recovery strategy", value, values.RECOVERY_STRATEGIES)

    @field_validator("recover_on_exit_codes")
    @classmethod
    def _exit_codes(cls, value: Any) -> Any:
        codes = value if isinstance(value, list) else [] if value is None else [value]
        for code in codes:
            if not 0 <= code <= 255:
                raise ValueError(f"exit code {code} is outside 0-255")
        if len(set(codes)) != len(codes):
            raise ValueError("recover_on_exit_codes lists an exit code twice")
        return value


class AcceleratorArgs(Model):
    """resources.accelerator_args: TPU options (SkyPilot's names)."""

    runtime_version: Optional[str] = Field(None, description="TPU runtime version, e.g. tpu-vm-base.")
    tpu_name: Optional[str] = Field(None, description="Name of an existing TPU to use.")
    tpu_vm: Optional[StrictBool] = Field(None, description="Use a TPU VM (true) rather than a TPU node.")
    gcp_queued_resource: Optional[StrictBool] = Field(None, description="Request the TPU as a GCP queued resource.")


class ResourceVolume(VolumeSettings):
    """One entry of resources.volumes: a disk attached to every node (SkyPilot's GCP volumes)."""

    name: Optional[str] = Field(None, description="Volume name (an existing disk to attach, or the one to create).")
    path: Optional[str] = Field(None, description="Where the volume is mounted on the node.")
    disk_size: Optional[Union[StrictInt, str]] = Field(None, description="Volume size in GiB: 100, '100Gi', '1TB'.")
    auto_delete: Optional[StrictBool] = Field(None, description="Delete the volume with the cluster.")

    @field_validator("disk_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        return None if value is None else values.check_memory_size("disk_size", value)


class TerminationHook(Model):
    """resources.termination_hook (SkyPilot 0.14's earlier spelling of config.hooks): run before the nodes go."""

    command: str = Field(..., description="Script run on the nodes before they are stopped, preempted or torn down.")
    timeout: Optional[StrictInt] = Field(None, ge=1, description="Seconds the script may run.")


class DockerLoginConfig(Model):
    """Private (SkyPilot): registry credentials for a docker image_id; the password is never echoed or written."""

    username: str = Field(..., description="Registry user name.")
    password: SecretStr = Field(..., description="Registry password (kept secret).")
    server: str = Field(..., description="Registry server, e.g. nvcr.io.")

    @field_validator("password", mode="before")
    @classmethod
    def _password(cls, value: Any) -> Any:
        if not isinstance(value, (str, SecretStr)):
            raise ValueError("password must be a string")  # a value error: the loader does not echo its input
        return value


class AutostopConfig(Model):
    idle_minutes: Optional[Union[StrictInt, str]] = Field(None, description="Idle time before stopping: minutes or '10h'.")
    down: Optional[StrictBool] = Field(None, description="Tear the cluster down instead of stopping it.")
    wait_for: Optional[str] = Field(None, description="What counts as activity: jobs_and_ssh (default), jobs, none.")
    hook: Optional[str] = Field(None, description="Script run on the head node before autostop.")
    hook_timeout: Optional[StrictInt] = Field(None, ge=1, description="Seconds the hook may run.")

    @field_validator("idle_minutes", mode="before")
    @classmethod
    def _idle(cls, value: Any) -> Any:
        if value is not None:
            values.parse_duration_minutes(value)
        return value

    @field_validator("wait_for", mode="before")
    @classmethod
    def _wait_for(cls, value: Any) -> Any:
        return None if value is None else values.choice("wait_for", value, values.WAIT_FOR)


_CHOICES = {
    "cloud": ("cloud", values.KNOWN_CLOUDS),
    "disk_tier": ("disk tier", values.DISK_TIERS),
    "network_tier": ("network tier", values.NETWORK_TIERS),
}


def _autostop(value: Any) -> values.Autostop:
    if isinstance(value, (dict, AutostopConfig)):
        config = AutostopConfig.model_validate(value)  # nested errors keep their place: autostop.idle_minutes
        minutes = config.idle_minutes
        return values.Autostop(enabled=True, idle_minutes=5 if minutes is None else values.parse_duration_minutes(minutes),
                               down=bool(config.down), wait_for=config.wait_for or "jobs_and_ssh",
                               hook=config.hook, hook_timeout=config.hook_timeout, spelling=config.to_config())
    return values.parse_autostop(value)


if TYPE_CHECKING:
    Autostop = values.Autostop
else:
    Autostop = _parsed(values.Autostop, _autostop, Union[StrictBool, StrictInt, str, AutostopConfig])


class ResourceFields(Model):
    infra: Optional[Infra] = Field(
        None, description="Where to run: cloud[/region[/zone]], k8s[/context], ssh/<pool>, 'local'; '*' is a wildcard."
    )
    cloud: Optional[str] = Field(None, description="Legacy form of infra: the cloud.")
    region: Optional[str] = Field(None, description="Legacy form of infra: the region.")
    zone: Optional[str] = Field(None, description="Legacy form of infra: the zone.")
    accelerators: Optional[Accelerators] = Field(
        None, description="GPUs/TPUs per node: 'H100:8', 'H100', {A100: 8}, an ordered list, or a set {'A100:8', 'H100:8'}."
    )
    accelerator_args: Optional[AcceleratorArgs] = Field(None, description="Accelerator options (TPU runtime version, ...).")
    cpus: Optional[Cpus] = Field(None, description="vCPUs per node: 4 (exactly) or '4+' (at least).")
    memory: Optional[Memory] = Field(None, description="Memory per node in GiB: 16, '16+', '32GB', or '4x' (per vCPU).")
    instance_type: Optional[str] = Field(None, description="A cloud instance type, e.g. p4d.24xlarge.")
    use_spot: Optional[StrictBool] = Field(None, description="Use spot/preemptible instances.")
    job_recovery: Optional[Union[str, JobRecovery]] = Field(None, description="Managed-job recovery: a strategy or a mapping.")
    spot_recovery: Optional[Union[str, JobRecovery]] = Field(None, description="Legacy name of job_recovery.")
    disk_size: Optional[DiskSize] = Field(None, description="OS disk size in GiB: 256 or '1TB'.")
    disk_tier: Optional[str] = Field(None, description="Disk performance: low, medium, high, ultra or best.")
    network_tier: Optional[str] = Field(None, description="Network performance: standard or best.")
    ports: Optional[Ports] = Field(
        None, description="Ports to open: 8080, '10020-10040', or a list."
    )
    image_id: Optional[Union[str, dict[str, str]]] = Field(
        None, description="Machine image: an image id, 'docker:<image>', or a mapping of region to image."
    )
    labels: Optional[dict[str, str]] = Field(None, description="Labels/tags put on every cloud resource.")
    autostop: Optional[Autostop] = Field(
        None, description="Stop when idle: true, minutes, '10h', or {idle_minutes, down, wait_for}."
    )
    max_hourly_cost: Optional[float] = Field(None, gt=0, description="Refuse placements costing more than this many $/hr.")
    volumes: Optional[list[ResourceVolume]] = Field(None, description="Disks attached to every node (name, path, size, ...).")
    ephemeral_storage: Optional[DiskSize] = Field(None, description="Deprecated SkyPilot name of disk_size.")
    local_disk: Optional[str] = Field(None, description="Local (instance) disk wanted, e.g. 'nvme:1000'.")
    priority: Optional[StrictInt] = Field(None, ge=values.MIN_PRIORITY, le=values.MAX_PRIORITY,
                                          description="Scheduling priority of managed jobs, -1000 to 1000 (higher first).")
    priority_class: Optional[str] = Field(None, description="Kubernetes PriorityClass of the pods.")
    termination_hook: Optional[TerminationHook] = Field(
        None, description="Script run before the nodes are stopped, preempted or torn down: {command, timeout}.")
    no_missing_accel_warnings: Optional[StrictBool] = Field(
        None, alias="_no_missing_accel_warnings", description="Private (SkyPilot): silence missing-accelerator warnings.")
    docker_login_config: Optional[DockerLoginConfig] = Field(
        None, alias="_docker_login_config", description="Private (SkyPilot): registry login for a docker image_id.")
    is_image_managed: Optional[StrictBool] = Field(
        None, alias="_is_image_managed", description="Private (SkyPilot): the image was made by the tool.")
    requires_fuse: Optional[StrictBool] = Field(
        None, alias="_requires_fuse", description="Private (SkyPilot): the nodes need FUSE for bucket mounts.")
    cluster_config_overrides: Optional[dict[str, Any]] = Field(
        None, alias="_cluster_config_overrides", description="Private (SkyPilot): overrides of the provisioner's config.")

    @field_validator(*_CHOICES, mode="before")
    @classmethod
    def _one_of(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return value
        kind, choices = _CHOICES[cast(str, info.field_name)]  # set for field validators
        if info.field_name == "cloud":
            value = str(value).lower()
            value = values.CLOUD_ALIASES.get(value, value)
        return values.choice(kind, value, choices)

    @field_validator("job_recovery", "spot_recovery", mode="before")
    @classmethod
    def _recovery(cls, value: Any) -> Any:
        if isinstance(value, str):
            return values.choice("recovery strategy", value, values.RECOVERY_STRATEGIES)
        return value

    @model_validator(mode="after")
    def _one_placement_spelling(self) -> "ResourceFields":
        if self.infra and (self.cloud or self.region or self.zone):
            raise ValueError("use either infra or the legacy cloud/region/zone fields, not both")
        if self.job_recovery is not None and self.spot_recovery is not None:
            raise ValueError("use job_recovery; spot_recovery is its legacy name, not both")
        return self

    # Normalised views, for the optimizer and the compiler.

    @property
    def placement(self) -> values.Infra:
        return self.infra or values.Infra(self.cloud, self.region, self.zone)


class ResourceCandidate(ResourceFields):
    """One entry of any_of / ordered: overrides applied to the enclosing resources."""


class Resources(ResourceFields):
    any_of: Optional[list[ResourceCandidate]] = Field(
        None, description="Alternatives, any of which will do; the optimizer picks the cheapest."
    )
    ordered: Optional[list[ResourceCandidate]] = Field(
        None, description="Alternatives in order of preference; the first feasible one is used."
    )

    @model_validator(mode="after")
    def _one_kind_of_alternatives(self) -> "Resources":
        if self.any_of is not None and self.ordered is not None:
            raise ValueError("use either any_of or ordered, not both")
        for name in ("any_of", "ordered"):
            if getattr(self, name) == []:
                raise ValueError(f"{name} must list at least one alternative")
        return self

    @property
    def cloud_name(self) -> Optional[str]:
        """The cloud every alternative agrees on, or None when it is left to the optimizer."""
        return self.placement.cloud

    def accelerator_choices(self) -> list[values.Accelerator]:
        """Every accelerator the task would take, in preference order, alternatives included."""
        out: list[values.Accelerator] = list(self.accelerators.choices) if self.accelerators is not None else []
        for alternative in self.ordered or self.any_of or []:
            if alternative.accelerators is not None:
                out.extend(alternative.accelerators.choices)
        return out

    def foreign_clouds(self) -> list[str]:
        """Where the resources (or an alternative) name a cloud only SkyPilot runs on: 'resources.infra lambda'."""
        out = []
        for where, fields in [("resources.", self), *((f"resources.{kind}[{i}].", alternative)
                                                        for kind in ("any_of", "ordered")
                                                        for i, alternative in enumerate(getattr(self, kind) or []))]:
            cloud = fields.placement.cloud
            if cloud in values.SKYPILOT_ONLY_CLOUDS:
                out.append(f"{where}{'infra' if fields.infra else 'cloud'} {cloud} (a SkyPilot cloud stix does not "
                           f"run on yet; stix runs on {', '.join(values.CLOUDS)})")
        return out

    def set_of_fields(self) -> set[str]:
        return {name for name in self.model_fields_set if getattr(self, name) is not None}
