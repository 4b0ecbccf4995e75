"""The effective config: the user's file, the project's file and the task's `config:`, layered as SkyPilot layers
~/.sky/config.yaml, .sky.yaml and a task's config: nested mappings merge key by key, a later layer's value wins,
a list is replaced whole. Each layer is checked on its own, so an error names the file and line it is in.

Low in the layers on purpose (stix.home reads its root and the backend through it): it imports models,
stix.located and stix.errors only; the caller finds the project (stix.project) and hands its root in.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from pydantic import ValidationError

from stix.errors import ConfigError, TaskError
from stix.home_root import home_root_from_env
from stix.located import Position, compose, describe, index, most_specific, plain
from stix.models.base import Model
from stix.models.cloud_config import CloudConfig, KubernetesConfig
from stix.models.config import StixConfig
from stix.models.values import SKYPILOT_ONLY_CLOUDS

USER_FILE = "config.yaml"
"""Under stix's home: ~/.stix/config.yaml (SkyPilot's ~/.sky/config.yaml)."""
PROJECT_FILE = ".stix.yaml"
"""In the current directory, else at the project's root (SkyPilot's .sky.yaml)."""
USER_ENV = "STIX_CONFIG"
PROJECT_ENV = "STIX_PROJECT_CONFIG"
ORG_ENV = "STIX_ORG_CONFIG"
"""An organisation's file (also `org_config:` in the user or project file): read last, so its values bind."""
MAX_CONFIG_BYTES = 1024 * 1024

IGNORED_KEYS: tuple[tuple[str, ...], ...] = (
    *((key,) for key in ("workspace", "db", "serve", "spot", "docker", "nvidia_gpus", "api_server",
                         "active_workspace", "workspaces", "provision", "rbac", "logs", "daemons", "data", "ssh")),
    *((cloud,) for cloud in SKYPILOT_ONLY_CLOUDS),
    ("jobs", "bucket"),
    *(("jobs", "controller", key) for key in ("autostop", "high_availability", "consolidation_mode",
                                              "controller_logs_gc_retention_hours", "task_logs_gc_retention_hours")),
)
"""SkyPilot keys stix accepts so that a SkyPilot config file loads, but does not act on: `stix config show` lists
them as ignored. Everything else that is not in StixConfig is an unknown key."""
USER_ONLY = ("backend",)
"""The cluster index in a stix home belongs to one state backend, so only the home's own file may move it."""
NOT_IN_TASK = {
    "allowed_clouds": "set it in the user or project config file",
    "backend": "set it in the user config file or STIX_BACKEND",
    "catalog": "set it in the user or project config file, or STIX_CATALOG_DIR",
    "jobs": "the controller serves every job; set it in the user or project config file",
    "autostop": "set the task's resources.autostop instead",
    "admin_policy": "a task cannot choose the policy that checks it; set it in a config file",
    "org_config": "set it in the user or project config file, or STIX_ORG_CONFIG",
    "policy": "a task cannot choose its own guardrails; set them in a config file",
}
"""Keys a task's `config:` may not set, and what to do instead (SkyPilot refuses allowed_clouds and jobs there too)."""
TASK_NOT_YET = {"hooks": "lifecycle hooks"}
"""Task-only SkyPilot keys of `config:` that validate but that `up` refuses (stix.compile), with why."""
PATH_KEYS = (("catalog", "dir"), ("org_config",), ("policy", "packs"))
"""Paths (or lists of paths), read relative to the file that sets them."""


@dataclass(frozen=True)
class Layer:
    """One source of config: where it came from (a path, or 'task config (...)'), and its mapping."""

    label: str
    data: Mapping[str, Any]
    positions: Mapping[tuple, Position] = field(default_factory=dict)


