"""Parsers for the value spellings SkyPilot accepts, as pure functions.

Each returns a typed record or raises ValueError with a message meant for a
user; the pydantic validators call these so the error lands at the field's
line and column.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union

CLOUDS = ("local", "aws", "gcp", "azure", "kubernetes", "ssh")
SKYPILOT_ONLY_CLOUDS = ("lambda", "runpod", "nebius", "oci", "ibm", "scp", "vsphere", "cudo", "fluidstack",
                        "paperspace", "do", "vast", "hyperbolic", "hyperstack", "primeintellect", "seeweb", "shadeform",
                        "slurm", "coreweave", "cloudrift", "mithril", "modal", "novita", "ovhcloud", "scaleway",
                        "simplepod", "spheron", "latitude", "lium", "daytona", "openstack", "ppio")
"""Clouds SkyPilot runs on and stix does not (yet): a task naming one validates; `up` and `optimize` refuse it."""
KNOWN_CLOUDS = CLOUDS + SKYPILOT_ONLY_CLOUDS
CLOUD_ALIASES = {"k8s": "kubernetes"}
DISK_TIERS = ("low", "medium", "high", "ultra", "best")
NETWORK_TIERS = ("standard", "best")
STORE_TYPES = ("s3", "gcs", "azure", "r2", "ibm", "oci", "nebius", "coreweave", "cos", "local")
"""SkyPilot's store types (StoreType), cos as ibm's alias, and stix's `local` (the local cloud's object store)."""
MOUNT_MODES = ("MOUNT", "COPY", "MOUNT_CACHED")
RECOVERY_STRATEGIES = ("FAILOVER", "EAGER_NEXT_REGION", "DYNAMIC_NODE_SET")
WAIT_FOR = ("jobs_and_ssh", "jobs", "none")
BUCKET_SCHEMES = ("s3", "gs", "r2", "cos", "oci", "azure", "https", "nebius", "cw", "local")

# Canonical spellings; matching is case-insensitive. TPUs (tpu-*) are accepted by pattern.
ACCELERATORS = (
    "A10", "A10G", "A100", "A100-40GB", "A100-80GB", "A16", "A30", "A40", "B100", "B200", "GB200",
    "H100", "H100-MEGA", "H100-80GB", "H200", "H20", "K80", "L4", "L40", "L40S", "M60", "MI300X",
    "MI250X", "MI210", "P100", "P4", "P40", "RTX3090", "RTX4090", "RTX6000", "RTXPRO6000",
    "T4", "T4g", "V100", "V100-32GB", "Gaudi HL-205", "Inferentia", "Inferentia2", "Trainium", "Trainium2",
    "Radeon Pro V520",
)
_ACCEL_BY_LOWER = {name.lower(): name for name in ACCELERATORS}
ACCELERATOR_ALIASES = {"A100-40GB": "A100", "H100-80GB": "H100"}
"""Names a task may use for a GPU the catalogs list under another: SkyPilot's catalogs call the 40 GB A100 'A100'
(the 80 GB one 'A100-80GB') and the 80 GB H100 'H100', so these spellings mean the same offers."""
_ALIAS_BY_LOWER = {alias.lower(): canonical for alias, canonical in ACCELERATOR_ALIASES.items()}
_TPU = re.compile(r"tpu-v\d+[a-z]*(-\d+)?", re.IGNORECASE)


def did_you_mean(value: str, choices: tuple[str, ...] | list[str]) -> str:
    lowered = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.5)
    if close:
        return f"; did you mean {lowered[close[0]]!r}?"
    if len(choices) <= 8:
        return f"; expected one of {', '.join(choices)}"
    return ""


def choice(kind: str, value: Any, choices: tuple[str, ...], case_sensitive: bool = False) -> str:
    text = str(value)
    for option in choices:
        if text == option or (not case_sensitive and text.lower() == option.lower()):
            return option
    raise ValueError(f"unknown {kind} {text!r}{did_you_mean(text, choices)}")


# --- infra -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Infra:
    cloud: Optional[str]
    """None for a '*' wildcard."""
    region: Optional[str] = None
    zone: Optional[str] = None
    spelling: Optional[str] = field(default=None, compare=False)
    """What the user wrote; every typed value keeps it, so a task file round-trips unchanged."""

    def to_spelling(self) -> str:
        if self.spelling is not None:
            return self.spelling
        parts = [self.cloud or "*", self.region, self.zone]
        return "/".join(part or "*" for part in parts[: max(i + 1 for i, p in enumerate(parts) if p or i == 0)])


def parse_infra(text: str) -> Infra:
    """cloud[/region[/zone]], k8s[/context], ssh/<pool>, with '*' wildcards."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("infra must be a string such as 'aws', 'gcp/us-central1' or 'k8s'")
    return _parse_infra(text.strip(), text)


