"""`stix policy`: the guardrails on their own: check a task's plan or every existing cluster, list the packs."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from stix.cli.common import (CLOUDS_HELP, _launch_request, _overrides, _session, check_format, fitting_console,
                             parse_clouds)
from stix.resource_flags import ResourceOverrides

policy_app = typer.Typer(help="Guardrails: admin policies and policy packs on plans, without changing anything.",
                         no_args_is_help=True)

CHECK_FORMATS = ("text", "json", "markdown")


@policy_app.command("check")
def check(
    task: Optional[str] = typer.Argument(None, help="Task YAML file; none: every existing cluster of this stix home."),
    cluster: Optional[str] = typer.Option(None, "-c", "--cluster",
                                          help="With a task: its cluster name (default: the task's name). Without: "
                                               "check only this existing cluster."),
    clouds: Optional[str] = typer.Option(None, "--clouds", help=CLOUDS_HELP),
    format_: str = typer.Option("text", "--format", help="text, json, or markdown (for a pull-request comment)."),
) -> None:
    """Run the admin policy and the policy packs on a plan, as `stix preview` does, changing nothing.

    With a task: the task's plan (the admin policy first, then the packs on the engine's preview). Without: every
    cluster stix knows but those mid-launch, each re-previewed from the plan saved at its last apply against
    today's packs and config.
    Exit 0: no mandatory violation (advisory ones are printed); 4: a mandatory violation; 1 or 2: an error.

    Examples:

      stix policy check train.yaml

      stix policy check train.yaml -c dev --format markdown

      stix policy check --clouds aws train.yaml --format json

      stix policy check

      stix policy check -c dev
    """
    from stix.policy.check import check_clusters, check_task, settled_clusters

    check_format(format_, CHECK_FORMATS)
    if task is not None:
        request = _launch_request(task, cluster, _overrides([], [], []), ResourceOverrides(), clouds=parse_clouds(clouds))
        results = [check_task(_session(quiet=True), request)]
    else:
        if clouds is not None:
            from stix.errors import UsageError

            raise UsageError("--clouds plans a task; it needs TASK.yaml (existing clusters are checked where they are)")
        session = _session(quiet=True)
        names = [cluster] if cluster is not None else settled_clusters(session)
        results = check_clusters(session, names)
    _show(results, format_)
    failed = [r.error for r in results if r.error is not None]
    for error in failed:
        print(f"stix: error: {error.message}", file=sys.stderr)
        for line in error.detail_lines():
            print(f"stix: error: {line}", file=sys.stderr)
    if failed:
        raise typer.Exit(failed[0].exit_code)
    if any(r.blocked for r in results):
        raise typer.Exit(4)


def _show(results, format_: str) -> None:
    import json

    if format_ == "json":
        print(json.dumps({"blocked": any(r.blocked for r in results), "clusters": [r.to_dict() for r in results]},
                         indent=2))
        return
    if format_ == "markdown":
        from stix.report import policy_check_markdown

        print(policy_check_markdown(results), end="")
        return
    from rich.console import Console

    from stix.render import print_admin_changes, violations_line, violations_table

    console = Console(highlight=False)
    if not results:
        console.print("No clusters.")
    for result in results:
        if result.error is not None:
            continue  # said on stderr, one line
        print_admin_changes(console, list(result.admin_changes))
        if result.violations:
            console.print(violations_table(list(result.violations)))
        console.print(f"{result.cluster}: {violations_line(list(result.violations))}", markup=False,
                      style="red" if result.blocked else None)


@policy_app.command("packs")
def packs(
    format_: str = typer.Option("text", "--format", help="text, or json (with the config each pack is handed)."),
) -> None:
    """List the policy packs a preview from here runs, and where each was named.

    stix's built-in pack (stix-guardrails), each policies/NAME of the project (a directory holding a
    PulumiPolicy.yaml) and the directories policy.packs names in a config file.

    Examples: `stix policy packs`, `stix policy packs --format json`.
    """
    import json

    from stix.policy.check import packs_in_effect

    check_format(format_)
    found = packs_in_effect()
    if format_ == "json":
        print(json.dumps([p.to_dict() for p in found], indent=2))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Policy packs", title_justify="left")
    for column in ("NAME", "NAMED BY", "DIRECTORY"):
        table.add_column(column)
    for pack in found:
        table.add_row(Text(pack.name), Text(pack.named_by), Text(pack.directory))
    fitting_console(table).print(table)
