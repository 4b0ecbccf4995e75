"""Commands that bring clusters up, run work on them and take them down."""

from __future__ import annotations

from typing import Optional

import typer

from stix.cli.app import app
from stix.cli.common import (CLOUDS_HELP, ENV_FILE_HELP, ENV_HELP, SECRET_HELP, _launch_request, _overrides, _session,
                             check_format, parse_clouds, resource_options)
from stix.resource_flags import ResourceOverrides


@app.command("launch")
@app.command("up")
@resource_options
def up(
    entrypoint: Optional[str] = typer.Argument(
        None, help="A task YAML file, or a command to run on the cluster (quote it); none: just bring the cluster up."),
    cluster: Optional[str] = typer.Option(
        None, "-c", "--cluster",
        help="Cluster name: an existing one is reused. Default: the task's name; with no task file, stix-<hex>-<user>."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Apply without asking."),
    detach_run: bool = typer.Option(False, "-d", "--detach-run", help="Return once setup is done (its output is streamed, as `sky launch -d`) and the run is queued; do not follow the run."),
    no_setup: bool = typer.Option(False, "--no-setup", help="Skip the task's setup (for a re-launch whose setup already ran)."),
    fast: bool = typer.Option(False, "--fast",
                              help="If the cluster is UP and its infrastructure would not change: no preview, no setup; "
                                   "sync the workdir and run."),
    env: list[str] = typer.Option([], "--env", help=ENV_HELP),
    env_file: list[str] = typer.Option([], "--env-file", help=ENV_FILE_HELP),
    secret: list[str] = typer.Option([], "--secret", help=SECRET_HELP),
    idle_minutes: Optional[float] = typer.Option(None, "-i", "--idle-minutes-to-autostop", help="Stop the cluster after this many idle minutes (default: the task's resources.autostop, else `autostop:` in the config files)."),
    down: bool = typer.Option(False, "--down",
                              help="Tear the cluster down when idle instead of stopping it; alone: once its jobs are done and no SSH session is open (15 s grace)."),
    retry_until_up: bool = typer.Option(False, "--retry-until-up",
                                        help="When every candidate refuses capacity, keep trying them (with backoff)."),
    resources: ResourceOverrides = ResourceOverrides(),
) -> None:
    """Preview, apply, then run the task's setup and run on every node (`launch` and `up` are one command).

    Setup and run are one job on the head's agent (SETTING_UP, then RUNNING; FAILED_SETUP if setup fails on any
    node): a client that goes away mid-setup loses nothing, and `stix logs CLUSTER JOB` shows setup, then the run.

    Examples:

      stix launch task.yaml -c dev --gpus A100:8

      stix launch -c dev --infra local --num-nodes 2 'echo $SKYPILOT_NODE_RANK'

      stix launch -c dev --fast -d task.yaml

      stix launch -c dev -d task.yaml        (streams setup, then returns with the run queued)

      stix launch -c box --cpus 4+ -i 30 --down
    """
    from stix import flows

    options = dict(yes=yes, idle_minutes=idle_minutes, down=down, retry_until_up=retry_until_up,
                   detach_run=detach_run, no_setup=no_setup, fast=fast)
    session = _session()
    request = _launch_entrypoint(session, entrypoint, cluster, _overrides(env, env_file, secret), resources, options)
    raise typer.Exit(flows.up(session, request).exit_code)


def _launch_entrypoint(session, entrypoint: Optional[str], cluster: Optional[str], overrides,
                       resources: ResourceOverrides, options: dict):
    """A task file goes through the load stage; a command (or nothing) is a task of its own with that run,
    named by -c or a generated name (which is said, so the user can come back to it). On an existing cluster
    that task starts from the cluster as it is (stix.overrides.cluster_as_it_is)."""
    from stix.flows import LaunchRequest
    from stix.loader import is_task_file
    from stix.models.task import Task
    from stix.naming import generated_cluster_name, validate_cluster_name
    from stix.overrides import apply_overrides, cluster_as_it_is
    from stix.stages import load_spec

    if entrypoint is not None and is_task_file(entrypoint):
        return _launch_request(entrypoint, cluster, overrides, resources, require_env=True, **options)
    if cluster is None:
        cluster = generated_cluster_name()
        print(f"Cluster name: {cluster} (generated; -c NAME picks one)")
    validate_cluster_name(cluster)
    fields = dict(run=entrypoint or None, envs=dict(overrides.envs), secrets=dict(overrides.secrets))
    saved = load_spec(session.home, cluster) if session.index.get(cluster) is not None else None
    task = cluster_as_it_is(saved, resources, **fields) if saved is not None else Task(**fields)
    return LaunchRequest(apply_overrides(task, resources), cluster, None, **options)


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
    """Show what `stix up` would change, changing nothing: the resources, $/hr before and after, what the admin
    policy changed in the request and what the policy packs report. Exit 4 (after printing it all) when a policy
    violation is mandatory, i.e. `stix up` would refuse the plan.

    Examples: `stix preview train.yaml`, `stix preview train.yaml --format markdown` (a pull-request comment).
    """
    import json as json_

    from stix import flows
    from stix.errors import PolicyViolations

    check_format(format_, ("text", "json", "markdown"))
    request = _launch_request(task, cluster, _overrides(env, env_file, secret), resources, clouds=parse_clouds(clouds))
    report = flows.preview(_session(quiet=format_ != "text"), request)
    if format_ == "json":
        print(json_.dumps(report.to_dict(), indent=2))
    elif format_ == "markdown":
        print(report.to_markdown(), end="")
    # text: the admin policy's changes were noted as the preview ran (flows.preview), the violations with the plan
    blocking = tuple(v for v in report.violations if v.mandatory)
    if blocking:  # the text preview listed them already; json and markdown went to stdout, so name them on stderr
        raise PolicyViolations(f"{len(blocking)} mandatory policy violation(s) in the plan of cluster {report.cluster}: "
                               f"`stix up` would refuse it", blocking if format_ != "text" else ())


CLUSTERS_HELP = "Cluster names or globs such as 'dev-*' (quote them)."
ALL_HELP = "Every cluster stix knows."


@app.command("down")
@app.command("destroy")
def destroy(
    clusters: list[str] = typer.Argument(None, help=CLUSTERS_HELP, show_default=False),
    all_: bool = typer.Option(False, "-a", "--all", help=ALL_HELP),
    yes: bool = typer.Option(False, "-y", "--yes", help="Destroy without asking."),
) -> None:
    """Tear clusters down: every resource, node process and directory (`down` and `destroy` are one command).

    Examples:

      stix down dev

      stix down 'dev-*' -y

      stix down -a
    """
    from stix import batch, flows
    from stix.lifecycle import has_leftovers

    session = _session()
    names = batch.select(_known(session), clusters or [], all_, present=lambda name: has_leftovers(session.home, name))
    if names:
        batch.for_each(session, names, lambda name, ok: flows.destroy(session, name, ok), "Destroy", yes)
    else:
        print("No clusters.")


def _known(session, all_: bool = False, skip: tuple[str, ...] = ()) -> list[str]:
    """The index's clusters; with -a, less those in a status the command has nothing to do for."""
    return [record.name for record in session.index.all() if not (all_ and record.status in skip)]


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
    entrypoint: list[str] = typer.Argument(
        ..., help="A task YAML file; several task YAML files (queued together, in one round trip); or a shell "
                  "command to run on the head node (several words are joined into one command, as `sky exec` does)."),
    detach: bool = typer.Option(False, "-d", "--detach", "--detach-run", help="Submit and return; do not stream the logs."),
    env: list[str] = typer.Option([], "--env", help=ENV_HELP),
    env_file: list[str] = typer.Option([], "--env-file", help=ENV_FILE_HELP),
    secret: list[str] = typer.Option([], "--secret", help=SECRET_HELP),
    resources: ResourceOverrides = ResourceOverrides(),
) -> None:
    """Run a job on an up cluster without touching its infrastructure (no Pulumi).

    --gpus, --cpus, --memory and --num-nodes size the job; flags that would change the cluster need `stix launch`.
    Several task files are queued as one batch (all or none, in order; flags apply to each); without -d their
    logs follow one job after another, and the exit status is the first failed job's.

    Examples:

      stix exec dev 'nvidia-smi'

      stix exec dev --gpus A100:1 train.yaml

      stix exec dev -d sweep/lr-1.yaml sweep/lr-2.yaml sweep/lr-3.yaml
    """
    from stix import flows
    from stix.loader import is_task_file, load_task
    from stix.overrides import apply_overrides, check_job_demand

    check_job_demand(resources)
    overrides = _overrides(env, env_file, secret)
    files = len(entrypoint) > 1 and all(is_task_file(word) for word in entrypoint)
    if files:
        tasks = tuple(apply_overrides(load_task(path, overrides, require_env=True), resources) for path in entrypoint)
        results = flows.exec_many(_session(), flows.ExecBatch(cluster, tasks, detach))
        raise typer.Exit(next((result.exit_code for result in results if result.exit_code), 0))
    target = " ".join(entrypoint)
    if len(entrypoint) == 1 and is_task_file(target):
        task = load_task(target, overrides, require_env=True)
    else:
        from stix.models.task import Task

        task = Task.of_command(target, dict(overrides.envs), dict(overrides.secrets))
    task = apply_overrides(task, resources)
    raise typer.Exit(flows.exec_(_session(), flows.ExecRequest(cluster, task, detach)).exit_code)


