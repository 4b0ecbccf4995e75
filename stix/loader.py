"""load_task(): the one place a task file becomes a Task, or a one-line error.

Every problem is reported as `file:line:col: field.path: what is wrong`, with
the position taken from the YAML node the problem is about.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Optional

import yaml
from pydantic import BaseModel, ValidationError

from stix.errors import TaskError
from stix.task import Task

MAX_TASK_BYTES = 1024 * 1024
Position = tuple[int, int]


def load_task(path: str | Path) -> Task:
    path = Path(path)
    text = _read(path)
    root, positions = _compose(path, text)
    if root is None:
        raise TaskError(f"{path}:1:1: the task file is empty; expected a mapping such as 'run: echo hi'")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        line, col = positions[()]
        raise TaskError(
            f"{path}:{line}:{col}: the task file must be a mapping of fields, got {_kind(data)}"
        )
    try:
        return Task.model_validate(data)
    except ValidationError as exc:
        raise TaskError(_describe(path, exc.errors()[0], positions)) from None


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
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TaskError(f"{path}:{line}:1: task file is not UTF-8 text") from None


def _compose(path: Path, text: str) -> tuple[Optional[yaml.Node], dict[tuple, Position]]:
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark else "1:1"
        raise TaskError(f"{path}:{where}: YAML syntax error: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise TaskError(f"{path}:1:1: YAML error: {exc}") from None
    documents = [doc for doc in documents if doc is not None]
    if not documents:
        return None, {}
    if len(documents) > 1:
        mark = documents[1].start_mark
        raise TaskError(
            f"{path}:{mark.line + 1}:1: not supported yet: multi-document task files (pipelines)"
        )
    positions: dict[tuple, Position] = {}
    _index(documents[0], (), positions)
    return documents[0], positions


def _index(node: yaml.Node, at: tuple, positions: dict[tuple, Position]) -> None:
    positions[at] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value
            positions[at + (name, "<key>")] = (key.start_mark.line + 1, key.start_mark.column + 1)
            _index(value, at + (name,), positions)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, at + (i,), positions)


def _describe(path: Path, error: dict[str, Any], positions: dict[tuple, Position]) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        key_pos = positions.get(loc + ("<key>",)) or _nearest(loc, positions)
        field = ".".join(map(str, loc))
        hint = _did_you_mean(str(loc[-1]), _model_at(loc[:-1]))
        return f"{path}:{key_pos[0]}:{key_pos[1]}: {field}: unknown field{hint}"
    known = _known_prefix(loc, positions)
    line, col = positions.get(known) or _nearest(loc, positions)
    field = ".".join(map(str, known)) or "<task>"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if kind != "value_error" and "input" in error and not isinstance(error["input"], (dict, list)):
        message = f"{message} (got {error['input']!r})"
    return f"{path}:{line}:{col}: {field}: {message}"


def _known_prefix(loc: tuple, positions: dict[tuple, Position]) -> tuple:
    for end in range(len(loc), -1, -1):
        if loc[:end] in positions:
            return loc[:end]
    return ()


def _nearest(loc: tuple, positions: dict[tuple, Position]) -> Position:
    return positions.get(_known_prefix(loc, positions), (1, 1))


def _model_at(loc: tuple) -> Optional[type[BaseModel]]:
    model: Optional[type[BaseModel]] = Task
    for part in loc:
        if model is None or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return model


def _did_you_mean(name: str, model: Optional[type[BaseModel]]) -> str:
    if model is None:
        return ""
    close = difflib.get_close_matches(name, list(model.model_fields), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
