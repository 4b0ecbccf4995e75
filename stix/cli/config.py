"""`stix config show`: the effective config and where each value came from."""

from __future__ import annotations

from typing import Any, Optional

import typer

from stix.cli.common import check_format

config_app = typer.Typer(
    help="stix's config files: ~/.stix/config.yaml (or STIX_CONFIG), the project's .stix.yaml (or "
         "STIX_PROJECT_CONFIG) and a task's config:, layered in that order; STIX_BACKEND and STIX_CATALOG_DIR win "
         "over them when set.",
    no_args_is_help=True)

ENV_KEYS = {"backend": "STIX_BACKEND", "catalog.dir": "STIX_CATALOG_DIR"}
"""Keys an environment variable overrides, when it is set."""


@config_app.command("show")
def show(
    task: Optional[str] = typer.Argument(None, help="A task YAML whose config: is layered on top."),
    format_: str = typer.Option("text", "--format",
                                help="text, json ({config, sources, ignored, files}) or yaml (the layered file). "
                                     "E.g. `stix config show --format json`."),
) -> None:
    """The effective config, one line per value with the file (or variable) it came from.

    Layers, later winning key by key (lists are replaced whole): the user file, the project file, the task's
    config:; then STIX_BACKEND / STIX_CATALOG_DIR. SkyPilot keys stix does not act on are marked "ignored by stix".

    Examples: `stix config show`, `stix config show task.yaml`, `stix config show --format json`.
    """
    import json
    import os
    from pathlib import Path

    from stix.config import project_config_path, user_config_path
    from stix.project import config_for, find_project

    check_format(format_, ("text", "json", "yaml"))
    loaded = None
    if task is not None:
        from stix.loader import load_task

        loaded = load_task(task)
    project = find_project()
    root = project.root if project is not None else None
    config = config_for(loaded, Path(task) if task else None, project)
    user, project_file = user_config_path(), project_config_path(root)
    rows = [(key, value, source, ignored) for key, value, source, ignored in config.leaves()
            if not (key in ENV_KEYS and os.environ.get(ENV_KEYS[key]))]
    rows += [(key, os.environ[name], name, False) for key, name in ENV_KEYS.items() if os.environ.get(name)]
    layered = _with_env(config.raw)
    if format_ == "json":
        print(json.dumps({"config": layered, "sources": {key: source for key, _, source, _ in rows},
                          "ignored": [key for key, _, _, skipped in rows if skipped],
                          "files": {"user": str(user) if user.exists() else None,
                                    "project": str(project_file) if project_file else None}}, indent=2, default=str))
        return
    if format_ == "yaml":
        import yaml

        print(yaml.safe_dump(layered, sort_keys=False, allow_unicode=True), end="")
        return
    print(f"# user config:    {_short(str(user))}{'' if user.exists() else ' (none)'}")
    print(f"# project config: {_short(str(project_file)) if project_file else '(none)'}")
    if not rows:
        print("No config set: stix's defaults apply.")
    width = max((len(f"{key} = {_shown(value)}") for key, value, _, _ in rows), default=0)
    for key, value, source, skipped in rows:
        line = f"{key} = {_shown(value)}"
        print(f"{line:{width}}   ({_short(source)}{'; ignored by stix' if skipped else ''})")


def _short(source: str) -> str:
    """A path under the user's home directory as ~/..., as they would write it."""
    import os

    home = os.path.expanduser("~").rstrip("/")
    return source.replace(home + "/", "~/") if home else source


def _shown(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, default=str)


def _with_env(raw: Any) -> dict[str, Any]:
    """The layered mapping with the values an environment variable overrides."""
    import copy
    import os

    out = copy.deepcopy(dict(raw))
    for key, name in ENV_KEYS.items():
        if os.environ.get(name):
            *parents, last = key.split(".")
            node = out
            for part in parents:
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]
            node[last] = os.environ[name]
    return out