@dataclass(frozen=True)
class EffectiveConfig:
    values: StixConfig = field(default_factory=StixConfig)
    sources: Mapping[str, str] = field(default_factory=dict)
    """Dotted key ('aws.labels.team') -> where its value came from (a file path, or 'task config (...)')."""
    raw: Mapping[str, Any] = field(default_factory=dict)
    """The layered mapping as written, the ignored SkyPilot keys included (what `stix config show` prints)."""

    def section(self, cloud: str) -> Optional[Union[CloudConfig, KubernetesConfig]]:
        """The config's section for a cloud (`aws:`, `kubernetes:`, ...); None where it sets none, and for the
        clouds that have no section (local, SSH pools)."""
        section = getattr(self.values, cloud, None)
        return section if isinstance(section, (CloudConfig, KubernetesConfig)) else None

    def source(self, key: str) -> str:
        """Where a dotted key (or the first key under it) was set."""
        return next(iter(sources_under(self.sources, key)), "defaults")

    @property
    def allowed_clouds(self) -> Optional[tuple[str, ...]]:
        allowed = self.values.allowed_clouds
        return None if allowed is None else tuple(dict.fromkeys(allowed))

    def leaves(self) -> list[tuple[str, Any, str, bool]]:
        """(dotted key, value, source, ignored by stix) for every value set, in file order."""
        return [(key, value, self.sources.get(key, "?"), ignored(key)) for key, value in _leaves(self.raw)]


def sources_under(sources: Mapping[str, str], key: str) -> list[str]:
    """Where a dotted key was set, or (a mapping's key) each key under it, in order, without repeats: sources
    holds leaf keys only."""
    found = [sources[key]] if key in sources else []
    found += [where for name, where in sources.items() if name.startswith(key + ".")]
    return list(dict.fromkeys(found))


def ignored(key: str) -> bool:
    """Whether a dotted key is one of SkyPilot's that stix accepts and does not act on."""
    parts = tuple(key.split("."))
    return any(parts[:len(path)] == path for path in IGNORED_KEYS)


def load_config(task_config: Optional[Mapping[str, Any]] = None, project_root: Optional[Path] = None,
                task_path: Optional[Path] = None) -> EffectiveConfig:
    """User file, then project file, then the task's `config:`, then the organisation's file (org_layer); later
    layers win key by key, except that an organisation's `policy:` replaces the others' whole.
    project_root: the nearest stix project's root (stix.project.find_project), where `.stix.yaml` is looked for
    when the current directory has none. task_path: named in the task layer's source."""
    layers = [layer for layer in (user_layer(), project_layer(project_root)) if layer is not None]
    if task_config:
        layers.append(task_layer(task_config, task_path))
    org = org_layer(layers)
    if org is not None:
        if "policy" in org.data:  # an organisation that sets guardrails owns all of them: none is loosened below it
            layers = [replace(layer, data={key: value for key, value in layer.data.items() if key != "policy"})
                      if "policy" in layer.data else layer for layer in layers]
        layers.append(org)
    return layered(layers)


def org_layer(layers: list[Layer]) -> Optional[Layer]:
    """The organisation's file: STIX_ORG_CONFIG, else the `org_config:` the project's (else the user's) file names."""
    named = os.environ.get(ORG_ENV)
    if named:
        path, label = Path(named).expanduser().absolute(), ORG_ENV
    else:
        setting = next((layer for layer in reversed(layers) if isinstance(layer.data.get("org_config"), str)), None)
        if setting is None:
            return None
        path = Path(setting.data["org_config"])
        line, col = setting.positions.get(("org_config", "<key>"), (1, 1))
        label = f"{setting.label}:{line}:{col}: org_config"
        if not path.exists():
            raise ConfigError(f"{label}: {path}: no such config file")
    layer = _file_layer(path, label, user_only_refused=True)
    if "org_config" in layer.data:
        line, col = layer.positions.get(("org_config", "<key>"), (1, 1))
        raise ConfigError(f"{layer.label}:{line}:{col}: org_config: an organisation's file cannot name another")
    return layer


def user_config_path(home_root: Optional[Path] = None) -> Path:
    """STIX_CONFIG, else config.yaml in stix's home (home_root; default STIX_HOME, else ~/.stix)."""
    named = os.environ.get(USER_ENV)
    if named:
        return Path(named).expanduser().absolute()
    return (home_root if home_root is not None else home_root_from_env()) / USER_FILE


