"""Open a cluster's Pulumi stack through the Automation API, with stix's engine and state.

Every engine call gets the same environment: stix's backend and passphrase,
a PULUMI_HOME under stix's home, no update checks or plugin downloads, and
the dynamic-provider shim on PATH running this very interpreter.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional

from stix.engine.locate import Engine, find_engine
from stix.engine.program import empty_program
from stix.home import StixHome
from stix.project import PROJECT_NAME, Project
SHIM_NAME = "pulumi-resource-pulumi-python"
SHIM = '#!/bin/sh\n# Runs Pulumi Python dynamic providers with the interpreter stix runs under.\nexec "${PULUMI_PYTHON_CMD:-python3}" -u -m pulumi.dynamic "$@"\n'


ANALYZER_SHIM = r"""#!/bin/sh
# Runs Python policy packs (PulumiPolicy.yaml, runtime: python) for the engine, as the release's
# pulumi-analyzer-policy-python does: called in the pack's directory with the engine's address, the pack
# ("."), then the runtime's options (-virtualenv=DIR ...). The pack's own virtualenv is used when it has
# one; else the interpreter stix runs under, which has pulumi-policy. stix's built-in pack, when the stix process
# that started the engine serves it (stix.engine.analyzers): that server's port, and wait for the engine to end
# this plugin (it interrupts it, or its stdin closes when the engine is gone).
shift
pack="$1"; shift
if [ -n "${STIX_SERVED_PACK_PORT:-}" ] && [ "$(pwd -P)" = "${STIX_SERVED_PACK:-}" ]; then
  echo "$STIX_SERVED_PACK_PORT"
  exec cat >/dev/null
fi
python="${PULUMI_PYTHON_CMD:-python3}"
for option in "$@"; do
  case "$option" in
    -virtualenv=*) venv="${option#-virtualenv=}"; [ -x "$venv/bin/python" ] && python="$venv/bin/python" ;;
  esac
done
exec "$python" -u "$pack"
"""
ANALYZER_NAME = "policy-python"
ANALYZER_VERSION = "1.0.0"
"""The analyzer shim's version in the plugin cache: the engine takes the newest copy of an unversioned analyzer."""


def ensure_shim(home: StixHome) -> Path:
    """The dynamic-provider shim on PATH, and the policy-pack analyzer in the engine's plugin cache (found there
    without a PATH warning, by stix's engine calls and by plain `pulumi` alike)."""
    path = home.bin_dir / SHIM_NAME
    if not path.exists() or path.read_text() != SHIM:
        home.bin_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(SHIM)
        tmp.chmod(0o755)
        os.replace(tmp, path)
    _install_plugin(home, "analyzer", ANALYZER_NAME, ANALYZER_VERSION, ANALYZER_SHIM)
    return path


def engine_env(home: StixHome, engine: Engine) -> dict[str, str]:
    path = os.pathsep.join([str(home.bin_dir), str(engine.path.parent), os.environ.get("PATH", "")])
    # A team's shared backend comes with its passphrase (CI secrets): then it, not stix's own file, unlocks state.
    secrets = ({"PULUMI_CONFIG_PASSPHRASE": os.environ["PULUMI_CONFIG_PASSPHRASE"]}
               if os.environ.get("PULUMI_CONFIG_PASSPHRASE") else
               {"PULUMI_CONFIG_PASSPHRASE_FILE": str(home.passphrase_file)})
    return {
        **secrets,
        "PULUMI_HOME": str(home.pulumi_home),
        "PULUMI_BACKEND_URL": home.backend_url,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        "PULUMI_PYTHON_CMD": sys.executable,
        "PATH": path,
    }


LANGUAGE_HOST = '#!/bin/sh\n# `runtime: stix`: plain `pulumi` runs stix projects through this host.\nexec "{python}" -u -m stix.engine.language_host "$@"\n'


def _install_plugin(home: StixHome, kind: str, name: str, version: str, script: str) -> None:
    """Put an executable script in the engine's plugin cache, where plain `pulumi` finds it without PATH."""
    directory = home.pulumi_home / "plugins" / f"{kind}-{name}-v{version}"
    path = directory / f"pulumi-{kind}-{name}"
    if path.exists() and path.read_text() == script:
        return
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(script)
    tmp.chmod(0o755)
    os.replace(tmp, path)


def plain_pulumi_env(home: StixHome) -> dict[str, str]:
    """What a shell needs for plain `pulumi` to work on stix's stacks: the same engine, state, passphrase
    and home, with stix's language host and the dynamic-provider shim in that home's plugin cache."""
    from importlib.metadata import version

    home.ensure()
    home.passphrase()
    _install_plugin(home, "language", "stix", version("stix"), LANGUAGE_HOST.format(python=sys.executable))
    _install_plugin(home, "resource", "pulumi-python", version("pulumi"), SHIM)
    _install_plugin(home, "analyzer", ANALYZER_NAME, ANALYZER_VERSION, ANALYZER_SHIM)
    engine = find_engine()
    env = engine_env(home, engine)
    env.pop("PULUMI_CONFIG_PASSPHRASE", None)  # already in the caller's environment; never printed
    env["PATH"] = os.pathsep.join([str(engine.path.parent), os.environ.get("PATH", "")])
    env["PULUMI_IGNORE_AMBIENT_PLUGINS"] = "true"  # the cache's copies, not whatever else PATH holds
    return {"STIX_HOME": str(home.root), **env}


