"""The stix command line: thin commands over stix.flows, and one place that maps errors to exits.

Keep imports here cheap: `stix --help` and `stix status` must not load the
Pulumi SDK or any cloud SDK.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from stix.cli_storage import storage_app
from stix.errors import StixError

app = typer.Typer(
    name="stix",
    help="Run ML tasks on GPU clusters as Pulumi stacks: preview, apply, run, destroy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
engine_app = typer.Typer(help="The Pulumi engine stix drives.", no_args_is_help=True)
app.add_typer(engine_app, name="engine")
store_app = typer.Typer(help="The local cloud's object store (SeaweedFS, on 127.0.0.1).", no_args_is_help=True)
app.add_typer(store_app, name="store")
catalog_app = typer.Typer(help="Instance and price catalogs.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
jobs_app = typer.Typer(help="Managed jobs: run to completion through preemptions, capacity errors and failures.",
                       no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
app.add_typer(storage_app, name="storage")


def _session(quiet: bool = False):
    from rich.console import Console

    from stix.events import discard
    from stix.flows import Session
    from stix.home import StixHome
    from stix.render import console_events

    confirm = None
    if sys.stdin.isatty():
        confirm = lambda question: typer.confirm(question, default=False)  # noqa: E731
    events = discard if quiet else console_events(Console(stderr=False, highlight=False))
    return Session(StixHome.from_env(), events, confirm)


def _launch_request(task: str, cluster: Optional[str], overrides, **options):
    """The load stage: the task file, parsed once, with the command line's envs and secrets."""
    from pathlib import Path

    from stix.flows import LaunchRequest
    from stix.loader import load_task

    path = Path(task)
    return LaunchRequest(load_task(path, overrides, require_env=options.pop("require_env", False)), cluster, path,
                         **options)


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


@app.command()
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
) -> None:
    """Preview, apply, then run the task's setup and run on every node."""
    from stix import flows

    request = _launch_request(task, cluster, _overrides(env, env_file, secret), require_env=True, yes=yes,
                              idle_minutes=idle_minutes, down=down, retry_until_up=retry_until_up)
    raise typer.Exit(flows.up(_session(), request).exit_code)


@app.command()
def preview(
    task: str = typer.Argument(..., help="Task YAML file."),
    cluster: Optional[str] = typer.Option(None, "-c", "--cluster", help="Cluster name (default: the task's name)."),
    env: list[str] = typer.Option([], "--env", help=ENV_HELP),
    env_file: list[str] = typer.Option([], "--env-file", help=ENV_FILE_HELP),
    secret: list[str] = typer.Option([], "--secret", help=SECRET_HELP),
    format_: str = typer.Option("text", "--format", help="text, json, or markdown (for a pull-request comment)."),
) -> None:
    """Show what `stix up` would change, changing nothing."""
    import json as json_

    from stix import flows
    from stix.errors import UsageError

    if format_ not in ("text", "json", "markdown"):
        raise UsageError(f"--format {format_!r}: expected text, json or markdown")
    request = _launch_request(task, cluster, _overrides(env, env_file, secret))
    report = flows.preview(_session(quiet=format_ != "text"), request)
    if format_ == "json":
        print(json_.dumps(report.to_dict(), indent=2))
    elif format_ == "markdown":
        print(report.to_markdown(), end="")


