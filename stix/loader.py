"""load_pipeline() / load_task(): the one place a task file becomes Tasks, or a one-line error.

Every problem is reported as `file:line:col: field.path: what is wrong`, with
the position taken from the YAML node the problem is about.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from stix.envs import SUBSTITUTED_FIELDS, substitute
from stix.errors import TaskError
from stix.models.job_group import JobGroup
from stix.models.task import Task

MAX_TASK_BYTES = 16 * 1024 * 1024
MAX_NODES = 500_000
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML has it (several times faster); node marks carry the same positions."""
Position = tuple[int, int]


@dataclass(frozen=True)
class EnvOverrides:
    """Values from --env-file / --env and --secret, already merged in precedence order."""

    envs: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedTask:
    task: Task
    positions: dict[tuple, Position]


@dataclass(frozen=True)
class Pipeline:
    name: Optional[str]
    tasks: list[Task]
    lines: tuple[int, ...] = ()
    """The line each task's document starts on, for errors found after loading (a managed job's prechecks)."""
    header: Optional[JobGroup] = None
    """The header document, when the file has one: the pipeline's name, or a job group's settings."""

    @property
    def is_pipeline(self) -> bool:
        return len(self.tasks) > 1

    @property
    def is_job_group(self) -> bool:
        """`execution: parallel`: every task starts at once (SkyPilot's job group), instead of one after another."""
        return self.header is not None and self.header.parallel


def is_task_file(target: str) -> bool:
    """`stix exec CLUSTER TARGET` and `stix.exec(TARGET)`: a task file, or else a command to run."""
    return Path(target).is_file() or target.endswith((".yaml", ".yml"))


def load_task(path: str | Path, overrides: Optional[EnvOverrides] = None, require_env: bool = False,
              model: type[Task] = Task) -> Task:
    pipeline = load_pipeline(path, overrides, require_env, model)
    if pipeline.is_pipeline:
        raise TaskError(f"{path}:1:1: a pipeline of {len(pipeline.tasks)} tasks runs as a managed job: "
                        f"stix jobs launch {path}")
    return pipeline.tasks[0]


def load_pipeline(path: str | Path, overrides: Optional[EnvOverrides] = None,
                  require_env: bool = False, model: type[Task] = Task) -> Pipeline:
    path = Path(path)
    return load_pipeline_text(_read(path), str(path), overrides, require_env, model)


def load_pipeline_text(text: str, label: str = "<task>", overrides: Optional[EnvOverrides] = None,
                       require_env: bool = False, model: type[Task] = Task) -> Pipeline:
    """model: the Task class to build (the SDK's subclass builds its own)."""
    overrides = overrides or EnvOverrides()
    documents = _compose(label, text)
    if not documents:
        raise TaskError(f"{label}:1:1: the task file is empty; expected a mapping such as 'run: echo hi'")
    header = None
    if len(documents) > 1 and _is_header(documents[0]):
        header = _build_header(label, documents[0])
        header_node, documents = documents[0], documents[1:]
    tasks = [_build(label, doc, overrides, require_env, model) for doc in documents]
    _check_pipeline(label, documents, tasks)
    if header is not None:
        try:
            header.check_tasks([task.name for task in tasks])
        except ValueError as exc:
            raise TaskError(f"{label}:{header_node.start_mark.line + 1}:1: {exc}") from None
    return Pipeline(header.name if header else None, tasks, tuple(doc.start_mark.line + 1 for doc in documents), header)


_HEADER_FIELDS = set(JobGroup.model_fields)


def _is_header(node: yaml.Node) -> bool:
    """SkyPilot's rule: a first document of only `name`, or `name` with `execution` (and a job group's settings)."""
    if not isinstance(node, yaml.MappingNode):
        return False
    keys = {k.value for k, _ in node.value}
    return "name" in keys and keys <= _HEADER_FIELDS and (keys == {"name"} or "execution" in keys)


def _build_header(label: str, node: yaml.Node) -> JobGroup:
    positions: dict[tuple, Position] = {}
    _index(label, node, (), positions, budget=[MAX_NODES])
    try:
        return JobGroup.model_validate(_plain(label, node))
    except ValidationError as exc:
        raise TaskError(_describe(label, _most_specific(exc.errors()), positions)) from None