def open_stack(home: StixHome, cluster: str, program: Optional[Callable[[], None]] = None,
               create: bool = True, project: Optional[Project] = None, project_name: str = PROJECT_NAME,
               workspace: Optional[Path] = None):
    """Select (or create) the cluster's stack; returns an automation Stack.

    In a stix project the workspace is the project directory, so Pulumi reads
    and writes the stack's config in its stacks/; elsewhere it is a directory
    of stix's home, with project settings stix supplies. project_name and workspace open a stack of another
    Pulumi project in stix's home (persistent buckets: stix.storage.stacks), so its names never meet a cluster's.
    """
    from pulumi import automation as auto

    from stix.timings import count_engine_calls

    count_engine_calls()
    home.ensure()
    home.passphrase()
    ensure_shim(home)
    engine = find_engine()
    env = engine_env(home, engine)
    # The inline program and the Automation API read some settings from this process.
    os.environ.update({k: v for k, v in env.items() if k != "PATH"})
    from stix.engine.providers import attach_env

    env.update(attach_env())  # the engine's only: not os.environ, which child processes inherit
    if project is not None:
        work_dir, settings = project.root, None  # the project's own Pulumi.yaml
    else:
        work_dir = workspace or home.workspaces_dir / cluster
        work_dir.mkdir(parents=True, exist_ok=True)
        settings = auto.ProjectSettings(name=project_name, runtime="python",
                                        backend=auto.ProjectBackend(url=home.backend_url))
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(work_dir),
        pulumi_home=str(home.pulumi_home),
        env_vars=env,
        secrets_provider="passphrase",
        pulumi_command=_command(engine),
        project_settings=settings,
    )
    program = program or empty_program
    state = _state_file(home, project_name, cluster) if project is None else None
    if state is None:
        if create:
            return auto.create_or_select_stack(stack_name=cluster, project_name=project_name, program=program,
                                               opts=opts)
        return auto.select_stack(stack_name=cluster, project_name=project_name, program=program, opts=opts)
    opts.program = program
    ws = _known_stacks_workspace()(state, **opts.__dict__)
    if create and not state.exists():
        try:
            return auto.Stack.create(cluster, ws)
        except auto.StackAlreadyExistsError:
            pass
    return auto.Stack.select(cluster, ws)


def _command(engine: Engine):
    """The Automation API's handle on the CLI, made without the `pulumi version` process its constructor runs:
    find_engine already knows the version (the pinned one)."""
    from pulumi import automation as auto
    from pulumi.automation._cmd import VersionInfo  # the SDK's own (semver's), as its constructor would make

    command = _known_version_command()(str(engine.root), VersionInfo.parse(engine.version))
    assert isinstance(command, auto.PulumiCommand)
    return command


@functools.lru_cache(maxsize=1)
def _known_version_command() -> type:
    from pulumi import automation as auto

    class KnownVersionCommand(auto.PulumiCommand):
        def __init__(self, root: str, version: Any) -> None:  # the base class's would only probe the version
            self.command = os.path.join(root, "bin", "pulumi")
            self.version = version

        def run(self, args: list[str], cwd: str, additional_env: Any, on_output: Any = None,
                on_error: Any = None) -> Any:
            """Every engine invocation: one that runs the built-in policy pack gets it served from this process."""
            from stix.engine.analyzers import serving

            with serving(args) as served:
                return super().run(args, cwd, {**additional_env, **served}, on_output, on_error)

    return KnownVersionCommand


def _state_file(home: StixHome, project_name: str, cluster: str) -> Optional[Path]:
    """Where stix's own file backend keeps the stack's state; None for any other backend (a team's)."""
    if home.backend_url != f"file://{home.state_dir}":
        return None
    return home.state_dir / ".pulumi" / "stacks" / project_name / f"{cluster}.json"


@functools.lru_cache(maxsize=1)
def _known_stacks_workspace() -> type:
    """A LocalWorkspace that does not ask the engine to select a stack whose state file is there: every engine
    call names its stack (--stack) anyway, and each one is a process that first derives the passphrase key.
    A stack with no state file is created without first failing to select it."""
    from pulumi import automation as auto

    class KnownStacksWorkspace(auto.LocalWorkspace):
        def __init__(self, state: Path, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._stix_state = state

        def select_stack(self, stack_name: str) -> None:
            if not self._stix_state.exists():
                super().select_stack(stack_name)

    return KnownStacksWorkspace
