"""The stix command line: thin commands over stix.flows, and one place that maps errors to exits.

Keep imports here cheap: `stix --help` and `stix status` must not load the Pulumi SDK or any
cloud SDK. Each module of this package registers one family of commands on stix.cli.app.
"""

from __future__ import annotations

import sys

import typer

from stix.cli import cluster, dashboard, jobs, plan, read, reports, tools  # noqa: F401  (each registers its commands)
from stix.cli.app import app, catalog_app, engine_app, jobs_app, store_app
from stix.cli.config import config_app
from stix.cli.policy import policy_app
from stix.cli.serve import serve_app
from stix.cli.storage import storage_app
from stix.errors import StixError

app.add_typer(engine_app, name="engine")
app.add_typer(store_app, name="store")
app.add_typer(catalog_app, name="catalog")
app.add_typer(jobs_app, name="jobs")
app.add_typer(storage_app, name="storage")
app.add_typer(config_app, name="config")
app.add_typer(serve_app, name="serve")
app.add_typer(policy_app, name="policy")

__all__ = ["app", "main"]


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
        from stix.cli.lazy import click_command

        code = click_command(app)(standalone_mode=False)  # returns typer.Exit's code instead of raising it
    except StixError as exc:
        print(f"stix: error: {exc.message}", file=sys.stderr)
        for line in exc.detail_lines():  # PolicyViolations: one line per violation, each its own
            print(f"stix: error: {line}", file=sys.stderr)
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
