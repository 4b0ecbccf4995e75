"""Commands that read clusters and their jobs: status, queue, logs, drift (and cancel, beside them)."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from stix.cli.app import app
from stix.cli.common import _session
from stix.errors import StixError


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
