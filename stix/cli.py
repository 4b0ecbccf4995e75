"""The stix command line: thin commands over stix.launch, and one place that maps errors to exits.

Keep imports here cheap: `stix --help` and `stix status` must not load the
Pulumi SDK or any cloud SDK.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

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


def _session():
    from rich.console import Console

    from stix.home import StixHome
    from stix.launch import Session

    console = Console(stderr=False, highlight=False)
    confirm = None
    if sys.stdin.isatty():
        confirm = lambda question: typer.confirm(question, default=False)  # noqa: E731
    return Session(StixHome.from_env(), console, confirm)


@app.command()
def up(
    task: str = typer.Argument(..., help="Task YAML file."),
    cluster: Optional[str] = typer.Option(None, "-c", "--cluster", help="Cluster name (default: the task's name)."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Apply without asking."),
) -> None:
    """Preview, apply, then run the task's setup and run on every node."""
    from stix import launch

    raise typer.Exit(launch.up(_session(), task, cluster, yes))


@app.command()
def preview(
    task: str = typer.Argument(..., help="Task YAML file."),
    cluster: Optional[str] = typer.Option(None, "-c", "--cluster", help="Cluster name (default: the task's name)."),
) -> None:
    """Show what `stix up` would change, changing nothing."""
    from stix import launch

    launch.preview(_session(), task, cluster)


@app.command()
def destroy(
    cluster: str = typer.Argument(..., help="Cluster name."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Destroy without asking."),
) -> None:
    """Tear a cluster down: every resource, node process and directory."""
    from stix import launch

    launch.destroy(_session(), cluster, yes)


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
        from stix import launch

        session = _session()
        for record in index.all():
            report = launch.refresh(session, record.name)
            for resource in report.resources:
                console.print(f"drift in {record.name}: {resource.describe()}")
    records = index.all()
    if not records:
        console.print("No clusters.")
        return
    console.print(status_table(records))


@app.command()
def validate(task: str = typer.Argument(..., help="Task YAML file.")) -> None:
    """Check a task file and report the first problem as file:line:col."""
    from stix.loader import load_task

    load_task(task)
    print(f"{task}: OK")


@app.command()
def doctor() -> None:
    """Check the engine, sshd, state backend and stix's home; print the fix for anything missing."""
    from stix.doctor import run_checks

    raise typer.Exit(run_checks())


@engine_app.command("install")
def engine_install() -> None:
    """Find or provide the Pulumi CLI (PATH, cache, download, or a build from Go modules)."""
    from stix.engine.locate import find_engine

    engine = find_engine(provide=True)
    print(f"pulumi v{engine.version} at {engine.path} ({engine.source})")


def main() -> None:
    try:
        code = app(standalone_mode=False)  # returns typer.Exit's code instead of raising it
    except StixError as exc:
        print(f"stix: error: {exc.message}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("stix: interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            print("stix: aborted", file=sys.stderr)
            sys.exit(130)
        raise
    sys.exit(code if isinstance(code, int) else 0)
