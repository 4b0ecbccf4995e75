"""stix's command line as a click group whose subcommands are converted from typer when first looked up.

typer turns every command of an app into a click command (reading each signature and its type hints) before it
parses the command line: with stix's forty-odd commands that is a tenth of `stix logs`. Here the group is typer's
own, with the same settings, and each command or command group is made by typer's own conversion, on first use:
running one command converts one; `--help`, the list of commands and the suggestions for a mistyped one see them
all, in the order typer lists them.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import MutableMapping
from typing import Any, Callable, Iterator


class LazyCommands(MutableMapping):
    """A group's commands by name, each made by its maker at first lookup; iteration keeps the makers' order."""

    def __init__(self, makers: dict[str, Callable[[], Any]]):
        self._makers = makers
        self._made: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._made:
            self._made[name] = self._makers[name]()  # KeyError for an unknown name, as a dict's
        return self._made[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._made[name] = command
        self._makers.setdefault(name, lambda: command)

    def __delitem__(self, name: str) -> None:
        del self._makers[name]
        self._made.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)

    def made(self) -> list[str]:
        return list(self._made)


def click_command(app: Any) -> Any:
    """The click command typer would make of `app` (a Typer with commands and named command groups), its
    subcommands made on first lookup. An app typer would make otherwise (completion options, a nameless group)
    is made by typer, whole."""
    from typer import main as typer_main

    groups = [(typer_main.solve_typer_info_defaults(info).name, info) for info in app.registered_groups]
    if app._add_completion or not all(name for name, _ in groups):
        return typer_main.get_command(app)
    settings: dict[str, Any] = {"pretty_exceptions_short": app.pretty_exceptions_short,
                                "rich_markup_mode": app.rich_markup_mode}
    makers: dict[str, Callable[[], Any]] = {}
    for info in app.registered_commands:
        name = info.name or typer_main.get_command_name(info.callback.__name__)
        makers[name] = functools.partial(typer_main.get_command_from_info, info, **settings)
    for group_name, group_info in groups:
        makers[str(group_name)] = functools.partial(typer_main.get_group_from_info, group_info,
                                                    suggest_commands=app.suggest_commands, **settings)
    bare = copy.copy(app)
    bare.registered_commands, bare.registered_groups = [], []
    group = typer_main.get_group(bare)
    group.commands = LazyCommands(makers)
    return group
