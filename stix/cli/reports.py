"""Reports over clusters: endpoints (where a cluster's opened ports are reached) and cost-report."""

from __future__ import annotations

import json
from typing import Optional

import typer

from stix.cli.app import app
from stix.cli.common import FORMAT_HELP, check_format


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
    days: str = typer.Option("30", "--days", help="Include clusters torn down within the last N days (live ones always)."),
    format_: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """What each cluster cost, alive and torn down: $/hr from the catalog price times the time it lived.

    Example: stix cost-report --days 7
    """
    from stix.cluster_costs import cost_rows
    from stix.home import StixHome
    from stix.index import ClusterIndex

    check_format(format_)
    rows = cost_rows(ClusterIndex(StixHome.from_env().index_db), days)
    if format_ == "json":
        typer.echo(json.dumps([row.to_dict() for row in rows]))
        return
    if not rows:
        typer.echo("No clusters.")
        return
    from rich.console import Console

    Console(highlight=False).print(_cost_table(rows))


def _cost_table(rows):
    import time

    from rich.table import Table
    from rich.text import Text

    from stix.cluster_costs import duration_text
    from stix.render import launched_ago

    table = Table(title="Clusters", title_justify="left")
    for column in ("NAME", "LAUNCHED", "DURATION", "NODES", "RESOURCES", "STATUS", "COST/hr", "COST"):
        table.add_column(column)
    now = time.time()
    for row in rows:
        cells = (row.name, launched_ago(now - row.launched_at), duration_text(row.duration_s), str(row.num_nodes),
                 row.resources, row.status, f"$ {row.hourly_cost:.2f}", f"$ {row.total_cost:.2f}")
        table.add_row(*(Text(cell) for cell in cells))
    return table
