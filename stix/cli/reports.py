"""Reports over clusters: endpoints (where a cluster's opened ports are reached) and cost-report."""

from __future__ import annotations

import json
from typing import Optional

import typer

from stix.cli.app import app
from stix.cli.common import FORMAT_HELP, check_format, fitting_console


def _whole(value: str, flag: str, low: int, high: Optional[int] = None) -> int:
    from stix.errors import UsageError

    expected = f"a whole number from {low} to {high}" if high is not None else f"a whole number, {low} or more"
    if not value.isdigit() or int(value) < low or (high is not None and int(value) > high):
        raise UsageError(f"{flag} {value!r}: expected {expected}")
    return int(value)


@app.command()
def endpoints(
    cluster: str = typer.Argument(..., help="Cluster name."),
    port: Optional[str] = typer.Argument(None, help="Only this port (it must be one of resources.ports)."),
    format_: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """The cluster's opened ports (resources.ports) as `PORT: host:port` lines.

    Example: stix endpoints dev 8888
    """
    from stix.cluster_endpoints import endpoints as find
    from stix.errors import UsageError
    from stix.home import StixHome

    check_format(format_)
    wanted = _whole(port, "PORT", 1, 65535) if port is not None else None
    found = find(StixHome.from_env(), cluster, wanted)
    if format_ == "json":
        typer.echo(json.dumps({str(p): address for p, address in found.items()}))
        return
    if not found:
        raise UsageError(f"cluster {cluster} opens no ports (set resources.ports in its task)")
    for p, address in found.items():
        typer.echo(f"{p}: {address}")


@app.command("cost-report")
def cost_report(
    all_: bool = typer.Option(False, "--all", "-a", help="Show everything in full, as SkyPilot's --all does: every "
                              "life of a cluster (each launch in one shape) as its own row, with when it ended, "
                              "e.g. `stix cost-report --all`."),
    days: str = typer.Option("30", "--days", help="Include clusters torn down within the last N days (live ones "
                             "always), e.g. `stix cost-report --days 7`."),
    format_: str = typer.Option("text", "--format", help=FORMAT_HELP + " E.g. `stix cost-report --format json`."),
) -> None:
    """What each cluster cost, alive and torn down: hours up, hours stopped, and $ = hours up x the catalog $/hr it
    ran at (stopped time and disks are not charged); managed jobs' share of it; a total.

    Examples: `stix cost-report`, `stix cost-report --days 7 --all`, `stix cost-report --format json`.
    """
    from stix.cluster_costs import check_days, cost_report as build, managed_jobs
    from stix.home import StixHome
    from stix.index import ClusterIndex

    check_format(format_)
    window = check_days(days)
    home = StixHome.from_env()
    report = build(ClusterIndex(home.index_db), managed_jobs(home), window, all_=all_)
    if format_ == "json":
        typer.echo(json.dumps(report.to_dict()))
        return
    if not report.clusters:
        typer.echo("No clusters.")
        return
    tables = [_cost_table(report.clusters, all_), *([_jobs_table(report.managed_jobs)] if report.managed_jobs else [])]
    console = fitting_console(*tables)
    for table in tables:
        console.print(table)
    console.print(f"Total: $ {report.total_cost:.2f} over {len(report.clusters)} cluster row(s)"
                  + (" (managed jobs' cost is part of their clusters')" if report.managed_jobs else ""), markup=False)


def _cost_table(rows, all_: bool = False):
    import time

    from rich.table import Table
    from rich.text import Text

    from stix.cluster_costs import duration_text
    from stix.render import launched_ago

    table = Table(title="Clusters", title_justify="left")
    columns = ["NAME", "LAUNCHED", *(["ENDED"] if all_ else []), "UP", "STOPPED", "NODES", "RESOURCES", "STATUS",
               "COST/hr", "COST"]
    for column in columns:  # narrow terminals fold a cell onto more lines rather than cut it short
        table.add_column(column, overflow="fold")
    now = time.time()
    for row in rows:
        ended = [launched_ago(now - row.ended_at) if row.ended_at is not None else "-"] if all_ else []
        cells = (row.name, launched_ago(now - row.launched_at), *ended, duration_text(row.up_s),
                 duration_text(row.stopped_s) if row.stopped_s else "-", str(row.num_nodes), row.resources,
                 row.status, f"$ {row.hourly_cost:.2f}", f"$ {row.total_cost:.2f}")
        table.add_row(*(Text(cell) for cell in cells))
    return table


def _jobs_table(jobs):
    from rich.table import Table
    from rich.text import Text

    from stix.cluster_costs import duration_text

    table = Table(title="Managed jobs", title_justify="left")
    for column in ("ID", "NAME", "STATUS", "ATTEMPTS", "RECOVERIES", "UP", "COST"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        cells = (str(job.job_id), job.name, job.status, str(job.attempts), str(job.recoveries), duration_text(job.up_s),
                 f"$ {job.total_cost:.2f}")
        table.add_row(*(Text(cell) for cell in cells))
    return table
