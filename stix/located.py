"""YAML documents with positions: every node's file:line:col, and pydantic errors told at the node they are
about, as one line `file:line:col: field.path: what is wrong`. Shared by task files (stix.loader) and config
files (stix.config). Problems in the YAML itself raise TaskError (stix.config re-raises them as ConfigError)."""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any, Optional

import yaml
from pydantic import BaseModel
from pydantic_core import ErrorDetails

from stix.errors import TaskError

MAX_NODES = 500_000
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML has it (several times faster); node marks carry the same positions."""
Position = tuple[int, int]


def compose(label: str, text: str) -> list[yaml.Node]:
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


def plain(label: str, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader("").construct_document(node)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark else "1:1"
        raise TaskError(f"{label}:{where}: YAML error: {exc.problem}") from None
    except RecursionError:
        raise TaskError(f"{label}:1:1: YAML nesting is too deep") from None


def index(label: str, node: yaml.Node, at: tuple, positions: dict[tuple, Position],
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
            index(label, value, at + (name,), positions, depth + 1, budget)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index(label, item, at + (i,), positions, depth + 1, budget)


def most_specific(errors: list[ErrorDetails]) -> ErrorDetails:
    """Of a union's failed branches, the one that got furthest into the value explains it best."""
    return max(errors, key=lambda error: (len(_clean_loc(tuple(error["loc"]))), error["type"] == "value_error"))


def describe(label: str, error: ErrorDetails, positions: dict[tuple, Position], root: type[BaseModel]) -> str:
    """root: the model the document is (a task, a config file): unknown keys get a 'did you mean' from it."""
    raw = tuple(error["loc"])
    kind = error["type"]
    # An unknown key is the last part of its loc, as the user wrote it, even when it looks like a union marker.
    loc = _clean_loc(raw[:-1]) + raw[-1:] if kind == "extra_forbidden" and raw else _clean_loc(raw)
    if kind == "extra_forbidden":
        key_pos = positions.get(loc + ("<key>",)) or _nearest(loc, positions)
        field = ".".join(map(str, loc))
        hint = _did_you_mean(str(loc[-1]), _model_at(loc[:-1], root))
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


def _model_at(loc: tuple, root: type[BaseModel]) -> Optional[type[BaseModel]]:
    """The model whose fields apply at loc, following models, dict values and list items."""
    annotations: list[Any] = [root]
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
