"""`stix jobs`: managed jobs."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from stix.cli.app import jobs_app
from stix.cli.common import ENV_FILE_HELP, ENV_HELP, SECRET_HELP, _overrides, _session, check_format, fitting_console


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
    from stix.home import StixHome
    from stix.managed.client import queue_rows
    from stix.managed.store import JobStore

    check_format(format_)
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

    if not rows:
        Console(highlight=False).print(
            "No managed jobs." if all_jobs else "No managed jobs in the last 24 hours (--all lists every job).")
        return
    table = managed_queue_table(rows)
    fitting_console(table).print(table)


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
