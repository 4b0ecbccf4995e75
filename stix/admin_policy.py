"""Admin policies, SkyPilot's interface (sky.AdminPolicy): a class named in stix's config (`admin_policy:
module.Class`) that sees every request before it is planned and returns it unchanged, rewritten, or refuses it.

    from stix.admin_policy import AdminPolicy, MutatedUserRequest, UserRequest, UserRequestRejectedByPolicy

    class Guard(AdminPolicy):
        @classmethod
        def validate_and_mutate(cls, user_request: UserRequest) -> MutatedUserRequest:
            task = user_request.task                      # a private copy: change it in place ...
            if (task.resources.accelerators or "").startswith("H100"):
                raise UserRequestRejectedByPolicy("H100s need a reservation")
            task.resources.use_spot = True
            task.resources.labels = {**(task.resources.labels or {}), "team": "ml"}
            # ... or build a new one: Task.model_validate({**task.to_config(), "num_nodes": 1})
            return MutatedUserRequest(task, user_request.skypilot_config)

The task is stix's Task (pydantic). A policy may assign its fields (nested models included), use
`model_copy(update=...)`, or round-trip it through a dict (`task.to_config()` -> `Task.model_validate(...)`);
whatever comes back is validated again from what it sets, so a value a plain assignment let through unchecked is
refused then. `skypilot_config` is the effective config as a mapping (a dict with SkyPilot's get_nested /
set_nested); a changed one is validated, and plans `up`/`launch` and a preview (stix.stages.target_of); `exec`,
`jobs launch` and `serve up`/`update` go on with the returned task and the config files. `request_options` (None
for `exec`, `jobs launch` and `serve up`/`update`, which arm no autostop) carry the autostop the user asked for:
a policy sets autostop either in the task (`task.resources.autostop = {...}`) or, a stix extension, by changing
the options it was handed (or returning new ones in MutatedUserRequest.request_options); cluster_name and dryrun
are for reading.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Optional

from pydantic import BaseModel, ValidationError

from stix.config import EffectiveConfig, Layer, layered, load_config
from stix.errors import ConfigError, PolicyError, PolicyViolations, StixError, UserRequestRejectedByPolicy
from stix.located import most_specific
from stix.models.task import REDACTED, Task

if TYPE_CHECKING:
    from stix.session import Session

__all__ = ["AdminPolicy", "Applied", "Config", "MutatedUserRequest", "RequestOptions", "UserRequest",
           "UserRequestRejectedByPolicy", "apply_admin_policy", "load_policy", "note_changes", "police"]

PACK = "admin_policy"
"""The `pack` of the Violation a rejection is reported as."""


class Config(dict):
    """The effective config handed to a policy: a plain nested mapping with SkyPilot's sky.Config helpers."""

    def get_nested(self, keys: Iterable[str], default_value: Any = None) -> Any:
        node: Any = self
        for key in keys:
            if not isinstance(node, Mapping) or key not in node:
                return default_value
            node = node[key]
        return node

    def set_nested(self, keys: Iterable[str], value: Any) -> None:
        *parents, last = list(keys)
        node: dict = self
        for key in parents:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[last] = value


@dataclass
class RequestOptions:
    """What the user asked for beside the task (SkyPilot's names). idle_minutes_to_autostop and down may be
    changed by a policy; cluster_name and dryrun (a preview or `stix policy check`) are for reading."""

    cluster_name: Optional[str]
    idle_minutes_to_autostop: Optional[float]
    down: bool
    dryrun: bool


@dataclass
class UserRequest:
    """One request: `stix up`/`launch`, `exec`, `jobs launch` or `serve up`/`update`. stix runs on the client, so
    at_client_side is always True."""

    task: Task
    skypilot_config: Config
    request_options: Optional[RequestOptions] = None
    at_client_side: bool = True