@app.command()
def autostop(
    clusters: list[str] = typer.Argument(None, help=CLUSTERS_HELP, show_default=False),
    all_: bool = typer.Option(False, "-a", "--all", help=ALL_HELP),
    idle_minutes: Optional[float] = typer.Option(None, "-i", "--idle-minutes", help="Idle minutes before stopping (fractions allowed)."),
    down: bool = typer.Option(False, "--down", help="Tear the cluster down instead of stopping it."),
    cancel_: bool = typer.Option(False, "--cancel", help="Turn autostop off."),
) -> None:
    """Set the idle timer on clusters' node agents: no jobs and no SSH session for that long stops them.

    Examples:

      stix autostop dev -i 30

      stix autostop 'dev-*' -i 10 --down

      stix autostop -a --cancel
    """
    from stix import batch, flows
    from stix.errors import UsageError

    if cancel_ == (idle_minutes is not None):
        raise UsageError("pass -i MINUTES to set autostop, or --cancel to turn it off")
    if idle_minutes is not None and idle_minutes < 0:
        raise UsageError("-i must not be negative")
    from stix import index as idx

    session = _session()
    names = batch.select(_known(session, all_, skip=(idx.STOPPED, idx.INIT)), clusters or [], all_)
    setting = "off" if cancel_ else f"{idle_minutes:g} idle minutes, then {'down' if down else 'stop'}"

    def arm(name: str, _yes: bool) -> None:
        flows.set_autostop(session, name, idle_minutes, down)
        print(f"autostop for {name}: {setting}")

    if names:
        batch.for_each(session, names, arm, "Set autostop on", yes=True, ask=False)
    else:
        print("No UP clusters.")