@app.command()
def drift(
    clusters: list[str] = typer.Argument(None, help="Clusters to check (default with --all: every cluster)."),
    all_clusters: bool = typer.Option(False, "--all", help="Check every cluster stix knows."),
    format_: str = typer.Option("text", "--format", help="text, json, or markdown."),
) -> None:
    """Compare real resources with state, changing neither. Exit 0: no drift, 2: drift, 1: error."""
    from stix import flows
    from stix.index import ClusterIndex
    from stix.report import drift_json, drift_markdown

    try:
        session = _session()
        names = list(clusters or [])
        if all_clusters:
            from stix.project import find_project

            project = find_project()
            known = [r.name for r in ClusterIndex(session.home.index_db).all()]
            known += project.pinned_clusters() if project else []  # CI: a fresh machine, the project's stacks
            names += [name for name in dict.fromkeys(known) if name not in names]
        if not names:
            raise StixError("name clusters to check, or pass --all")
        if format_ not in ("text", "json", "markdown"):
            raise StixError(f"--format {format_!r}: expected text, json or markdown")
        reports = [flows.drift(session, name) for name in names]
    except StixError as exc:
        print(f"stix: error: {exc.message}", file=sys.stderr)
        raise typer.Exit(1)  # Terraform's -detailed-exitcode: 1 is an error, whatever kind
    if format_ == "json":
        print(drift_json(reports))
    elif format_ == "markdown":
        print(drift_markdown(reports), end="")
    else:
        for report in reports:
            if not report.drifted:
                print(f"{report.cluster}: no drift")
            for resource in report.resources:
                print(f"{report.cluster}: {resource.describe()}")
    raise typer.Exit(2 if any(r.drifted for r in reports) else 0)


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
def exec_(
    cluster: str = typer.Argument(..., help="Cluster name."),
    target: str = typer.Argument(..., help="A task YAML file, or a shell command to run on the head node."),
    detach: bool = typer.Option(False, "-d", "--detach", help="Submit and return; do not stream the logs."),
    env: list[str] = typer.Option([], "--env", help=ENV_HELP),
    env_file: list[str] = typer.Option([], "--env-file", help=ENV_FILE_HELP),
    secret: list[str] = typer.Option([], "--secret", help=SECRET_HELP),
) -> None:
    """Run a job on an up cluster without touching its infrastructure (no Pulumi)."""
    from stix import flows
    from stix.loader import is_task_file, load_task
    from stix.models.task import Task

    overrides = _overrides(env, env_file, secret)
    if is_task_file(target):
        task = load_task(target, overrides, require_env=True)
    else:
        task = Task(run=target, envs=dict(overrides.envs), secrets=dict(overrides.secrets))
    raise typer.Exit(flows.exec_(_session(), flows.ExecRequest(cluster, task, detach)).exit_code)


@app.command()
def queue(cluster: str = typer.Argument(..., help="Cluster name.")) -> None:
    """List a cluster's jobs."""
    from rich.console import Console

    from stix.home import StixHome
    from stix.cluster_jobs import head_connection, queue as read_queue
    from stix.render import queue_table

    with head_connection(StixHome.from_env(), cluster) as head:
        Console(highlight=False).print(queue_table(cluster, read_queue(head)))


@app.command()
def logs(
    cluster: str = typer.Argument(..., help="Cluster name."),
    job: Optional[int] = typer.Argument(None, help="Job id (default: the latest)."),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="Stream until the job ends."),
    tail: Optional[int] = typer.Option(None, "--tail", help="Start from the last N lines of each node's log."),
    status: bool = typer.Option(False, "--status", help="Print the job's status; exit 0 succeeded, 100 failed, 101 not finished, 102 not found, 103 cancelled."),
) -> None:
    """Print or follow a job's logs, prefixed by node."""
    from stix import cluster_jobs
    from stix.home import StixHome
    from stix.session import print_line

    with cluster_jobs.head_connection(StixHome.from_env(), cluster) as head:
        job_id = job if job is not None else cluster_jobs.latest_job(head)
        if status:
            state, code = cluster_jobs.logs_status(head, job_id)
            print(state)
        else:
            code = cluster_jobs.follow(head, job_id, print_line, tail=tail, follow_=follow)
    raise typer.Exit(code if code in cluster_jobs.LOGS_STATUS_EXITS else 1)


