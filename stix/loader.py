"""load_pipeline() / load_task(): the one place a task file becomes Tasks, or a one-line error.

Every problem is reported as `file:line:col: field.path: what is wrong`, with
the position taken from the YAML node the problem is about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from stix.envs import SUBSTITUTED_FIELDS, substitute
from stix.errors import TaskError
from stix.located import MAX_NODES, Position, compose as _compose, index as _index, most_specific as _most_specific
from stix.located import describe, plain as _plain
from stix.models.job_group import JobGroup
from stix.models.task import Task

MAX_TASK_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class EnvOverrides:
    """Values from --env-file / --env and --secret, already merged in precedence order."""

    envs: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedTask:
    """A task and where each node of its document is (by key path), for errors found after loading."""

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
    positions: tuple[dict[tuple, Position], ...] = ()
    """Each task document's node positions, in the order of tasks."""

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
    return load_located_task(path, overrides, require_env, model).task


def load_located_task(path: str | Path, overrides: Optional[EnvOverrides] = None, require_env: bool = False,
                      model: type[Task] = Task) -> LoadedTask:
    pipeline = load_pipeline(path, overrides, require_env, model)
    if pipeline.is_pipeline:
        raise TaskError(f"{path}:1:1: a pipeline of {len(pipeline.tasks)} tasks runs as a managed job: "
                        f"stix jobs launch {path}")
    return LoadedTask(pipeline.tasks[0], pipeline.positions[0])


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
    located = [_build(label, doc, overrides, require_env, model) for doc in documents]
    tasks = [loaded.task for loaded in located]
    _check_pipeline(label, documents, tasks)
    if header is not None:
        try:
            header.check_tasks([task.name for task in tasks])
        except ValueError as exc:
            raise TaskError(f"{label}:{header_node.start_mark.line + 1}:1: {exc}") from None
    return Pipeline(header.name if header else None, tasks, tuple(doc.start_mark.line + 1 for doc in documents), header,
                    tuple(loaded.positions for loaded in located))


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


def _build(label: str, node: yaml.Node, overrides: EnvOverrides, require_env: bool, model: type[Task]) -> LoadedTask:
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
    if task.config:
        from stix.config import check_task_config

        check_task_config(label, data.get("config"), positions)
    if require_env:
        _check_required(label, task, positions)
    return LoadedTask(task, positions)


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


def _describe(label: str, error: ErrorDetails, positions: dict[tuple, Position]) -> str:
    return describe(label, error, positions, Task)


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