def _parse_infra(text: str, spelling: str) -> Infra:
    parts = text.split("/")
    head = parts[0].lower()
    head = CLOUD_ALIASES.get(head, head)
    if head == "*":
        cloud = None
    else:
        cloud = choice("cloud", head, KNOWN_CLOUDS)
    rest = [None if p == "*" else p for p in parts[1:]]
    if cloud == "kubernetes":
        # The remainder is a context name, which may itself contain '/'.
        return Infra(cloud, "/".join(parts[1:]) or None, spelling=spelling)
    if cloud == "ssh":
        if len(parts) != 2 or not parts[1]:
            raise ValueError("ssh infra must be 'ssh/<pool>'")
        return Infra(cloud, parts[1], spelling=spelling)
    if len(rest) > 2:
        raise ValueError(f"infra {text!r} has too many parts; expected cloud[/region[/zone]]")
    if any(p == "" for p in rest):
        raise ValueError(f"infra {text!r} has an empty part")
    region, zone = (rest + [None, None])[:2]
    return Infra(cloud, region, zone, spelling=spelling)


# --- accelerators ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Accelerator:
    name: str
    count: float

    def __str__(self) -> str:
        return f"{self.name}:{number(self.count)}"


@dataclass(frozen=True, eq=False)
class Accelerators(Mapping[str, Union[int, float]]):
    """`resources.accelerators`, parsed: the choices, and whether their order is a preference.

    Also SkyPilot's public value, a mapping of name to count: 'A100:8' == {'A100': 8}, 'A100' == {'A100': 1};
    a list or set of choices maps each name to its count (in the list's order)."""

    choices: tuple[Accelerator, ...]
    ordered: bool = False
    spelling: Any = field(default=None, compare=False)

    def __getitem__(self, name: str) -> Union[int, float]:
        for choice in self.choices:
            if choice.name == name:
                return int(choice.count) if choice.count == int(choice.count) else choice.count
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(choice.name for choice in self.choices))

    def __len__(self) -> int:
        return len(dict.fromkeys(choice.name for choice in self.choices))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Accelerators):
            return (self.choices, self.ordered) == (other.choices, other.ordered)
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.choices, self.ordered))

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def to_spelling(self) -> Any:
        if self.spelling is not None:
            return self.spelling
        names = [str(choice) for choice in self.choices]
        return names[0] if len(names) == 1 else names if self.ordered else {name: None for name in names}


def number(value: float) -> str:
    """A count or size as people write it: 2, not 2.0; 0.5 stays 0.5."""
    return str(int(value)) if value == int(value) else f"{value:g}"


def canonical_accelerator(name: str) -> str:
    name = name.strip()
    if _TPU.fullmatch(name):
        return name.lower()
    lowered = name.lower()
    found = _ALIAS_BY_LOWER.get(lowered) or _ACCEL_BY_LOWER.get(lowered)
    if found:
        return found
    raise ValueError(f"unknown accelerator {name!r}{did_you_mean(name, ACCELERATORS)}")