@app.command()
def cancel(
    cluster: str = typer.Argument(..., help="Cluster name."),
    job_ids: list[int] = typer.Argument(None, help="Job ids."),
    all_jobs: bool = typer.Option(False, "-a", "--all", help="Cancel every unfinished job."),
) -> None:
    """Cancel jobs: their processes are killed on every node."""
    from stix import cluster_jobs
    from stix.errors import UsageError
    from stix.home import StixHome

    if not job_ids and not all_jobs:
        raise UsageError("name the jobs to cancel, or pass -a for all")
    with cluster_jobs.head_connection(StixHome.from_env(), cluster) as head:
        cancelled = cluster_jobs.cancel(head, job_ids or [], all_jobs)
    print(f"cancelled: {', '.join(map(str, cancelled)) or 'nothing (already finished)'}")


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
def status(
    refresh: bool = typer.Option(False, "--refresh", help="Reconcile with real infrastructure first (starts the engine)."),
) -> None:
    """List clusters from stix's index (instant: the engine is not started without --refresh)."""
    from rich.console import Console

    from stix.home import StixHome
    from stix.index import ClusterIndex
    from stix.render import status_table

    index = ClusterIndex(StixHome.from_env().index_db)
    console = Console(highlight=False)
    if refresh:
        from stix import flows

        session = _session()
        for record in index.all():
            report = flows.refresh(session, record.name)
            for resource in report.resources:
                console.print(f"drift in {record.name}: {resource.describe()}", markup=False)
    records = index.all()
    if not records:
        console.print("No clusters.")
        return
    console.print(status_table(records))


@app.command()
def validate(
    task: str = typer.Argument(..., help="Task YAML file."),
    env: list[str] = typer.Option([], "--env", help=ENV_HELP),
    env_file: list[str] = typer.Option([], "--env-file", help=ENV_FILE_HELP),
    secret: list[str] = typer.Option([], "--secret", help=SECRET_HELP),
) -> None:
    """Check a task file (or pipeline) and report the first problem as file:line:col."""
    from stix.loader import load_pipeline

    pipeline = load_pipeline(task, _overrides(env, env_file, secret))
    if pipeline.is_pipeline:
        label = f" (pipeline {pipeline.name!r}, " if pipeline.name else " (pipeline, "
        print(f"{task}: OK{label}{len(pipeline.tasks)} tasks)")
    else:
        print(f"{task}: OK")
    required = sorted({key for t in pipeline.tasks for key in t.required_unset()})
    if required:
        print(f"{task}: needs at up: {', '.join(required)}")


@app.command()
def schema(
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Write to this file instead of stdout."),
) -> None:
    """Write the JSON schema of the task file (for editors: yaml-language-server)."""
    from stix.schema import task_schema_json

    text = task_schema_json()
    if output:
        with open(output, "w") as handle:
            handle.write(text)
        print(f"wrote {output}")
    else:
        print(text, end="")


@app.command()
def doctor() -> None:
    """Check the engine, sshd, state backend and stix's home; print the fix for anything missing."""
    from stix.doctor import run_checks

    raise typer.Exit(run_checks())


@app.command()
def optimize(
    task: str = typer.Argument(..., help="Task YAML file."),
    target: str = typer.Option("COST", "--target", help="COST (cheapest) or TIME (fastest accelerators)."),
    env: list[str] = typer.Option([], "--env", help=ENV_HELP),
    env_file: list[str] = typer.Option([], "--env-file", help=ENV_FILE_HELP),
) -> None:
    """Show the placements considered for a task and the one chosen, with $/hr."""
    from rich.console import Console

    from stix.errors import UsageError
    from stix.loader import load_task
    from stix.placement import place
    from stix.render import candidates_table, placement_line

    target = target.upper()
    if target not in ("COST", "TIME"):
        raise UsageError(f"--target {target!r}: expected COST or TIME")
    placement = place(load_task(task, _overrides(env, env_file, [])), target)
    console = Console(highlight=False)
    console.print(candidates_table(placement))
    console.print(placement_line(placement), markup=False)


