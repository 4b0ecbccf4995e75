"""Resource overrides from the command line (SkyPilot's --infra, --gpus, ...), applied to a loaded task.

They apply after the load stage, to the typed Task, as SkyPilot's `Task.set_resources_override` does:
a flag wins over the task file's field, on the task's resources and on each any_of/ordered alternative
(an alternative that sets the field gets the flag's value; one that does not inherits it). The value
'none' clears a field, as in SkyPilot (`--gpus none`).
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, Callable, Optional

from pydantic import ValidationError

from stix.errors import UsageError
from stix.models import values
from stix.models.task import Task
from stix.resource_flags import FLAGS, JOB_DEMAND, ResourceOverrides

if TYPE_CHECKING:
    from stix.spec import ClusterSpec


_PLACE = ("infra", "cloud", "region", "zone")


def _text(parse: Callable[[Any], Any]) -> Callable[[str], Any]:
    return lambda value: None if value.strip().lower() == "none" else parse(value)


# flag -> (resources field, parser of the flag's value to the field's value)
_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "infra": ("infra", _text(values.parse_infra)),
    "gpus": ("accelerators", _text(values.parse_accelerators)),
    "cpus": ("cpus", _text(values.parse_cpus)),
    "memory": ("memory", _text(values.parse_memory)),
    "use_spot": ("use_spot", bool),
    "instance_type": ("instance_type", _text(str.strip)),
    "image_id": ("image_id", _text(str.strip)),
    "disk_size": ("disk_size", values.parse_disk_size),
    "disk_tier": ("disk_tier", _text(lambda value: values.choice("disk tier", value, values.DISK_TIERS))),
    "ports": ("ports", lambda ports: values.parse_ports(list(ports))),
}


def parsed_fields(overrides: ResourceOverrides) -> dict[str, Any]:
    """The resources fields the flags set, parsed by the models' own parsers; a bad value is a one-line
    UsageError naming the flag."""
    out: dict[str, Any] = {}
    for name, (field, parse) in _FIELDS.items():
        raw = getattr(overrides, name)
        if raw in (None, ()):
            continue
        try:
            out[field] = parse(raw)
        except ValueError as exc:
            shown = " ".join(raw) if isinstance(raw, tuple) else raw
            raise UsageError(f"{FLAGS[name]} {str(shown)!r}: {exc}") from None
    return out


def apply_overrides(task: Task, overrides: Optional[ResourceOverrides]) -> Task:
    """The task with the overrides applied (a copy); bad values are one-line UsageErrors naming the flag."""
    if overrides is None or overrides.empty:
        return task
    if overrides.num_nodes is not None and overrides.num_nodes < 1:
        raise UsageError(f"--num-nodes {overrides.num_nodes}: must be at least 1")
    updates = parsed_fields(overrides)
    resources = task.resources
    if updates:
        base = _overridden(resources, updates)
        for kind in ("any_of", "ordered"):
            alternatives = getattr(resources, kind)
            if alternatives is not None:
                base[kind] = [_validated(type(alt), _overridden(alt, updates, only_set=True)) for alt in alternatives]
        resources = _validated(type(resources), base)
    changed: dict[str, Any] = {"resources": resources}
    if overrides.num_nodes is not None:
        changed["num_nodes"] = overrides.num_nodes
    return task.model_copy(update=changed)


def _overridden(model: Any, updates: dict[str, Any], only_set: bool = False) -> dict[str, Any]:
    """The model's set fields with the updates over them; `only_set`: only where the model sets the field
    (an alternative), a place (infra or the legacy cloud/region/zone) counting as one field."""
    current = {name: getattr(model, name) for name in model.model_fields_set}
    sets_place = any(current.get(name) is not None for name in _PLACE)
    for field, value in updates.items():
        if field == "infra":
            if only_set and not sets_place:
                continue
            for name in _PLACE:
                current.pop(name, None)
        elif only_set and current.get(field) is None:
            continue
        current[field] = value
    return current


def _validated(kind: Any, data: dict[str, Any]) -> Any:
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise UsageError(f"resource flags: {where + ': ' if where else ''}{error['msg']}") from None


def check_job_demand(overrides: ResourceOverrides) -> None:
    """`stix exec` runs on the cluster as it is: the flags that would reshape it are refused, naming them."""
    refused = [FLAGS[f.name] for f in fields(overrides)
               if f.name not in JOB_DEMAND and getattr(overrides, f.name) not in (None, ())]
    if refused:
        raise UsageError(f"{', '.join(refused)} change the cluster, which `stix launch` does; stix exec takes only "
                         f"--gpus, --cpus, --memory and --num-nodes")


_PLACEMENT_FLAGS = ("infra", "gpus", "cpus", "memory", "use_spot", "instance_type")


def cluster_as_it_is(spec: "ClusterSpec", overrides: Optional[ResourceOverrides] = None, **task_fields: Any) -> Task:
    """The task that keeps an existing cluster as it is: its place, instance type, accelerators, nodes, disk,
    ports, image and labels, with task_fields (run, envs, secrets, ...) validated with them. A launch with no
    task file of its own (an inline command, or none) on an existing cluster starts from it, so it runs there
    instead of reshaping the cluster to a bare task; the flags still win, and any placement flag replaces the
    whole placement."""
    from stix.spec import ClusterSpec

    default = ClusterSpec("", "", 1, "", "")
    resources: dict[str, Any] = {}
    if spec.disk_size_gb != default.disk_size_gb:  # the compiled defaults stay unset (a cloud may refuse the field)
        resources["disk_size"] = spec.disk_size_gb
    if spec.disk_tier != default.disk_tier:
        resources["disk_tier"] = spec.disk_tier
    if spec.labels:
        resources["labels"] = dict(spec.labels)
    if spec.ports:
        resources["ports"] = values.Ports(spec.ports)
    if spec.image_id:
        resources["image_id"] = spec.image_id
    if overrides is None or all(getattr(overrides, name) in (None, ()) for name in _PLACEMENT_FLAGS):
        resources.update(infra=values.Infra(spec.cloud, spec.region or None, spec.zone or None),
                         instance_type=spec.instance_type, use_spot=spec.use_spot)
        if spec.accelerator:
            resources["accelerators"] = values.Accelerators((values.Accelerator(spec.accelerator,
                                                                                spec.accelerator_count),))
    return Task.model_validate({**task_fields, "num_nodes": spec.num_nodes, "resources": resources})