def _count(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"accelerator count for {name} must be a number, got {value!r}")
    try:
        count = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"accelerator count for {name} must be a number, got {value!r}") from None
    if count <= 0:
        raise ValueError(f"accelerator count for {name} must be positive, got {value!r}")
    if count > 1 and count != int(count):
        raise ValueError(f"fractional accelerator counts must be below 1, got {value!r}")
    return count


def parse_accelerator(text: str) -> Accelerator:
    """'H100:8', 'H100', 'tpu-v2-8'."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"accelerator must be a string like 'H100:8', got {text!r}")
    name, colon, count = text.partition(":")
    canonical = canonical_accelerator(name)
    return Accelerator(canonical, _count(count, canonical) if colon else 1.0)


def parse_accelerators(value: Any) -> Accelerators:
    """Every spelling SkyPilot accepts.

    A string or one-entry dict is one choice; a list is an ordered preference;
    a dict of several entries or a set (a YAML mapping with null values) is unordered.
    """
    if isinstance(value, (set, frozenset)):
        value = {item: None for item in sorted(value, key=str)}
    choices, ordered = _accelerator_choices(value)
    return Accelerators(tuple(choices), ordered, value)


def _accelerator_choices(value: Any) -> tuple[list[Accelerator], bool]:
    if isinstance(value, str):
        return [parse_accelerator(value)], False
    if isinstance(value, dict):
        out = []
        for name, count in value.items():
            if count is None:
                out.append(parse_accelerator(str(name)))
            else:
                canonical = canonical_accelerator(str(name))
                out.append(Accelerator(canonical, _count(count, canonical)))
        if not out:
            raise ValueError("accelerators must not be empty")
        return out, False
    if isinstance(value, (list, tuple, set, frozenset)):
        out = []
        for item in value:
            if isinstance(item, dict):
                out.extend(_accelerator_choices(item)[0])
            else:
                out.append(parse_accelerator(item))
        if not out:
            raise ValueError("accelerators must not be empty")
        return out, isinstance(value, (list, tuple))
    raise ValueError(f"accelerators must be a string like 'H100:8', a list or a mapping, got {type(value).__name__}")


# --- sizes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Amount:
    value: float
    at_least: bool
    """'4+' means at least 4; '4' means exactly 4."""
    spelling: Any = field(default=None, compare=False)

    def to_spelling(self) -> Any:
        if self.spelling is not None:
            return self.spelling
        return f"{number(self.value)}+" if self.at_least else (int(self.value) if self.value == int(self.value) else self.value)


def parse_cpus(value: Union[int, float, str]) -> Amount:
    amount = _amount(value, "cpus", units=False)
    return Amount(amount.value, amount.at_least, value)


_UNITS = {"": 1.0, "k": 1 / 1024 / 1024, "kb": 1 / 1024 / 1024, "m": 1 / 1024, "mb": 1 / 1024,
          "g": 1.0, "gb": 1.0, "gi": 1.0, "gib": 1.0, "t": 1024.0, "tb": 1024.0, "ti": 1024.0, "tib": 1024.0,
          "mi": 1 / 1024, "mib": 1 / 1024}


@dataclass(frozen=True)
class Memory:
    gib: Optional[float]
    at_least: bool
    per_cpu: Optional[float] = None
    """'4x': memory is 4 GiB per vCPU."""
    spelling: Any = field(default=None, compare=False)

    def __str__(self) -> str:
        if self.per_cpu is not None:
            return f"{number(self.per_cpu)}x"
        return f"{number(self.gib or 0)}" + ("+" if self.at_least else "")

    def to_spelling(self) -> Any:
        return self.spelling if self.spelling is not None else str(self)


def parse_memory(value: Union[int, float, str]) -> Memory:
    if isinstance(value, str) and value.strip().lower().endswith("x"):
        number = value.strip()[:-1]
        try:
            ratio = float(number)
        except ValueError:
            raise ValueError(f"memory {value!r}: expected a number before 'x', like '4x'") from None
        if ratio <= 0:
            raise ValueError(f"memory {value!r} must be positive")
        return Memory(None, True, ratio, value)
    amount = _amount(value, "memory", units=True)
    return Memory(amount.value, amount.at_least, spelling=value)


@dataclass(frozen=True)
class DiskSize:
    gib: int
    spelling: Any = field(default=None, compare=False)

    def to_spelling(self) -> Any:
        return self.gib if self.spelling is None else self.spelling


def parse_disk_size(value: Union[int, str]) -> DiskSize:
    """Disk size in GiB: 256, '256', '256GB', '1TB'."""
    amount = _amount(value, "disk_size", units=True, plus=False)
    if amount.value != int(amount.value):
        raise ValueError(f"disk_size {value!r} must be a whole number of GiB")
    return DiskSize(int(amount.value), value)


def _amount(value: Any, field: str, units: bool, plus: bool = True) -> Amount:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{field} must be a number or a string like '4+', got {type(value).__name__}")
    text = str(value).strip()
    at_least = plus and text.endswith("+")
    if at_least:
        text = text[:-1].strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)", text)
    if not match or (match.group(2) and not units):
        example = "'4+' or 4" if plus else "256 or '1TB'"
        raise ValueError(f"{field} {value!r} is not a valid size; expected something like {example}")
    unit = match.group(2).lower()
    if unit not in _UNITS:
        raise ValueError(f"{field} {value!r}: unknown unit {match.group(2)!r}; use GB or TB")
    number = float(match.group(1)) * _UNITS[unit]
    if number <= 0:
        raise ValueError(f"{field} must be positive, got {value!r}")
    return Amount(number, at_least)


_RCLONE_SIZE = re.compile(r"[0-9]+[BKMGTPbkmgtp]?")
_RCLONE_DURATION = re.compile(r"([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h|d|w|M|y))+|[0-9]+")


def check_rclone_size(field: str, value: Any) -> str:
    """rclone's size spelling (SkyPilot's pattern): 256, '64M', '1G'."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _RCLONE_SIZE.fullmatch(text):
        raise ValueError(f"{field} {value!r} is not a size; expected a number with an optional B/K/M/G/T/P suffix, like '64M'")
    return text