@app.command()
def gpus(
    accelerator: Optional[str] = typer.Argument(None, help="NAME or NAME:COUNT, e.g. A100:8."),
    cloud: Optional[str] = typer.Option(None, "--cloud", help="Only this cloud."),
    region: Optional[str] = typer.Option(None, "--region", help="Only this region."),
    all_regions: bool = typer.Option(False, "--all-regions", help="One row per region, not only the cheapest."),
) -> None:
    """List accelerators in the catalogs, with on-demand and spot prices."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from stix.catalog.load import load_catalog
    from stix.gpus import offer_rows, parse_filter, summary_rows
    from stix.render import gpus_table

    name, count = parse_filter(accelerator)
    catalog = load_catalog([cloud] if cloud else None)
    console = Console(highlight=False)
    if name is None:
        table = Table(title="Accelerators", title_justify="left")
        for column in ("GPU", "QUANTITIES", "CLOUDS"):
            table.add_column(column)
        for row in summary_rows(catalog, cloud):
            table.add_row(*(Text(cell) for cell in row))
        console.print(table)
        return
    rows = offer_rows(catalog, name, count, cloud, region, all_regions)
    if not rows:
        from stix.errors import UsageError

        raise UsageError(f"no offers for {accelerator}" + (f" on {cloud}" if cloud else "") + (f" in {region}" if region else ""))
    console.print(gpus_table(rows, f"{accelerator} offers"))


@app.command()
def check(clouds: list[str] = typer.Argument(None, help="Clouds to check (default: all).")) -> None:
    """Which clouds have credentials (environment and the clouds' own config files); no network call."""
    from stix.credentials import check_clouds

    results = [c for c in check_clouds() if not clouds or c.cloud in clouds]
    for result in results:
        print(f"{'enabled ' if result.enabled else 'disabled'} {result.cloud:11} {result.detail}")
    print("enabled clouds: " + ", ".join(c.cloud for c in check_clouds() if c.enabled))


@catalog_app.command("update")
def catalog_update(clouds: list[str] = typer.Argument(None, help="aws, gcp, azure (default: all three).")) -> None:
    """Reprice catalogs from the clouds' public price endpoints (GCP needs STIX_GCP_API_KEY)."""
    import os

    from stix.catalog.fetch.http import fetch_json
    from stix.catalog.load import updated_dir
    from stix.catalog.update import updatable, update_catalog

    failed = 0
    for cloud in clouds or updatable():
        try:
            report = update_catalog(cloud, updated_dir(), fetch_json, gcp_api_key=os.environ.get("STIX_GCP_API_KEY"))
            print(report.describe())
        except StixError as exc:
            failed += 1
            print(f"stix: error: {cloud}: {exc.message}", file=sys.stderr)
    raise typer.Exit(1 if failed else 0)


@catalog_app.command("show")
def catalog_show() -> None:
    """Which catalog file each cloud is read from, with its source and date."""
    from stix.catalog.load import catalog_clouds, catalog_file, source_line

    for cloud in catalog_clouds():
        path = catalog_file(cloud)
        print(f"{cloud:6} {path}\n       {source_line(path) if path else '(none)'}")


@jobs_app.command("launch")
def jobs_launch(
    task: str = typer.Argument(..., help="Task YAML file: one task, or a pipeline (several documents, run in order)."),
    name: Optional[str] = typer.Option(None, "-n", "--name", help="Job name (default: the pipeline's or task's name, else the file's stem)."),
    detach: bool = typer.Option(False, "-d", "--detach", help="Submit and return; do not follow the logs."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Launch without asking."),
    env: list[str] = typer.Option([], "--env", help=ENV_HELP),
    env_file: list[str] = typer.Option([], "--env-file", help=ENV_FILE_HELP),
    secret: list[str] = typer.Option([], "--secret", help=SECRET_HELP),
    retry_until_up: bool = typer.Option(False, "--retry-until-up", help="Keep cycling through the candidates (with backoff) until one has capacity."),
) -> None:
    """Launch a managed job: the controller brings up a cluster per task, recovers it, and tears it down.

    The controller is a detached process on this machine, or, with STIX_JOBS_CONTROLLER=cluster, runs on the
    cluster stix-jobs-controller, which stix launches when it is not up (where: STIX_JOBS_CONTROLLER_INFRA,
    default local); then every `stix jobs` command talks to it over SSH, and the laptop can close."""
    from stix.managed import client, controller_cluster, remote
    from stix.managed.store import JobStore
    from stix.session import print_line

    request = client.load_launch(task, _overrides(env, env_file, secret), name, yes=yes, retry_until_up=retry_until_up)
    session = _session()
    on_cluster = controller_cluster.on_cluster()
    job_id = (remote.launch if on_cluster else client.launch)(session, request)
    if detach:
        print(f"`stix jobs logs {job_id}` follows it; `stix jobs queue` lists it.")
        return
    try:
        if on_cluster:
            found = remote.logs(session, job_id, None, print_line)
            code = client.NOT_FOUND_EXIT if found is None else found
        else:
            code = client.tail_logs(JobStore(session.home), job_id, print_line)
    except KeyboardInterrupt:
        print(f"Managed job {job_id} keeps running: `stix jobs logs {job_id}` follows it again, "
              f"`stix jobs cancel {job_id}` stops it.", file=sys.stderr)
        raise
    raise typer.Exit(code)


@jobs_app.command("queue")
def jobs_queue(
    all_jobs: bool = typer.Option(False, "-a", "--all", help="Every job (default: unfinished ones, and those that ended in the last 24 hours)."),
    format_: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """List managed jobs: unfinished ones and those that ended in the last 24 hours (--all: every job).

    Reads the local record only: instant (STIX_JOBS_CONTROLLER=cluster: the controller cluster's, over SSH)."""
    from stix.errors import UsageError
    from stix.home import StixHome
    from stix.managed.client import queue_rows
    from stix.managed.store import JobStore

    if format_ not in ("text", "json"):
        raise UsageError(f"--format {format_!r}: expected text or json")
    from stix.managed import controller_cluster, remote

    if controller_cluster.on_cluster():
        rows = remote.queue_rows(_session(quiet=True), all_jobs=all_jobs)
    else:
        rows = queue_rows(JobStore(StixHome.from_env()), all_jobs=all_jobs)
    if format_ == "json":
        import json as json_

        print(json_.dumps(rows, indent=2))
        return
    from rich.console import Console

    from stix.render import managed_queue_table

    console = Console(highlight=False)
    if not rows:
        console.print("No managed jobs." if all_jobs else "No managed jobs in the last 24 hours (--all lists every job).")
        return
    console.print(managed_queue_table(rows))


@jobs_app.command("cancel")
def jobs_cancel(
    job_ids: list[int] = typer.Argument(None, help="Managed job ids."),
    name: Optional[str] = typer.Option(None, "-n", "--name", help="Cancel the unfinished jobs of this name."),
    all_jobs: bool = typer.Option(False, "-a", "--all", help="Cancel every unfinished managed job."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Cancel without asking."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait (up to 5 minutes) until each job has ended and its clusters are gone."),
) -> None:
    """Cancel managed jobs: the controller stops each one's work and tears its clusters down."""
    from stix.managed import client, controller_cluster, remote

    cancel = remote.cancel if controller_cluster.on_cluster() else client.cancel
    result = cancel(_session(), job_ids or [], name, all_jobs, yes, client.CANCEL_WAIT_S if wait else None)
    if not result.requested or (wait and not result.settled):
        raise typer.Exit(1)


@jobs_app.command("logs")
def jobs_logs(
    job_id: Optional[int] = typer.Argument(None, help="Managed job id (default: the newest, or the newest named -n)."),
    name: Optional[str] = typer.Option(None, "-n", "--name", help="The newest job of this name."),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="Follow until the job ends."),
    controller: bool = typer.Option(False, "--controller", help="The controller's lines about the job instead."),
) -> None:
    """Print or follow a managed job's logs: every attempt of every task, in order.

    Exit 0 succeeded, 100 failed, 101 not finished, 102 not found, 103 cancelled."""
    from stix.managed import client, controller_cluster, remote
    from stix.session import print_line

    if controller_cluster.on_cluster():
        code = remote.logs(_session(quiet=True), job_id, name, print_line, follow, controller)
    else:
        from stix.home import StixHome
        from stix.managed.store import JobStore

        code = client.read_logs(JobStore(StixHome.from_env()), job_id, name, print_line, follow, controller)
    if code is None:
        what = f"managed job {job_id}" if job_id is not None else f"managed job named {name!r}" if name else "managed job"
        print(f"stix: error: no {what} (stix jobs queue lists them)", file=sys.stderr)
        raise typer.Exit(client.NOT_FOUND_EXIT)
    raise typer.Exit(code)


@engine_app.command("install")
def engine_install() -> None:
    """Find or provide the Pulumi CLI (PATH, cache, download, or a build from Go modules)."""
    from stix.engine.locate import find_engine

    engine = find_engine(provide=True)
    print(f"pulumi v{engine.version} at {engine.path} ({engine.source})")


@store_app.command("install")
def store_install() -> None:
    """Find the store's binary in the cache, or build it once from Go modules."""
    from stix.objectstore.build import find_weed, probe

    weed = find_weed(provide=True)
    print(f"SeaweedFS ({probe(weed) or 'version unknown'}) at {weed}")


@store_app.command("status")
def store_status() -> None:
    """Whether this home's store runs, its URL and the size of its data. Exit 1 when it is not running."""
    from stix.home import StixHome
    from stix.objectstore import server

    home = StixHome.from_env()
    endpoint = server.running(home)
    size = server.data_size(home) / 1024 / 1024
    where = server.StorePaths.of(home).data
    if endpoint is None:
        print(f"not running; data {size:.1f} MiB in {where}")
        raise typer.Exit(1)
    print(f"running at {endpoint.url} (pid {server.store_pid(home)}); data {size:.1f} MiB in {where}")


@store_app.command("stop")
def store_stop() -> None:
    """Stop this home's store; its data stays, and the next use starts it again at the same URL."""
    from stix.home import StixHome
    from stix.objectstore import server

    print("stopped" if server.stop(StixHome.from_env()) else "not running")


_terminated: list[int] = []


def _on_sigterm(signum: int, frame) -> None:
    """SIGTERM is handled as Ctrl-C is: by whatever SIGINT handler is current, so it is deferred while the
    engine applies (stix.engine.calls.interrupts_deferred) and otherwise raises KeyboardInterrupt."""
    import signal

    _terminated.append(signum)
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


def _interrupted_exit() -> int:
    return 143 if _terminated else 130


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = app(standalone_mode=False)  # returns typer.Exit's code instead of raising it
    except StixError as exc:
        print(f"stix: error: {exc.message}", file=sys.stderr)
        sys.exit(_interrupted_exit() if exc.exit_code == 130 else exc.exit_code)
    except KeyboardInterrupt:
        print("stix: terminated" if _terminated else "stix: interrupted", file=sys.stderr)
        sys.exit(_interrupted_exit())
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.exceptions.Abort:
        print("stix: aborted", file=sys.stderr)
        sys.exit(_interrupted_exit())
    except typer.exceptions.TyperException as exc:  # usage errors (typer's bundled click)
        show = getattr(exc, "show", None)
        if show:
            show()
        else:
            print(f"stix: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    if code == 130 and _terminated:  # typer turns KeyboardInterrupt (here: SIGTERM's) into exit 130
        print("stix: terminated", file=sys.stderr)
        sys.exit(143)
    sys.exit(code if isinstance(code, int) else 0)
