"""The pinned placement of a cluster, kept in its stack config file in a stix project.

`stix up` chooses a placement and pins it; from then on the pin holds while it
still satisfies the task (prices moving do not move a cluster), and changes,
visibly in review, only when the task asks for something the pin cannot give.
Plain `pulumi preview` reads the same pin, so both plan the same resources.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from stix.errors import UsageError
from stix.optimizer import Candidate, Placement
from stix.spec import CONFIG_NAMESPACE, ClusterSpec

NAMESPACE = CONFIG_NAMESPACE
_FIELDS = {  # Pulumi config spelling -> Pin field
    "cloud": "cloud", "region": "region", "zone": "zone", "instanceType": "instance_type",
    "accelerator": "accelerator", "acceleratorCount": "accelerator_count", "vcpus": "vcpus",
    "memoryGib": "memory_gib", "spot": "spot", "numNodes": "num_nodes", "pricePerNode": "price_per_node",
    "hourlyCost": "hourly_cost", "image": "image", "sshCidrs": "ssh_cidrs",
}


@dataclass(frozen=True)
class Pin:
    task: str
    """The task file, relative to the project root (absolute when it lies outside)."""
    cloud: str
    region: str
    zone: str
    instance_type: str
    accelerator: str
    accelerator_count: float
    vcpus: float
    memory_gib: float
    spot: bool
    num_nodes: int
    price_per_node: float
    hourly_cost: float
    image: str
    ssh_cidrs: tuple[str, ...] = ()
    stopped: bool = False

    @classmethod
    def of(cls, task_file: str, candidate: Candidate, image: str, ssh_cidrs: tuple[str, ...]) -> "Pin":
        return cls(task_file, candidate.cloud, candidate.region, candidate.zone, candidate.instance_type,
                   candidate.accelerator, float(candidate.accelerator_count), float(candidate.vcpus or 0.0),
                   round(float(candidate.memory_gib or 0.0), 3), candidate.spot, candidate.num_nodes,
                   candidate.price_per_node, round(candidate.hourly_cost, 6), image, tuple(ssh_cidrs))

    def candidate(self) -> Candidate:
        return Candidate(self.cloud, self.region, self.zone, self.instance_type, self.accelerator,
                         self.accelerator_count, self.vcpus, self.memory_gib, self.spot, self.price_per_node,
                         self.num_nodes)

    def to_config(self) -> dict[str, Any]:
        values = asdict(self)
        placement = {key: values[field] for key, field in _FIELDS.items()}
        placement["sshCidrs"] = list(self.ssh_cidrs)
        config: dict[str, Any] = {f"{NAMESPACE}:task": self.task, f"{NAMESPACE}:placement": placement}
        if self.stopped:
            config[f"{NAMESPACE}:stopped"] = True
        return config

    @classmethod
    def from_config(cls, task: Optional[str], placement: Any, stopped: Any = False, where: str = "stack config") -> "Pin":
        if not task or not isinstance(placement, dict):
            raise UsageError(f"{where}: config: needs {NAMESPACE}:task and {NAMESPACE}:placement (written by `stix up`)")
        missing = [key for key in _FIELDS if key not in placement and key != "sshCidrs"]
        if missing:
            raise UsageError(f"{where}: config: {NAMESPACE}:placement: missing {', '.join(missing)}")
        values: dict[str, Any] = {field: placement.get(key) for key, field in _FIELDS.items()}
        values["ssh_cidrs"] = tuple(placement.get("sshCidrs") or ())
        try:
            return cls(task=str(task), stopped=bool(stopped), **{
                **values, "accelerator_count": float(values["accelerator_count"]), "vcpus": float(values["vcpus"]),
                "memory_gib": float(values["memory_gib"]), "num_nodes": int(values["num_nodes"]),
                "price_per_node": float(values["price_per_node"]), "hourly_cost": float(values["hourly_cost"]),
                "spot": bool(values["spot"]), "zone": str(values["zone"] or ""), "image": str(values["image"] or ""),
            })
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{where}: config: {NAMESPACE}:placement: {exc}") from None


def _identity(candidate: Candidate) -> tuple:
    return (candidate.cloud, candidate.region, candidate.zone, candidate.instance_type, candidate.accelerator,
            candidate.accelerator_count, candidate.spot)


def keep_pinned(pin: Optional[Pin], placement: Placement) -> Candidate:
    """The pinned placement while it still fits the task, else the optimizer's choice."""
    if pin is not None:
        wanted = _identity(pin.candidate())
        for candidate in placement.candidates:
            if _identity(candidate) == wanted:
                return candidate
    return placement.chosen


def task_reference(root: Path, task_path: Path) -> str:
    path = task_path.absolute()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def read_pin(stack_file: Path) -> Optional[Pin]:
    data = _read_stack_file(stack_file)
    config = data.get("config") or {}
    if f"{NAMESPACE}:placement" not in config:
        return None
    return Pin.from_config(config.get(f"{NAMESPACE}:task"), config.get(f"{NAMESPACE}:placement"),
                           config.get(f"{NAMESPACE}:stopped", False), where=str(stack_file))


def read_spec(stack_file: Path) -> Optional[ClusterSpec]:
    """The compiled spec stored beside the pin: what plain `pulumi preview` deploys."""
    spec = (_read_stack_file(stack_file).get("config") or {}).get(f"{NAMESPACE}:spec")
    if spec is None:
        return None
    try:
        return ClusterSpec.from_dict(spec)
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise UsageError(f"{stack_file}: config: {NAMESPACE}:spec: {exc}") from None


def write_pin(stack_file: Path, pin: Pin, spec: Optional[ClusterSpec] = None) -> bool:
    """Merge the pin and the spec compiled from it into the stack file, keeping what Pulumi and users put
    there; returns whether it changed. The program builds from the spec alone, never from the task file."""
    import yaml

    data = _read_stack_file(stack_file)
    config = {k: v for k, v in (data.get("config") or {}).items() if not k.startswith(f"{NAMESPACE}:")}
    config.update(pin.to_config())
    if spec is not None:
        config[f"{NAMESPACE}:spec"] = json.loads(spec.to_json())
    updated = {**data, "config": config}
    if updated == data:
        return False
    from stix.atomic import write_atomic

    write_atomic(stack_file, yaml.safe_dump(updated, sort_keys=False, default_flow_style=False), new_mode=0o644)
    return True


def _read_stack_file(stack_file: Path) -> dict[str, Any]:
    import yaml

    try:
        text = stack_file.read_text()
    except FileNotFoundError:
        return {}
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{stack_file}:{mark.line + 1}:{mark.column + 1}" if mark else str(stack_file)
        raise UsageError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{stack_file}: expected a mapping of stack settings")
    return data