def check_rclone_duration(field: str, value: Any) -> str:
    """rclone's duration spelling: '5s', '1h30m', '10m'."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _RCLONE_DURATION.fullmatch(text):
        raise ValueError(f"{field} {value!r} is not a duration; expected something like '5s', '10m' or '1h30m'")
    return text


# --- ports -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ports:
    ranges: tuple[tuple[int, int], ...]
    """Inclusive ranges."""
    spelling: Any = field(default=None, compare=False)

    def to_spelling(self) -> Any:
        if self.spelling is not None:
            return self.spelling
        return [str(low) if low == high else f"{low}-{high}" for low, high in self.ranges]


def parse_ports(value: Any) -> Ports:
    """8080, '8080', '10020-10040', or a list of those."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("ports must not be empty")
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise ValueError(f"port {item!r} must be a number or a range like '10020-10040'")
        text = str(item).strip()
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", text)
        if not match:
            raise ValueError(f"port {item!r} must be a number or a range like '10020-10040'")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        for port in (low, high):
            if not 1 <= port <= 65535:
                raise ValueError(f"port {port} is outside 1-65535")
        if low > high:
            raise ValueError(f"port range {text!r} is reversed; write '{high}-{low}'")
        out.append((low, high))
    return Ports(tuple(out), value)


# --- autostop --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Autostop:
    enabled: bool
    idle_minutes: int = 5
    down: bool = False
    wait_for: str = "jobs_and_ssh"
    hook: Optional[str] = None
    """A script the head runs before the stop (the node agent keeps its output in ~/.stix-agent/autostop_hook.log)."""
    hook_timeout: Optional[int] = None
    """Seconds the hook may run; None: SkyPilot's default (an hour)."""
    spelling: Any = field(default=None, compare=False)

    def to_spelling(self) -> Any:
        if self.spelling is not None:
            return self.spelling
        if not self.enabled:
            return False
        return {"idle_minutes": self.idle_minutes, "down": self.down, "wait_for": self.wait_for}


