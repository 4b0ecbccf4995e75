"""Commands that bring clusters up, run work on them and take them down."""

from __future__ import annotations

from typing import Optional

import typer

from stix.cli.app import app
from stix.cli.common import (CLOUDS_HELP, ENV_FILE_HELP, ENV_HELP, SECRET_HELP, _launch_request, _overrides, _session,
                             parse_clouds, resource_options)
from stix.overrides import ResourceOverrides


@app.command()
@resource_options
def up(
    task: str = typer.Argument(..., help="Task YAML file."),
    cluster: Optional[str] = typer.Option(None, "-c", "--cluster", help="Cluster name (default: the task's name)."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Apply without asking."),
    env: list[str] = typer.Option([], "--env", help=ENV_HELP),
    env_file: list[str] = typer.Option([], "--env-file", help=ENV_FILE_HELP),
    secret: list[str] = typer.Option([], "--secret", help=SECRET_HELP),
    idle_minutes: Optional[float] = typer.Option(None, "-i", "--idle-minutes-to-autostop", help="Stop the cluster after this many idle minutes."),
    down: bool = typer.Option(False, "--down", help="With -i: tear the cluster down instead of stopping it."),
    retry_until_up: bool = typer.Option(False, "--retry-until-up",
                                        help="When every candidate refuses capacity, keep trying them (with backoff)."),
    resources: ResourceOverrides = ResourceOverrides(),
) -> None:
    """Preview, apply, then run the task's setup and run on every node."""
    from stix import flows

    request = _launch_request(task, cluster, _overrides(env, env_file, secret), resources, require_env=True, yes=yes,
                              idle_minutes=idle_minutes, down=down, retry_until_up=retry_until_up)
    raise typer.Exit(flows.up(_session(), request).exit_code)


@app.command()
@resource_options
def preview(
    task: str = typer.Argument(..., help="Task YAML file."),
    cluster: Optional[str] = typer.Option(None, "-c", "--cluster", help="Cluster name (default: the task's name)."),
    env: list[str] = typer.Option([], "--env", help=ENV_HELP),
    env_file: list[str] = typer.Option([], "--env-file", help=ENV_FILE_HELP),
    secret: list[str] = typer.Option([], "--secret", help=SECRET_HELP),
    format_: str = typer.Option("text", "--format", help="text, json, or markdown (for a pull-request comment)."),
    clouds: Optional[str] = typer.Option(None, "--clouds", help=CLOUDS_HELP),
    resources: ResourceOverrides = ResourceOverrides(),
) -> None:
    """Show what `stix up` would change, changing nothing."""
    import json as json_

    from stix import flows
    from stix.errors import UsageError

    if format_ not in ("text", "json", "markdown"):
        raise UsageError(f"--format {format_!r}: expected text, json or markdown")
    request = _launch_request(task, cluster, _overrides(env, env_file, secret), resources, clouds=parse_clouds(clouds))
    report = flows.preview(_session(quiet=format_ != "text"), request)
    if format_ == "json":
        print(json_.dumps(report.to_dict(), indent=2))
    elif format_ == "markdown":
        print(report.to_markdown(), end="")


@app.command()
def destroy(
    cluster: str = typer.Argument(..., help="Cluster name."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Destroy without asking."),
) -> None:
    """Tear a cluster down: every resource, node process and directory."""
    from stix import flows

    flows.destroy(_session(), cluster, yes)


@app.command()
def unlock(
    cluster: str = typer.Argument(..., help="Cluster name."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Unlock without asking."),
) -> None:
    """Free a cluster's stack lock left by an update that died (Pulumi's `pulumi cancel`)."""
    from stix import flows

    flows.unlock(_session(), cluster, yes)


@app.command("exec")
@resource_options
def exec_(
    cluster: str = typer.Argument(..., help="Cluster name."),
    target: str = typer.Argument(..., help="A task YAML file, or a shell command to run on the head node."),
    detach: bool = typer.Option(False, "-d", "--detach", help="Submit and return; do not stream the logs."),
    env: list[str] = typer.Option([], "--env", help=ENV_HELP),
    env_file: list[str] = typer.Option([], "--env-file", help=ENV_FILE_HELP),
    secret: list[str] = typer.Option([], "--secret", help=SECRET_HELP),
    resources: ResourceOverrides = ResourceOverrides(),
) -> None:
    """Run a job on an up cluster without touching its infrastructure (no Pulumi)."""
    from stix import flows
    from stix.loader import is_task_file, load_task
    from stix.models.task import Task
    from stix.overrides import apply_overrides

    overrides = _overrides(env, env_file, secret)
    if is_task_file(target):
        task = load_task(target, overrides, require_env=True)
    else:
        task = Task(run=target, envs=dict(overrides.envs), secrets=dict(overrides.secrets))
    task = apply_overrides(task, resources)
    raise typer.Exit(flows.exec_(_session(), flows.ExecRequest(cluster, task, detach)).exit_code)


@app.command()
def autostop(
    cluster: str = typer.Argument(..., help="Cluster name."),
    idle_minutes: Optional[float] = typer.Option(None, "-i", "--idle-minutes", help="Idle minutes before stopping (fractions allowed)."),
    down: bool = typer.Option(False, "--down", help="Tear the cluster down instead of stopping it."),
    cancel_: bool = typer.Option(False, "--cancel", help="Turn autostop off."),
) -> None:
    """Set the idle timer on a cluster's node agent: no jobs and no SSH session for that long stops it."""
    from stix import flows
    from stix.errors import UsageError

    if cancel_ == (idle_minutes is not None):
        raise UsageError("pass -i MINUTES to set autostop, or --cancel to turn it off")
    if idle_minutes is not None and idle_minutes < 0:
        raise UsageError("-i must not be negative")
    flows.set_autostop(_session(), cluster, idle_minutes, down)
    print(f"autostop for {cluster}: " + ("off" if cancel_ else f"{idle_minutes:g} idle minutes, then {'down' if down else 'stop'}"))


@app.command()
def stop(
    cluster: str = typer.Argument(..., help="Cluster name."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Stop without asking."),
) -> None:
    """Stop a cluster's nodes, keeping their disks and files."""
    from stix import flows

    flows.stop(_session(), cluster, yes)


@app.command()
def start(
    cluster: str = typer.Argument(..., help="Cluster name."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Start without asking."),
) -> None:
    """Start a stopped cluster again."""
    from stix import flows

    flows.start(_session(), cluster, yes)


@app.command()
def init(directory: str = typer.Argument(".", help="The directory to make a stix project (default: here).")) -> None:
    """Make a directory a stix project: Pulumi.yaml and stacks/, where `stix up` pins each cluster's placement."""
    from pathlib import Path

    from stix.project import PROJECT_FILE, init_project

    project, created = init_project(Path(directory))
    if created:
        print(f"Initialized a stix project in {project.root}: {PROJECT_FILE}, {project.stacks_dir.name}/")
    else:
        print(f"{project.root} is already a stix project")
    print("`stix up TASK.yaml` here pins the cluster's placement in "
          f"{project.stacks_dir.name}/Pulumi.<cluster>.yaml; commit it.")


@app.command("env")
def env_() -> None:
    """Shell exports that let plain `pulumi` use stix's engine, state and program: eval "$(stix env)"."""
    import shlex

    from stix.engine.workspace import plain_pulumi_env
    from stix.home import StixHome

    for key, value in plain_pulumi_env(StixHome.from_env()).items():
        print(f"export {key}={shlex.quote(value)}")
