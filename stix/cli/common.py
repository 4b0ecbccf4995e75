"""What the commands share: the session, the load stage, the env/secret flags."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from stix.resource_flags import ResourceOverrides


def _session(quiet: bool = False):
    from stix.events import discard
    from stix.flows import Session
    from stix.home import StixHome

    confirm = None
    if sys.stdin.isatty():
        confirm = lambda question: typer.confirm(question, default=False)  # noqa: E731
    return Session(StixHome.from_env(), discard if quiet else _console_events(), confirm)


def _console_events():
    """Events rendered by stix.render on a rich console, made at the first event that needs one: a note printed
    where stdout is no terminal (no styles, no wrapping) needs none, and rich's import is a fifth of `stix exec
    -d` in a script."""
    from stix.events import Note

    rendered: list = []

    def render(event) -> None:
        if isinstance(event, Note) and not rendered and not sys.stdout.isatty():
            print(event.text, flush=True)
            return
        if not rendered:
            from rich.console import Console

            from stix.render import console_events

            rendered.append(console_events(Console(stderr=False, highlight=False)))
        rendered[0](event)

    return render


def _launch_request(task: str, cluster: Optional[str], overrides, resources: Optional[ResourceOverrides] = None,
                    **options):
    """The load stage: the task file, parsed once, with the command line's envs, secrets and resource flags."""
    from pathlib import Path

    from stix.flows import LaunchRequest
    from stix.loader import load_task
    from stix.overrides import apply_overrides

    path = Path(task)
    loaded = load_task(path, overrides, require_env=options.pop("require_env", False))
    return LaunchRequest(apply_overrides(loaded, resources), cluster, path, **options)


ENV_HELP = "Set an env var: K=V, or K to take it from your environment (overrides the task and --env-file)."
ENV_FILE_HELP = "A dotenv file of env vars (overrides the task's envs)."
SECRET_HELP = "Set a secret: K=V, or K to take it from your environment. Never printed or stored in plain text."


def _overrides(env: list[str], env_file: list[str], secret: list[str]):
    from stix.envs import parse_assignments, read_env_file
    from stix.loader import EnvOverrides

    merged: dict[str, str] = {}
    for path in env_file:
        merged.update(read_env_file(path))
    merged.update(parse_assignments(env, "--env"))
    return EnvOverrides(envs=merged, secrets=parse_assignments(secret, "--secret"))


FORMAT_HELP = "text, or json (one JSON document on stdout, for scripts)."


def check_format(value: str, allowed: tuple[str, ...] = ("text", "json")) -> str:
    from stix.errors import UsageError

    if value not in allowed:
        raise UsageError(f"--format {value!r}: expected {', '.join(allowed[:-1])} or {allowed[-1]}")
    return value


CLOUDS_HELP = ("Plan over these clouds (comma-separated), or 'all': every cloud in the catalogs, credentials or "
               "not (those without are marked); default: the enabled clouds. E.g. `--clouds all`, `--clouds aws,gcp`.")


def parse_clouds(value: Optional[str]) -> Optional[tuple[str, ...]]:
    """--clouds: None (the enabled clouds), ('all',) or the named clouds."""
    if value is None:
        return None
    names = tuple(part.strip().lower() for part in value.split(",") if part.strip())
    return names or None


_RESOURCE_OPTIONS = {
    "infra": (Optional[str], typer.Option(None, "--infra", help="Where to run: cloud\\[/region\\[/zone]], k8s, ssh/POOL, local (overrides resources.infra).")),
    "gpus": (Optional[str], typer.Option(None, "--gpus", help="Accelerators per node, e.g. A100:8 (overrides resources.accelerators).")),
    "cpus": (Optional[str], typer.Option(None, "--cpus", help="vCPUs per node: 4 or 4+.")),
    "memory": (Optional[str], typer.Option(None, "--memory", help="Memory per node in GiB: 32 or 32+.")),
    "num_nodes": (Optional[int], typer.Option(None, "--num-nodes", help="Number of nodes.")),
    "use_spot": (Optional[bool], typer.Option(None, "--use-spot/--no-use-spot", help="Spot instances, or not.")),
    "instance_type": (Optional[str], typer.Option(None, "-t", "--instance-type", help="A cloud instance type.")),
    "image_id": (Optional[str], typer.Option(None, "--image-id", help="Machine image, or docker:IMAGE.")),
    "disk_size": (Optional[int], typer.Option(None, "--disk-size", help="OS disk size in GiB.")),
    "disk_tier": (Optional[str], typer.Option(None, "--disk-tier", help="low, medium, high, ultra or best.")),
    "ports": (list[str], typer.Option([], "--ports", help="A port or range to open (repeatable).")),
}


def resource_options(command):
    """Give a command SkyPilot's resource override flags; it receives them as one `resources: ResourceOverrides`."""
    import functools
    import inspect

    signature = inspect.signature(command)
    params = [p for name, p in signature.parameters.items() if name != "resources"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
             for name, (kind, option) in _RESOURCE_OPTIONS.items()]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        picked = {name: kwargs.pop(name) for name in _RESOURCE_OPTIONS}
        picked["ports"] = tuple(picked["ports"] or ())
        return command(*args, resources=ResourceOverrides(**picked), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=[*params, *added])  # type: ignore[attr-defined]
    return wrapper


def fitting_console(*renderables):
    """A rich console for renderables (tables): a terminal's own width; for a pipe or a file, as wide as they
    need, so a script or a log never gets a cell cut short (rich would lay them out in 80 columns)."""
    from rich.console import Console

    console = Console(highlight=False)
    if console.is_terminal or not renderables:
        return console
    unbounded = console.options.update(max_width=10_000)
    widest = max(console.measure(renderable, options=unbounded).maximum for renderable in renderables)
    return Console(highlight=False, width=max(console.width, widest))