_DURATION = re.compile(r"(\d+)\s*([smhd]?)", re.IGNORECASE)


def parse_duration_minutes(value: Union[int, str]) -> int:
    """5 (minutes), '30m', '10h', '1d'."""
    if isinstance(value, bool):
        raise ValueError(f"duration must be minutes or a string like '10h', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"idle minutes must not be negative, got {value}")
        return value
    match = _DURATION.fullmatch(str(value).strip())
    if not match:
        raise ValueError(f"duration {value!r} must be minutes or a string like '30m', '10h', '1d'")
    number, unit = int(match.group(1)), match.group(2).lower()
    return {"": number, "m": number, "h": number * 60, "d": number * 1440, "s": -(-number // 60)}[unit]


def parse_autostop(value: Any) -> Autostop:
    if isinstance(value, bool):
        return Autostop(enabled=value, spelling=value)
    if isinstance(value, (int, str)):
        return Autostop(enabled=True, idle_minutes=parse_duration_minutes(value), spelling=value)
    raise ValueError("autostop must be true/false, minutes, a duration like '10h', or a mapping")


# --- env names -------------------------------------------------------------------------------

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_env_name(name: Any) -> str:
    if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
        raise ValueError(f"invalid environment variable name {name!r}: use letters, digits and '_', not starting with a digit")
    return name


# --- task (and job) names ----------------------------------------------------------------------

MAX_TASK_NAME = 128


def check_task_name(name: str) -> str:
    """Free text, as SkyPilot's, but one printable line: it names jobs in queues and logs."""
    if not name.strip():
        raise ValueError("name must not be empty")
    if len(name) > MAX_TASK_NAME:
        raise ValueError(f"name is {len(name)} characters; the limit is {MAX_TASK_NAME}")
    if not name.isprintable():
        raise ValueError(f"name {name!r} holds a control character (a line break?); use one printable line")
    return name


# --- SkyPilot 0.14's newer fields ------------------------------------------------------------

MIN_PRIORITY, MAX_PRIORITY = -1000, 1000
FILE_MOUNT_TYPES = ("MODEL_CHECKPOINT_RO", "MODEL_CHECKPOINT_RW", "DATASET_RO", "DATASET_RW")
"""storage.type: SkyPilot's MOUNT_CACHED presets."""
SPOT_PLACERS = ("dynamic_fallback", "dynamic_fallback_per_gpu")
HOOK_EVENTS = ("stop", "preemption", "down")
EXECUTION_MODES = ("serial", "parallel")
_SECONDS = re.compile(r"[0-9]+([smhdwSMHDW])?")
_MEMORY_SIZE = re.compile(r"[0-9]+(kb|ki|mb|mi|gb|gi|tb|ti|pb|pi|KB|KI|MB|MI|GB|GI|TB|TI|PB|PI|Kb|Ki|Mb|Mi|Gb|Gi|Tb|Ti|Pb|Pi)?")


def check_seconds_duration(value: Any, what: str = "") -> Union[int, str]:
    """SkyPilot's TIME_PATTERN_SECONDS: 30, '30s', '5m', '1h', '2d', '1w'."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not _SECONDS.fullmatch(str(value)):
        raise ValueError(f"{what}{value!r} is not a duration; expected a number of seconds or NUMBER[s|m|h|d|w], "
                         "like '30s' or '5m'")
    return value


def check_memory_size(field_name: str, value: Any) -> Union[int, str]:
    """SkyPilot's MEMORY_SIZE_PATTERN: 100, '100', '100Gi', '1TB'."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not _MEMORY_SIZE.fullmatch(str(value)):
        raise ValueError(f"{field_name} {value!r} is not a size; expected a whole number with an optional unit, "
                         "like 100, '100Gi' or '1TB'")
    return value


def check_job_group_name(kind: str, name: Any) -> str:
    """Job group and member names become host names: letters, digits, '-' and '_' only."""
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"{kind} {name!r} may hold only letters, digits, '-' and '_'")
    return name