@app.command()
def stop(
    clusters: list[str] = typer.Argument(None, help=CLUSTERS_HELP, show_default=False),
    all_: bool = typer.Option(False, "-a", "--all", help=ALL_HELP),
    yes: bool = typer.Option(False, "-y", "--yes", help="Stop without asking."),
) -> None:
    """Stop clusters' nodes, keeping their disks and files.

    Examples:

      stix stop dev

      stix stop 'dev-*' -y
    """
    from stix import flows
    from stix import index as idx

    _power(clusters, all_, yes, "Stop", flows.stop, skip=(idx.STOPPED,))


@app.command()
def start(
    clusters: list[str] = typer.Argument(None, help=CLUSTERS_HELP, show_default=False),
    all_: bool = typer.Option(False, "-a", "--all", help=ALL_HELP),
    yes: bool = typer.Option(False, "-y", "--yes", help="Start without asking."),
) -> None:
    """Start stopped clusters again.

    Examples:

      stix start dev

      stix start -a -y
    """
    from stix import flows
    from stix import index as idx

    _power(clusters, all_, yes, "Start", flows.start, skip=(idx.UP,))


def _power(clusters: Optional[list[str]], all_: bool, yes: bool, verb: str, action, skip: tuple[str, ...]) -> None:
    """action(session, name, yes) on each cluster selected; -a skips those already in a `skip` status (SkyPilot's
    `sky stop -a` / `sky start -a`)."""
    from stix import batch

    session = _session()
    names = batch.select(_known(session, all_, skip=skip), clusters or [], all_)
    if names:
        batch.for_each(session, names, lambda name, ok: action(session, name, ok), verb, yes)
    else:
        print(f"No clusters to {verb.lower()}.")