def _build(label: str, node: yaml.Node, overrides: EnvOverrides, require_env: bool, model: type[Task]) -> Task:
    positions: dict[tuple, Position] = {}
    _index(label, node, (), positions, budget=[MAX_NODES])
    data = _plain(label, node)
    if data is None:
        mark = node.start_mark
        raise TaskError(f"{label}:{mark.line + 1}:1: empty task document")
    if not isinstance(data, dict):
        line, col = positions[()]
        raise TaskError(f"{label}:{line}:{col}: a task must be a mapping of fields, got {_kind(data)}")
    envs = data.get("envs")
    if isinstance(envs, dict) or overrides.envs:
        merged = {**(envs if isinstance(envs, dict) else {}), **overrides.envs}
        if envs is not None or overrides.envs:
            data["envs"] = merged
        known = {str(k): str(v) for k, v in merged.items() if v is not None and not isinstance(v, (dict, list))}
        for name in SUBSTITUTED_FIELDS:
            if name in data:
                data[name] = substitute(data[name], known)
    if overrides.secrets:
        secrets = data.get("secrets")
        if isinstance(secrets, list) and all(isinstance(item, str) for item in secrets):
            secrets = dict.fromkeys(secrets)  # SkyPilot's list form: names that each need a value
        if secrets is None or isinstance(secrets, dict):
            data["secrets"] = {**(secrets or {}), **overrides.secrets}
        # anything else is left for the model to refuse
    try:
        task = model.model_validate(data)
    except ValidationError as exc:
        raise TaskError(_describe(label, _most_specific(exc.errors()), positions)) from None
    if require_env:
        _check_required(label, task, positions)
    return task


def _check_required(label: str, task: Task, positions: dict[tuple, Position]) -> None:
    for group, flag in (("envs", "--env"), ("secrets", "--secret")):
        for key, value in getattr(task, group).items():
            if value is None:
                line, col = positions.get((group, key, "<key>"), positions.get((group,), (1, 1)))
                raise TaskError(f"{label}:{line}:{col}: {group}.{key}: required but not set; pass {flag} {key}=VALUE")


def _check_pipeline(label: str, documents: list[yaml.Node], tasks: list[Task]) -> None:
    seen: dict[str, int] = {}
    for doc, task in zip(documents, tasks):
        if task.name is None:
            continue
        if task.name in seen:
            line = doc.start_mark.line + 1
            raise TaskError(
                f"{label}:{line}:1: name: task {task.name!r} appears twice in the pipeline "
                f"(first at line {seen[task.name]}); a pipeline runs each task once, in order"
            )
        seen[task.name] = doc.start_mark.line + 1


