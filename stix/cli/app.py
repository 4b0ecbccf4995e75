"""The Typer application and its command groups; the command modules register on them."""

from __future__ import annotations

import typer

from stix.cli import coercion

coercion.install()

app = typer.Typer(
    name="stix",
    help="Run ML tasks on GPU clusters as Pulumi stacks: preview, apply, run, destroy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"stix {version('stix')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print stix's version and exit."),
) -> None:
    pass  # the app's help is the Typer's own: a docstring here would be a second copy of it


engine_app = typer.Typer(help="The Pulumi engine stix drives.", no_args_is_help=True)
store_app = typer.Typer(help="The local cloud's object store (SeaweedFS, on 127.0.0.1).", no_args_is_help=True)
catalog_app = typer.Typer(help="Instance and price catalogs.", no_args_is_help=True)
jobs_app = typer.Typer(help="Managed jobs: run to completion through preemptions, capacity errors and failures.",
                       no_args_is_help=True)