@app.command()
def init(
    directory: str = typer.Argument(".", help="The directory to make a stix project (default: here)."),
    ci: Optional[str] = typer.Option(None, "--ci", metavar="SYSTEM",
                                     help="Also write CI workflows for SYSTEM (github: .github/workflows/"
                                          "stix-preview.yml and stix-drift.yml)."),
    force: bool = typer.Option(False, "--force", help="With --ci: overwrite workflow files that exist."),
) -> None:
    """Make a directory a stix project: Pulumi.yaml and stacks/, where `stix up` pins each cluster's placement.

    --ci github also writes GitHub Actions workflows to DIR/.github/workflows/ (DIR: the repository's root).

    stix-preview.yml: each changed tasks/*.yaml previewed on a pull request, in one comment kept up to date.

    stix-drift.yml: `stix drift --all` every six hours. Both pip-install stix and the Pulumi CLI it pins.

    Examples:

      stix init infra

      stix init --ci github .
    """
    from pathlib import Path

    from stix.errors import UsageError
    from stix.install_source import installed_requirement
    from stix.project import PROJECT_FILE, ci_files, init_project, write_ci

    if force and ci is None:
        raise UsageError("--force: only with --ci (stix init never overwrites Pulumi.yaml)")
    requirement = installed_requirement() if ci is not None else None
    workflows = ci_files(Path(directory), ci, force, requirement) if ci is not None else {}
    project, created = init_project(Path(directory))
    if created:
        print(f"Initialized a stix project in {project.root}: {PROJECT_FILE}, {project.stacks_dir.name}/")
    else:
        print(f"{project.root} is already a stix project")
    print("`stix up TASK.yaml` here pins the cluster's placement in "
          f"{project.stacks_dir.name}/Pulumi.<cluster>.yaml; commit it.")
    for path in write_ci(workflows):
        print(f"Wrote {path}")
    if workflows:
        print("The workflows read the repository variable STIX_BACKEND and the secret STIX_PASSPHRASE.")
        if requirement is not None:
            print(f"They install {requirement}, as this stix was installed.")
        else:
            print("Set STIX_PACKAGE in them to where your stix comes from (e.g. stix @ git+https://github.com/"
                  "<org>/stix@<tag>): this stix was installed from here, and they stop at once until you do.")


@app.command("env")
def env_() -> None:
    """Shell exports that let plain `pulumi` use stix's engine, state and program: eval "$(stix env)"."""
    import shlex

    from stix.engine.workspace import plain_pulumi_env
    from stix.home import StixHome

    for key, value in plain_pulumi_env(StixHome.from_env()).items():
        print(f"export {key}={shlex.quote(value)}")