def _read(path: Path) -> str:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise TaskError(f"{path}: no such task file") from None
    except OSError as exc:
        raise TaskError(f"{path}: cannot read task file: {exc.strerror}") from None
    if path.is_dir():
        raise TaskError(f"{path}: is a directory, expected a task YAML file")
    if size > MAX_TASK_BYTES:
        raise TaskError(f"{path}: task file is {size} bytes; the limit is {MAX_TASK_BYTES}")
    raw = path.read_bytes()
    if b"\0" in raw:
        line = raw[: raw.index(b"\0")].count(b"\n") + 1
        raise TaskError(f"{path}:{line}:1: task file is binary, not YAML text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TaskError(f"{path}:{line}:1: task file is not UTF-8 text") from None


def _compose(label: str, text: str) -> list[yaml.Node]:
    try:
        documents = list(yaml.compose_all(text, Loader=_FAST_LOADER))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark else "1:1"
        problem = exc.problem or exc.context or "invalid YAML"
        raise TaskError(f"{label}:{where}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise TaskError(f"{label}:1:1: YAML error: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise TaskError(f"{label}:1:1: YAML nesting is too deep") from None
    return [doc for doc in documents if doc is not None]


def _plain(label: str, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader("").construct_document(node)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark else "1:1"
        raise TaskError(f"{label}:{where}: YAML error: {exc.problem}") from None
    except RecursionError:
        raise TaskError(f"{label}:1:1: YAML nesting is too deep") from None


def _index(label: str, node: yaml.Node, at: tuple, positions: dict[tuple, Position],
           depth: int = 0, budget: Optional[list[int]] = None) -> None:
    if depth > 200:
        raise TaskError(f"{label}:{node.start_mark.line + 1}:1: YAML nesting is too deep")
    if budget is not None:
        budget[0] -= 1
        if budget[0] < 0:
            raise TaskError(f"{label}:1:1: the task expands to more than {MAX_NODES} YAML nodes (alias bomb?)")
    positions[at] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else repr(key.value)
            if name in seen and isinstance(key, yaml.ScalarNode):
                where = ".".join(map(str, at + (name,)))
                raise TaskError(f"{label}:{key.start_mark.line + 1}:{key.start_mark.column + 1}: {where}: duplicate key")
            seen.add(name)
            positions[at + (name, "<key>")] = (key.start_mark.line + 1, key.start_mark.column + 1)
            _index(label, value, at + (name,), positions, depth + 1, budget)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(label, item, at + (i,), positions, depth + 1, budget)


def _most_specific(errors: list[ErrorDetails]) -> ErrorDetails:
    """Of a union's failed branches, the one that got furthest into the value explains it best."""
    return max(errors, key=lambda error: (len(_clean_loc(tuple(error["loc"]))), error["type"] == "value_error"))


def _describe(label: str, error: ErrorDetails, positions: dict[tuple, Position]) -> str:
    raw = tuple(error["loc"])
    kind = error["type"]
    # An unknown key is the last part of its loc, as the user wrote it, even when it looks like a union marker.
    loc = _clean_loc(raw[:-1]) + raw[-1:] if kind == "extra_forbidden" and raw else _clean_loc(raw)
    if kind == "extra_forbidden":
        key_pos = positions.get(loc + ("<key>",)) or _nearest(loc, positions)
        field = ".".join(map(str, loc))
        hint = _did_you_mean(str(loc[-1]), _model_at(loc[:-1]))
        return f"{label}:{key_pos[0]}:{key_pos[1]}: {field}: unknown field{hint}"
    known = _known_prefix(loc, positions)
    line, col = positions.get(known) or _nearest(loc, positions)
    field = ".".join(map(str, loc if kind == "missing" else known)) or "<task>"
    message = "required field is missing" if kind == "missing" else error["msg"]
    key = _key_named_in(message, known, positions)
    if key is not None:
        line, col = positions[known + (key, "<key>")]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    elif message.startswith("Assertion failed, "):
        message = message[len("Assertion failed, "):]
    got = error.get("input")
    if loc[:1] == ("secrets",) and kind not in ("value_error", "missing"):
        pass  # a secret's value is never echoed, however wrongly typed
    elif kind not in ("value_error", "missing") and not isinstance(got, (dict, list)):
        message = f"{message} (got {got!r})"
    elif kind not in ("value_error", "missing"):
        message = f"{message} (got a {'mapping' if isinstance(got, dict) else 'list'})"
    return f"{label}:{line}:{col}: {field}: {message}"


def _key_named_in(message: str, at: tuple, positions: dict[tuple, Position]) -> Optional[str]:
    """A mapping-level error that quotes one of the mapping's keys is reported at that key."""
    for where in positions:
        if len(where) == len(at) + 2 and where[:-2] == at and where[-1] == "<key>" and repr(where[-2]) in message:
            return where[-2]
    return None


def _clean_loc(loc: tuple) -> tuple:
    """Drop pydantic's union-member markers ('str', 'list[...]', 'function-before[...]')."""
    return tuple(part for part in loc if not (isinstance(part, str) and (_MARKER.match(part) or part in _TYPE_MARKERS)))


_MARKER = re.compile(r"^[A-Za-z][\w-]*\[.*\]$")
"""A union member pydantic names by its type ('list[str]', 'function-before[...]'); a user's key such as '0[' is not."""


_TYPE_MARKERS = {"str", "int", "float", "bool", "dict", "list", "ResourceCandidate", "Storage", "JobRecovery",
                 "AutostopConfig", "ReadinessProbe", "GitWorkdir", "constrained-int", "constrained-float",
                 "VolumeSpec", "ManagedSecretMount"}


def _known_prefix(loc: tuple, positions: dict[tuple, Position]) -> tuple:
    for end in range(len(loc), -1, -1):
        if loc[:end] in positions:
            return loc[:end]
    return ()


def _nearest(loc: tuple, positions: dict[tuple, Position]) -> Position:
    return positions.get(_known_prefix(loc, positions), (1, 1))


def _model_at(loc: tuple) -> Optional[type[BaseModel]]:
    """The model whose fields apply at loc, following models, dict values and list items."""
    annotations: list[Any] = [Task]
    for part in loc:
        following: list[Any] = []
        for annotation in _flatten(annotations):
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                if isinstance(part, str) and part in annotation.model_fields:
                    following.append(annotation.model_fields[part].annotation)
            elif typing.get_origin(annotation) is dict and isinstance(part, str):
                following.append(typing.get_args(annotation)[1])
            elif typing.get_origin(annotation) is list and isinstance(part, int):
                following.append(typing.get_args(annotation)[0])
        annotations = following
    return next((a for a in _flatten(annotations) if isinstance(a, type) and issubclass(a, BaseModel)), None)


def _flatten(annotations: list[Any]) -> list[Any]:
    out: list[Any] = []
    for annotation in annotations:
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            out.extend(_flatten(list(typing.get_args(annotation))))
        elif typing.get_origin(annotation) is typing.Annotated:
            # A parsed field (models.resources._parsed) is described by the spelling it accepts.
            base, *metadata = typing.get_args(annotation)
            spelled = [getattr(meta, "json_schema_input_type", None) for meta in metadata]
            out.extend(_flatten([base, *(s for s in spelled if s is not None)]))
        else:
            out.append(annotation)
    return out


def _did_you_mean(name: str, model: Optional[type[BaseModel]]) -> str:
    if model is None:
        return ""
    close = difflib.get_close_matches(name, list(model.model_fields), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