def project_config_path(project_root: Optional[Path] = None) -> Optional[Path]:
    """STIX_PROJECT_CONFIG, else .stix.yaml in the current directory, else at the project's root."""
    named = os.environ.get(PROJECT_ENV)
    if named:
        return Path(named).expanduser().absolute()
    for directory in (Path.cwd(), project_root):
        if directory is not None and (directory / PROJECT_FILE).is_file():
            return (directory / PROJECT_FILE).absolute()
    return None


def user_layer(home_root: Optional[Path] = None) -> Optional[Layer]:
    path = user_config_path(home_root)
    if not os.environ.get(USER_ENV) and not path.exists():
        return None
    return _file_layer(path, USER_ENV)


def project_layer(project_root: Optional[Path] = None) -> Optional[Layer]:
    path = project_config_path(project_root)
    return None if path is None else _file_layer(path, PROJECT_ENV, user_only_refused=True)


def task_layer(task_config: Mapping[str, Any], task_path: Optional[Path] = None) -> Layer:
    label = f"task config ({task_path})" if task_path is not None else "task config"
    try:
        check_task_config(label, dict(task_config), {})
    except TaskError as exc:
        raise ConfigError(exc.message) from None
    return Layer(label, dict(task_config))


def check_task_config(label: str, data: Any, positions: Mapping[tuple, Position]) -> None:
    """The task loader's check of a task's `config:`, told at its line: keys a task may not set, then the schema.
    A problem here is the task file's, so it is a TaskError. positions: none (a `config:` that came without its
    file, e.g. through the SDK) names the label alone."""
    if not isinstance(data, dict):
        return  # the task model has refused it already
    for key in data:
        if key in NOT_IN_TASK:
            where = label
            if positions:
                line, col = positions.get(("config", key, "<key>"), (1, 1))
                where = f"{label}:{line}:{col}"
            raise TaskError(f"{where}: config.{key}: cannot be set in a task; {NOT_IN_TASK[key]}")
    try:
        _validate(label, _kept(data, task=True), positions, _TaskConfig, wrap=True)
    except ConfigError as exc:
        raise TaskError(exc.message) from None


def user_backend(home_root: Optional[Path] = None) -> Optional[str]:
    """The `backend:` of the user's config file (stix.home: STIX_BACKEND wins, the default is a local directory)."""
    layer = user_layer(home_root)
    return None if layer is None else layered([layer]).values.backend


def layered(layers: list[Layer]) -> EffectiveConfig:
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer in layers:
        merged = _merge(merged, layer.data)
        sources.update({key: layer.label for key, _ in _leaves(layer.data)})
    sources = {key: sources[key] for key, _ in _leaves(merged)}
    try:
        values = StixConfig.model_validate(_kept(merged, task=True))
    except ValidationError as exc:  # each layer passed alone; say which key the layering broke
        error = most_specific(exc.errors())
        loc = ".".join(map(str, error["loc"]))
        where = ", ".join(sources_under(sources, loc)) or "config"
        raise ConfigError(f"{where}: {loc}: {error['msg']}") from None
    return EffectiveConfig(values, sources, merged)


# --- one file ----------------------------------------------------------------------------------


class _TaskConfig(Model):
    """A task's `config:` seen from the task file, so that errors carry the `config.` prefix and its lines."""

    config: Optional[StixConfig] = None


def _file_layer(path: Path, env: str, user_only_refused: bool = False) -> Layer:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{env}={path}: no such config file (unset {env} to use the default)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    layer = _parsed_file(path, stat.st_mtime_ns, stat.st_size)
    if user_only_refused:
        _refuse_user_only(layer)
    _check_catalog_dir(layer)
    return layer


