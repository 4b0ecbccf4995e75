"""A stix project: a directory whose Pulumi.yaml runs stix's program, with stack config in stacks/.

In a project, `stix up` writes each cluster's pinned placement to
`stacks/Pulumi.<cluster>.yaml` (Pulumi's own stack config file), so a pull
request shows it, and plain `pulumi preview -s <cluster>` plans what
`stix preview` plans. Outside a project stix keeps its stacks in its home.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from stix.errors import UsageError

if TYPE_CHECKING:
    from stix.config import EffectiveConfig
    from stix.models.task import Task

PROJECT_FILE = "Pulumi.yaml"
PROJECT_NAME = "stix"
"""Every cluster lives in the Pulumi project `stix`, in a project directory or not, so any stix finds it."""
RUNTIME = "stix"
"""Plain `pulumi` runs the program through stix's language host, which `stix env` puts in the plugin cache."""
STACKS_DIR = "stacks"

PULUMI_YAML = f"""\
# A stix project: `stix up TASK.yaml` pins each cluster's placement in {STACKS_DIR}/Pulumi.<cluster>.yaml
# (commit it; placement changes then show in review). Plain Pulumi works here too:
#   eval "$(stix env)" && pulumi preview -s <cluster>
name: {PROJECT_NAME}
description: ML clusters from SkyPilot-style task YAML, as Pulumi stacks
runtime:
  name: {RUNTIME}  # a mapping: the Automation API refuses runtime names it does not know when spelled as a string
stackConfigDir: {STACKS_DIR}
"""


@dataclass(frozen=True)
class Project:
    root: Path
    stacks_dir: Path

    def stack_file(self, cluster: str) -> Path:
        return self.stacks_dir / f"Pulumi.{cluster}.yaml"

    def pinned_clusters(self) -> list[str]:
        prefix, suffix = "Pulumi.", ".yaml"
        return sorted(p.name[len(prefix):-len(suffix)] for p in self.stacks_dir.glob(f"{prefix}*{suffix}"))


def load_project(root: Path) -> Optional[Project]:
    """The project at root, or None when root's Pulumi.yaml (if any) is not a stix project."""
    path = root / PROJECT_FILE
    try:
        text = path.read_text()
    except OSError:
        return None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise UsageError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        return None
    runtime = data.get("runtime")
    name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if name != RUNTIME:
        return None
    if data.get("name") != PROJECT_NAME:
        raise UsageError(f"{path}: name: must be {PROJECT_NAME!r} (stix keeps every cluster in one Pulumi project), "
                         f"not {data.get('name')!r}")
    stacks = data.get("stackConfigDir") or "."
    return Project(root.resolve(), (root / str(stacks)).resolve())


def find_project(start: Optional[Path] = None) -> Optional[Project]:
    """The nearest stix project at or above start (the current directory), as Pulumi looks for Pulumi.yaml."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / PROJECT_FILE).exists():
            return load_project(directory)
    return None


def config_for(task: Optional[Task], task_path: Optional[Path] = None,
               project: Optional[Project] = None) -> EffectiveConfig:
    """The user's, the project's and the task's config layered (stix.config.load_config): the project is the one
    found from here, unless the caller hands in the one it found; task_path is named as the task layer's source."""
    from stix.config import load_config

    if project is None:
        project = find_project()
    return load_config(task.config if task is not None else None, project.root if project is not None else None,
                       task_path)


def init_project(root: Path) -> tuple[Project, bool]:
    """Make root a stix project; returns the project and whether anything was written."""
    root = root.resolve()
    existing = root / PROJECT_FILE
    if existing.exists():
        project = load_project(root)
        if project is None:
            raise UsageError(f"{existing}: already a Pulumi project of another runtime; stix will not overwrite it")
        created = not project.stacks_dir.exists()
        project.stacks_dir.mkdir(parents=True, exist_ok=True)
        return project, created
    root.mkdir(parents=True, exist_ok=True)
    existing.write_text(PULUMI_YAML)
    (root / STACKS_DIR).mkdir(exist_ok=True)
    return Project(root, root / STACKS_DIR), True


CI_SYSTEMS = {"github": Path(".github") / "workflows"}
"""Each CI system stix writes workflows for, and where in a repository that system reads them."""


PACKAGE_LINE = 'STIX_PACKAGE: ""'
"""The line of each shipped workflow that says where `pip install` gets stix; empty, the workflow stops at once."""


def ci_workflows(system: str) -> dict[str, str]:
    """The workflow files stix ships for a CI system (package data; examples/ci/<system>/ holds the same text);
    the one check of `stix init --ci SYSTEM`."""
    from importlib.resources import files

    if system not in CI_SYSTEMS:
        raise UsageError(f"--ci: must be one of {', '.join(CI_SYSTEMS)}, not {system!r}")
    folder = files("stix") / "workflows" / system
    return {entry.name: entry.read_text() for entry in sorted(folder.iterdir(), key=lambda e: e.name)
            if entry.name.endswith(".yml")}


def with_package(workflow: str, requirement: Optional[str]) -> str:
    """The workflow installing requirement (a pip requirement), or as shipped when there is none."""
    if requirement is None:
        return workflow
    return workflow.replace(PACKAGE_LINE, f"STIX_PACKAGE: {json.dumps(requirement)}", 1)


def ci_files(root: Path, system: str, force: bool = False, requirement: Optional[str] = None) -> dict[Path, str]:
    """Where each of the CI system's workflows goes under root, and its text (installing requirement, when
    given); refuses, before anything is written, a file that exists unless force."""
    workflows = {name: with_package(text, requirement) for name, text in ci_workflows(system).items()}
    folder = root.resolve() / CI_SYSTEMS[system]
    files = {folder / name: text for name, text in workflows.items()}
    if not force:
        for path in files:
            if path.exists():
                raise UsageError(f"{path}: already exists; pass --force to overwrite it")
    return files


def write_ci(files: dict[Path, str]) -> list[Path]:
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(files)