@dataclass
class MutatedUserRequest:
    task: Task
    skypilot_config: Any
    request_options: Optional[RequestOptions] = None
    """stix's extension: new request options; None keeps the ones the policy was handed (changed in place or not)."""


class AdminPolicy:
    """Subclass it and implement the classmethod validate_and_mutate (see the module's docstring)."""

    @classmethod
    def validate_and_mutate(cls, user_request: UserRequest) -> MutatedUserRequest:
        raise NotImplementedError("Your policy must implement validate_and_mutate")


@dataclass(frozen=True)
class Applied:
    """A request after the policy: the task and config to plan with, the options, and what changed (one line
    each, 'resources.use_spot: None -> True'; secret values redacted)."""

    task: Task
    config: EffectiveConfig
    options: Optional[RequestOptions] = None
    changes: tuple[str, ...] = field(default=())


def load_policy(config: EffectiveConfig, project_root: Optional[Path] = None) -> Optional[type[AdminPolicy]]:
    """The class `admin_policy:` names, imported with the project's root and the directory of the config file
    that named it first on sys.path; None when no config names one."""
    named = config.values.admin_policy
    if not named:
        return None
    source = config.source("admin_policy")
    where = f"{source}: admin_policy {named}"
    module_name, _, class_name = named.rpartition(".")
    dirs = _search_dirs(config, project_root)
    try:
        with _importable(dirs):
            importlib.invalidate_caches()
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            looked = ", ".join([*dirs, "the installed packages"])
            raise PolicyError(f"{where}: no module named {exc.name!r} (looked in {looked})") from None
        raise PolicyError(f"{where}: importing {module_name} failed: {_said(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - whatever the admin's module raises is its error, told in one line
        raise PolicyError(f"{where}: importing {module_name} failed: {_said(exc)}") from None
    found = getattr(module, class_name, None)
    if found is None:
        raise PolicyError(f"{where}: module {module_name} has no {class_name!r}")
    if not (isinstance(found, type) and issubclass(found, AdminPolicy)):
        raise PolicyError(f"{where}: {class_name} is not a subclass of stix.admin_policy.AdminPolicy")
    return found


def apply_admin_policy(config: EffectiveConfig, project_root: Optional[Path], task: Task,
                       options: Optional[RequestOptions], resource: str,
                       task_path: Optional[Path] = None) -> Applied:
    """Run the config's admin policy on one request. resource: what a rejection names (the cluster, the managed
    job or the service). A rejection is PolicyViolations (exit 4); a policy that cannot be loaded or run, returns
    something else than a MutatedUserRequest, or a task or config that no longer validates, is a PolicyError."""
    policy = load_policy(config, project_root)
    if policy is None:
        return Applied(task, config, options)
    where = f"{config.source('admin_policy')}: admin_policy {config.values.admin_policy}"
    handed = Config(copy.deepcopy(dict(config.raw)))
    request = UserRequest(task.model_copy(deep=True), handed, replace(options) if options is not None else None)
    try:
        with _importable(_search_dirs(config, project_root)):  # for what the policy imports as it runs
            result = policy.validate_and_mutate(request)
    except UserRequestRejectedByPolicy as exc:
        from stix.policy.violations import MANDATORY, Violation

        said = str(exc) or "rejected"
        violation = Violation(PACK, policy.__name__, MANDATORY, resource, "request", said)
        raise PolicyViolations(f"admin policy {policy.__name__} rejected the request for {resource}: {said}",
                               (violation,)) from None
    except Exception as exc:  # noqa: BLE001 - a failing policy is an error, never a silent pass
        raise PolicyError(f"{where} failed: {_said(exc)}") from None
    if not isinstance(result, MutatedUserRequest):
        raise PolicyError(f"{where}: returned {type(result).__name__}, expected a MutatedUserRequest")
    new_task = _revalidated(where, task, result.task)
    new_options = _options(where, options, result.request_options or request.request_options)
    new_config = config
    if new_task.config != task.config:
        new_config = _loaded(where, new_task, project_root, task_path)
    returned = result.skypilot_config
    if not isinstance(returned, Mapping):
        raise PolicyError(f"{where}: returned skypilot_config of type {type(returned).__name__}, expected a mapping")
    if _plain(returned) != _plain(config.raw):
        new_config = _config_from(where, policy.__name__, returned, new_config)
    changes = _task_changes(task, new_task) + _option_changes(options, new_options) + \
        _config_changes(config, new_config)
    return Applied(new_task, new_config, new_options, tuple(dict.fromkeys(changes)))  # a task's config: shows once


_FIND = object()


def police(session: Session, task: Task, task_path: Optional[Path], options: Optional[RequestOptions],
           resource: str, project: Any = _FIND) -> Applied:
    """apply_admin_policy on one request, with the config the task is planned with (the user's, the project's
    and the task's, stix.project.config_for), each change noted once. task_path: the task's file (a label that
    is no file, such as '<sdk>', counts as none). project: found from the current directory unless given (a
    batch finds it once)."""
    from stix.project import config_for, find_project

    if task_path is not None and not Path(task_path).is_file():
        task_path = None
    if project is _FIND:
        project = find_project()
    applied = apply_admin_policy(config_for(task, task_path, project), project.root if project else None, task,
                                 options, resource, task_path)
    note_changes(session, applied.changes)
    return applied


def note_changes(session: Session, changes: Iterable[str]) -> None:
    """What an admin policy changed, one note each ('Admin policy changed resources.use_spot: None -> True')."""
    for line in changes:
        session.note(f"Admin policy changed {line}")


# --- what came back --------------------------------------------------------------------------------------


def _revalidated(where: str, original: Task, returned: Any) -> Task:
    if not isinstance(returned, Task):
        raise PolicyError(f"{where}: returned a task of type {type(returned).__name__}, expected stix's Task")
    try:
        data = _written(returned)
        task = type(original).model_validate(data)
    except ValidationError as exc:
        error = most_specific(exc.errors())
        loc = ".".join(str(part) for part in error["loc"])
        raise PolicyError(f"{where}: the task it returned does not validate: {loc}: {error['msg']}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise PolicyError(f"{where}: the task it returned does not validate: {_said(exc)}") from None
    if task.config:
        from stix.config import check_task_config

        try:
            check_task_config("task config", task.config, {})
        except StixError as exc:
            raise PolicyError(f"{where}: the task it returned does not validate: {exc.message}") from None
    return task


def _options(where: str, handed: Optional[RequestOptions], returned: Any) -> Optional[RequestOptions]:
    """The request options to go on with: the returned ones, checked (the handed ones if a policy dropped them)."""
    if handed is None:
        return None
    if returned is None:
        return handed
    if not isinstance(returned, RequestOptions):
        raise PolicyError(f"{where}: returned request_options of type {type(returned).__name__}, expected RequestOptions")
    idle = returned.idle_minutes_to_autostop
    if idle is not None and (isinstance(idle, bool) or not isinstance(idle, (int, float)) or idle < 0):
        raise PolicyError(f"{where}: request_options.idle_minutes_to_autostop {idle!r}: expected a number of minutes "
                          f"(0 or more) or None")
    if not isinstance(returned.down, bool):
        raise PolicyError(f"{where}: request_options.down {returned.down!r}: expected True or False")
    return replace(handed, idle_minutes_to_autostop=idle, down=returned.down)


def _written(value: Any) -> Any:
    """A model as the data that would build it again: the fields it sets (assigned ones included, even those
    assigned without validation), parsed values in their written spelling."""
    if isinstance(value, BaseModel):
        out = {}
        fields = type(value).model_fields
        for name, info in fields.items():
            if name in value.model_fields_set:
                item = getattr(value, name)
                if item is not None:
                    out[info.alias or name] = _written(item)
        return out
    if isinstance(value, dict):
        return {key: _written(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_written(item) for item in value]
    spelling = getattr(value, "to_spelling", None)
    return spelling() if callable(spelling) else value


def _loaded(where: str, task: Task, project_root: Optional[Path], task_path: Optional[Path]) -> EffectiveConfig:
    try:
        return load_config(task.config, project_root, task_path)
    except StixError as exc:
        raise PolicyError(f"{where}: the task config it returned does not validate: {exc.message}") from None


def _config_from(where: str, label: str, data: Mapping[str, Any], before: EffectiveConfig) -> EffectiveConfig:
    """The config a policy returned, validated; leaves it did not change keep their source."""
    plain = _plain(data)
    try:
        made = layered([Layer(f"admin policy {label}", plain)])
    except ConfigError as exc:
        raise PolicyError(f"{where}: the config it returned does not validate: {exc.message}") from None
    old = dict(_leaves(_plain(before.raw)))
    sources = {key: (before.sources.get(key, made.sources[key]) if key in old and old[key] == value
                     else made.sources[key]) for key, value in _leaves(plain)}
    return EffectiveConfig(made.values, sources, made.raw)


def _plain(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {str(key): _plain(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(item) for item in data]
    return data


# --- what changed ------------------------------------------------------------------------------------------


def _task_changes(before: Task, after: Task) -> list[str]:
    old = dict(_leaves(_redacted(before.model_dump(mode="json", by_alias=True))))
    new = dict(_leaves(_redacted(after.model_dump(mode="json", by_alias=True))))
    return _diff(old, new)


def _option_changes(before: Optional[RequestOptions], after: Optional[RequestOptions]) -> list[str]:
    if before is None or after is None:
        return []
    names = ("idle_minutes_to_autostop", "down")
    return _diff({n: getattr(before, n) for n in names}, {n: getattr(after, n) for n in names})


def _config_changes(before: EffectiveConfig, after: EffectiveConfig) -> list[str]:
    if after is before:
        return []
    old = {f"config.{key}": value for key, value in _leaves(_plain(before.raw))}
    new = {f"config.{key}": value for key, value in _leaves(_plain(after.raw))}
    return _diff(old, new)


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    keys = list(dict.fromkeys([*old, *new]))
    return [f"{key}: {_shown(old.get(key))} -> {_shown(new.get(key))}" for key in keys if old.get(key) != new.get(key)]


def _redacted(data: dict[str, Any]) -> dict[str, Any]:
    secrets = data.get("secrets")
    if isinstance(secrets, dict):
        data["secrets"] = {key: (None if value is None else REDACTED) for key, value in secrets.items()}
    return data


def _leaves(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Dotted keys and values; a mapping is walked into (an empty one has none), a list is one value."""
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.extend(_leaves(value, f"{prefix}{key}."))
        else:
            out.append((f"{prefix}{key}", value))
    return out


def _shown(value: Any) -> str:
    if value is None or isinstance(value, (bool, int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _said(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _search_dirs(config: EffectiveConfig, project_root: Optional[Path]) -> list[str]:
    found = (project_root, _directory_of(config.source("admin_policy")))
    return list(dict.fromkeys(str(d) for d in found if d is not None))


_SYS_PATH = threading.RLock()
"""Held while sys.path carries a policy's directories: the serve and jobs controllers police requests from
several threads, and overlapping saves and restores would drop each other's entries (or leave one behind)."""


@contextmanager
def _importable(dirs: list[str]) -> Iterator[None]:
    """dirs first on sys.path for a while (then sys.path as it was); one thread at a time."""
    with _SYS_PATH:
        saved = list(sys.path)
        sys.path[:0] = [d for d in dirs if d not in sys.path]
        try:
            yield
        finally:
            sys.path[:] = saved


def _directory_of(source: str) -> Optional[Path]:
    """The directory of the config file a key came from (sources are file paths, or 'defaults')."""
    path = Path(source)
    return path.parent if path.is_absolute() and path.is_file() else None