def _check_catalog_dir(layer: Layer) -> None:
    """Outside the parse cache: the directory may come or go while the file stays the same."""
    catalog = layer.data.get("catalog")
    where = catalog.get("dir") if isinstance(catalog, dict) else None
    if isinstance(where, str) and not Path(where).is_dir():
        line, col = layer.positions.get(("catalog", "dir"), (1, 1))
        what = "is not a directory" if Path(where).exists() else "no such directory"
        raise ConfigError(f"{layer.label}:{line}:{col}: catalog.dir: {where}: {what}")


@functools.lru_cache(maxsize=16)
def _parsed_file(path: Path, mtime_ns: int, size: int) -> Layer:
    """One config file, checked alone against the schema; cached while the file is unchanged."""
    label = str(path)
    if path.is_dir():
        raise ConfigError(f"{label}: is a directory, expected a config YAML file")
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{label}: config file is {size} bytes; the limit is {MAX_CONFIG_BYTES}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: config file is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read config file: {exc.strerror}") from None
    try:
        documents = compose(label, text)
        if len(documents) > 1:
            raise ConfigError(f"{label}:{documents[1].start_mark.line + 1}:1: a config file is one YAML document")
        if not documents:
            return Layer(label, {})
        positions: dict[tuple, Position] = {}
        index(label, documents[0], (), positions, budget=[100_000])
        data = plain(label, documents[0])
    except TaskError as exc:
        raise ConfigError(exc.message) from None
    if data is None:
        return Layer(label, {})
    if not isinstance(data, dict):
        raise ConfigError(f"{label}:1:1: a config file is a mapping of keys such as 'allowed_clouds: [aws]', "
                          f"got {type(data).__name__}")
    _validate(label, _kept(data), positions, StixConfig)
    return Layer(label, _relative_paths(data, path.parent), positions)


def _refuse_user_only(layer: Layer) -> None:
    for key in USER_ONLY:
        if key in layer.data:
            line, col = layer.positions.get((key, "<key>"), (1, 1))
            raise ConfigError(f"{layer.label}:{line}:{col}: {key}: set it in the user config file ({user_config_path()}) "
                              f"or STIX_BACKEND: the cluster index in stix's home belongs to one state backend")


def _validate(label: str, data: Mapping[str, Any], positions: Mapping[tuple, Position], model: type[Model],
              wrap: bool = False) -> None:
    try:
        model.model_validate({"config": data} if wrap else data)
    except ValidationError as exc:
        error = most_specific(exc.errors())
        if not positions:
            loc = ".".join(map(str, error["loc"]))
            raise ConfigError(f"{label}: {loc}: {error['msg']}") from None
        raise ConfigError(describe(label, error, dict(positions), model)) from None


def _relative_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    for path in PATH_KEYS:
        parent = data
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None  # type: ignore[assignment]
        value = parent.get(path[-1]) if isinstance(parent, dict) else None
        if isinstance(value, str):
            parent[path[-1]] = _resolved(base, value)
        elif isinstance(value, list):
            parent[path[-1]] = [_resolved(base, item) if isinstance(item, str) else item for item in value]
    backend = data.get("backend")
    if isinstance(backend, str) and backend.startswith("file://"):
        where = Path(backend[len("file://"):]).expanduser()
        data["backend"] = f"file://{(base / where).resolve()}"
    return data


# --- layering ----------------------------------------------------------------------------------


def _resolved(base: Path, value: str) -> str:
    return str((base / Path(value).expanduser()).resolve())


def _kept(data: Mapping[str, Any], task: bool = False) -> dict[str, Any]:
    """The mapping without the ignored SkyPilot keys (and, from a task, those `up` refuses)."""
    out = {key: value for key, value in data.items() if not (task and key in TASK_NOT_YET)}
    for path in IGNORED_KEYS:
        parent: Any = out
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and path[-1] in parent:
            _copy_down(out, path[:-1]).pop(path[-1])
    return out


def _copy_down(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """The mapping at path, copied (with its parents) so that popping from it leaves the caller's data alone."""
    for key in path:
        data[key] = dict(data[key])
        data = data[key]
    return data


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and value:
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _leaves(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(_leaves(value, dotted + "."))
        else:
            out.append((dotted, value))
    return out
