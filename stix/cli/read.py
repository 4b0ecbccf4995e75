"""Commands that read clusters and their jobs: status, queue, logs, drift (and cancel, beside them)."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from stix.cli.app import app
from stix.cli.common import FORMAT_HELP, _session, check_format, fitting_console
from stix.errors import StixError


@app.command()
def status(
    clusters: list[str] = typer.Argument(None, help="Only these clusters (names or globs, e.g. 'dev-*')."),
    refresh: bool = typer.Option(False, "--refresh", help="Reconcile with real infrastructure first (starts the engine)."),
    ip: bool = typer.Option(False, "--ip", help="Print only the head node's IP address of one UP cluster, e.g. "
                            "`ssh user@$(stix status --ip dev)`."),
    format_: str = typer.Option("text", "--format", help=FORMAT_HELP + " E.g. `stix status --format json`."),
) -> None:
    """List clusters: NAME, LAUNCHED, RESOURCES, STATUS, AUTOSTOP, $/HR (instant: from stix's index, no engine).

    Examples: `stix status`, `stix status dev`, `stix status --ip dev`, `stix status --format json`.
    """
    import json

    from stix.home import StixHome
    from stix.index import ClusterIndex

    check_format(format_)
    home = StixHome.from_env()
    if ip:
        from stix.cluster_jobs import load_info
        from stix.errors import UsageError

        if len(clusters or []) != 1:
            raise UsageError("--ip takes exactly one cluster name, e.g. `stix status --ip dev`")
        print(load_info(home, clusters[0]).head.ip)
        return
    index = ClusterIndex(home.index_db)
    if refresh:
        from rich.console import Console

        from stix import flows

        session = _session()
        for record in _selected(index.all(), clusters):
            report = flows.refresh(session, record.name)
            for resource in report.resources:
                Console(highlight=False, stderr=format_ == "json").print(
                    f"drift in {record.name}: {resource.describe()}", markup=False)
    records = _selected(index.all(), clusters)
    if format_ == "json":
        print(json.dumps([record.status_record() for record in records], indent=2))
        return
    if not records:
        print("No clusters.")
        return
    from rich.console import Console

    from stix.render import status_table, status_text

    console = Console(highlight=False)
    text = status_text(records, console.width if console.is_terminal else 1_000_000)  # a pipe: every cell whole
    if text is None:
        table = status_table(records)
        fitting_console(table).print(table)
    else:
        console.print(text, no_wrap=True, overflow="ignore", crop=False, markup=False)


def _selected(records: list, patterns: Optional[list[str]]) -> list:
    """The records named (globs allowed); a plain name that matches nothing is an error."""
    if not patterns:
        return records
    from fnmatch import fnmatchcase

    from stix.errors import ClusterNotFound

    missing = [p for p in patterns if not any(fnmatchcase(r.name, p) for r in records) and not _is_glob(p)]
    if missing:
        raise ClusterNotFound(f"cluster(s) not found: {', '.join(missing)} (stix status lists clusters)")
    return [r for r in records if any(fnmatchcase(r.name, p) for p in patterns)]


def _is_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


@app.command()
def queue(
    clusters: list[str] = typer.Argument(None, help="Clusters (default: every UP cluster)."),
    skip_finished: bool = typer.Option(False, "-s", "--skip-finished", help="Show only pending and running jobs, "
                                       "e.g. `stix queue dev -s`."),
    format_: str = typer.Option("text", "--format", help=FORMAT_HELP + " E.g. `stix queue dev --format json`."),
) -> None:
    """List clusters' jobs (every UP cluster's when none is named).

    Examples: `stix queue dev`, `stix queue -s`, `stix queue dev other --format json`.
    """
    import json

    from stix.agent.node_agent import TERMINAL
    from stix.home import StixHome
    from stix.index import UP, ClusterIndex
    from stix.cluster_jobs import head_connection, queue as read_queue

    check_format(format_)
    home = StixHome.from_env()
    names = list(dict.fromkeys(clusters or []))
    if not names:
        names = [r.name for r in ClusterIndex(home.index_db).all() if r.status == UP]
    listed: list[tuple[str, list[dict]]] = []
    failed: list[StixError] = []
    for name in names:
        try:
            with head_connection(home, name) as head:
                rows = read_queue(head)
        except StixError as exc:
            if len(names) == 1:
                raise
            failed.append(exc)
            print(f"stix: error: {exc.message}", file=sys.stderr)
            continue
        listed.append((name, [row for row in rows if not (skip_finished and row["status"] in TERMINAL)]))
    if format_ == "json":
        print(json.dumps([{"cluster": name, "jobs": [_job_record(row) for row in rows]} for name, rows in listed],
                         indent=2))
    else:
        from rich.console import Console

        from stix.render import queue_table

        console = Console(highlight=False)
        if not names:
            console.print("No UP clusters.")
        for name, rows in listed:
            table = queue_table(name, rows)
            fitting_console(table).print(table)
    if failed:
        raise typer.Exit(1)


def _job_record(row: dict) -> dict:
    """One job with SkyPilot's queue keys (and stix's few more)."""
    from stix.cluster_jobs import skypilot_job_keys

    return {**skypilot_job_keys(row), "status": row["status"], "num_nodes": row.get("num_nodes"),
            "cpus": row.get("cpus"), "gpus": row.get("gpus"), "exit_code": row.get("exit_code"),
            "detail": row.get("detail")}


@app.command()
def logs(
    cluster: str = typer.Argument(..., help="Cluster name."),
    job: Optional[int] = typer.Argument(None, help="Job id (default: the latest)."),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="Stream until the job ends."),
    tail: Optional[int] = typer.Option(None, "--tail", help="Start from the last N lines of each node's log."),
    status: bool = typer.Option(False, "--status", help="Print the job's status; exit 0 succeeded, 100 failed, 101 not finished, 102 not found, 103 cancelled."),
    sync_down: bool = typer.Option(False, "--sync-down", help="Download the job's log files (one per node) under "
                                   "stix's home and print the directory; no following. E.g. `stix logs dev 3 --sync-down`."),
) -> None:
    """Print or follow a job's logs, prefixed by node (a job launched with a setup: setup's output, then the run's);
    or download them (--sync-down).

    Examples: `stix logs dev`, `stix logs dev 3 --no-follow --tail 50`, `stix logs dev 3 --sync-down`."""
    from stix import cluster_jobs
    from stix.home import StixHome
    from stix.session import print_line

    if sync_down and (status or tail is not None):
        from stix.errors import UsageError

        raise UsageError("--sync-down downloads whole log files: drop --status and --tail")
    home = StixHome.from_env()
    if sync_down:
        from stix.log_sync import sync_down as download

        with cluster_jobs.direct_head(cluster_jobs.load_info(home, cluster)) as sftp_head:
            job_id = job if job is not None else cluster_jobs.latest_job(sftp_head)
            directory, names = download(home, sftp_head, cluster, job_id)
        print(f"job {job_id}: {len(names)} log file(s) in", file=sys.stderr)
        print(directory)
        return
    with cluster_jobs.head_connection(home, cluster) as head:
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
        if not names and not all_clusters:  # --all with no cluster yet (a new repository's CI) is no drift
            raise StixError("name clusters to check, or pass --all")
        check_format(format_, ("text", "json", "markdown"))
        reports = [flows.drift(session, name) for name in names]
    except StixError as exc:
        print(f"stix: error: {exc.message}", file=sys.stderr)
        raise typer.Exit(1)  # Terraform's -detailed-exitcode: 1 is an error, whatever kind
    if format_ == "json":
        print(drift_json(reports))
    elif format_ == "markdown":
        print(drift_markdown(reports), end="")
    else:
        if not reports:
            print("No clusters.")
        for report in reports:
            if not report.drifted:
                print(f"{report.cluster}: no drift")
            for resource in report.resources:
                print(f"{report.cluster}: {resource.describe()}")
    raise typer.Exit(2 if any(r.drifted for r in reports) else 0)
