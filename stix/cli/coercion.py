"""Plain coercion of command-line values, so that a command does not import pydantic to read its options.

typer (0.29) turns every value of the invoked command into its parameter's type through a pydantic TypeAdapter
built for that parameter: pydantic's import plus one adapter per parameter is most of `stix queue`'s start. Here
the plain types stix's commands use (str, int, float, bool and lists of them) take their canonical spellings without
pydantic; anything else (another type, a bound, a parser, an unusual spelling such as '+5' or '1_000', a bad
value) goes to typer's own adapter, built on first use, so that what is accepted and every error message stay
typer's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, get_args, get_origin

_NO = object()
"""What a converter returns for a value it leaves to typer's adapter."""

_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,17})?")


def _str(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value.encode("utf-8")  # pydantic refuses lone surrogates (undecodable argv bytes): its message then
        except UnicodeEncodeError:
            return _NO
        return value
    return _NO


def _number(kind: type, spelling: re.Pattern[str]) -> Callable[[Any], Any]:
    """A number of `kind` from its plain spelling (or already one); anything else is typer's to convert."""
    def convert(value: Any) -> Any:
        if isinstance(value, str) and spelling.fullmatch(value):
            return kind(value)
        return value if type(value) is kind else _NO

    return convert


_int = _number(int, _INT)
_float = _number(float, _FLOAT)


def _bool(value: Any) -> Any:
    return value if type(value) is bool else _NO


_LEAVES: dict[Any, Callable[[Any], Any]] = {str: _str, int: _int, float: _float, bool: _bool}


def _each(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """typer's list coercion: a single value becomes a one-item list; the result is a list."""

    def convert_all(value: Any) -> Any:
        items = value if isinstance(value, (list, tuple)) else [value]
        out = [convert(item) for item in items]
        return _NO if any(item is _NO for item in out) else out

    return convert_all


def plain_converter(annotation: Any, parameter_info: Any) -> Optional[Callable[[Any], Any]]:
    """The converter for a parameter whose coercion needs no pydantic; None for every other."""
    info = parameter_info
    if info.parser is not None or info.min is not None or info.max is not None or info.clamp:
        return None
    if get_origin(annotation) is list:
        args = get_args(annotation)
        leaf = _LEAVES.get(args[0]) if len(args) == 1 else None
        return _each(leaf) if leaf is not None else None
    return _LEAVES.get(annotation)


def install() -> None:
    """Give typer's parameters the plain converters (once per process; a typer without this hook is left as it is)."""
    import typer.core as core

    original = getattr(core, "build_runtime_param", None)
    if original is None or getattr(original, "_stix_plain", False):
        return
    typers: Callable[[Any], Any] = original
    from typer._coercion import RuntimeParam

    @dataclass(frozen=True)
    class PlainRuntimeParam(RuntimeParam):
        convert: Callable[[Any], Any] = field(default=_str)
        descriptor: Any = None
        fallback: list = field(default_factory=list)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            out = self.convert(value)
            if out is not _NO:
                return out
            if not self.fallback:
                self.fallback.append(typers(self.descriptor))
            return self.fallback[0]._coerce_value(value, param=param, ctx=ctx)

    def build_runtime_param(descriptor: Any) -> Any:
        convert = None
        if descriptor.file_annotation is None:
            convert = plain_converter(descriptor.annotation, descriptor.parameter_info)
        if convert is None:
            return typers(descriptor)
        return PlainRuntimeParam(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                                 convert=convert, descriptor=descriptor)

    build_runtime_param._stix_plain = True  # type: ignore[attr-defined]
    core.build_runtime_param = build_runtime_param
