"""`stix policy check`: the admin policy and the packs on a task's plan (the preview flow, changing nothing), or
today's packs on every existing cluster, re-previewed from its saved plan (its stack, its project, its config)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any, Optional

from stix.errors import ClusterNotFound, StixError
from stix.policy.violations import Violation
from stix.session import Session
from stix.stages import LaunchRequest


@dataclass(frozen=True)
class PolicyCheck:
    cluster: str
    violations: tuple[Violation, ...] = ()
    admin_changes: tuple[str, ...] = ()
    error: Optional[StixError] = None
    """Set when the cluster could not be checked (no saved plan, no stack, a pack that cannot run)."""

    @property
    def blocked(self) -> bool:
        return any(v.mandatory for v in self.violations)

    def to_dict(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "blocked": self.blocked, "violations": [v.to_dict() for v in self.violations],
                "admin_changes": list(self.admin_changes), "error": self.error.message if self.error else None}


def check_task(session: Session, request: LaunchRequest) -> PolicyCheck:
    """Exactly what `stix preview` runs (admin policy, plan, engine preview with the packs); a new cluster's
    stack is removed afterwards, an existing one's is left as it was."""
    from stix.flows import preview

    report = preview(session, request)
    return PolicyCheck(report.cluster, tuple(report.violations), tuple(report.admin_changes))


def check_cluster(session: Session, cluster: str) -> PolicyCheck:
    """Today's packs (and today's config) on an existing cluster's saved plan: its stack previewed again with the
    program built from the spec saved at its last apply, as stop/start open it."""
    from pulumi import automation as auto

    from stix.config import load_config
    from stix.engine.calls import engine_call
    from stix.engine.program import make_program
    from stix.engine.workspace import open_stack
    from stix.models.task import Task
    from stix.stages import Target, cluster_project, known_spec, policies_for, preview_stack

    spec = known_spec(session, cluster)
    project = cluster_project(session, cluster)
    config = load_config(None, project.root if project is not None else None)
    target = Target(LaunchRequest(Task(), cluster), cluster, project, config)
    policies = policies_for(session, target)

    workspace = session.home.workspaces_dir / cluster
    made = project is None and not workspace.exists()

    def opened():
        try:
            return open_stack(session.home, cluster, make_program(spec), create=False, project=project)
        except auto.StackNotFoundError:
            if made:  # opening the stack made its workspace: leave nothing behind
                shutil.rmtree(workspace, ignore_errors=True)
            raise ClusterNotFound(f"cluster {cluster!r} has no stack (stix status lists clusters)") from None

    stack = engine_call(opened, "opening the stack")
    changes = preview_stack(session, stack, cluster, policies)
    return PolicyCheck(cluster, tuple(changes.violations))


def settled_clusters(session: Session) -> list[str]:
    """The clusters `stix policy check` with no task checks: every one but those mid-launch (INIT: no saved plan
    yet, or a stack an apply holds), in name order."""
    from stix.index import INIT

    return sorted(record.name for record in session.index.all() if record.status != INIT)


def check_clusters(session: Session, names: list[str]) -> list[PolicyCheck]:
    """Each cluster checked in turn; one that cannot be checked is reported as such, the others still are."""
    results = []
    for name in names:
        try:
            results.append(check_cluster(session, name))
        except StixError as exc:
            results.append(PolicyCheck(name, error=exc))
    return results


@dataclass(frozen=True)
class PackInEffect:
    name: str
    """The pack's name in its PulumiPolicy.yaml (the engine reports violations under it)."""
    directory: str
    named_by: str
    """Where it was named: stix's built-in pack, the project's policies/NAME, or policy.packs in a config file."""
    config: dict[str, Any]
    """The config the engine hands it (Pulumi's shape: {policy: {enforcementLevel?, properties}})."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "directory": self.directory, "named_by": self.named_by, "config": self.config}


def packs_in_effect() -> list[PackInEffect]:
    """The packs a preview from the current directory would run, in the engine's order (nothing is written)."""
    import json
    import tempfile
    from pathlib import Path

    from stix.policy.packs import policy_run
    from stix.project import config_for, find_project

    project = find_project()
    config = config_for(None, None, project)
    with tempfile.TemporaryDirectory(prefix="stix-packs-") as scratch:
        run = policy_run(config, project.root if project is not None else None, Path(scratch))
        bodies = [json.loads(path.read_text()) for path in run.configs]
    return [PackInEffect(_pack_name(pack), str(pack), run.names[str(pack)], body) for pack, body in zip(run.packs, bodies)]


def _pack_name(directory) -> str:
    import yaml

    from stix.policy.packs import PACK_FILE

    try:
        found = yaml.safe_load((directory / PACK_FILE).read_text())
    except (OSError, yaml.YAMLError):
        found = None
    name = found.get("name") if isinstance(found, dict) else None
    return str(name) if name else directory.name
