"""Commands that plan without launching: validate, optimize, gpus, check, catalogs, schema, doctor."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from stix.cli.app import app, catalog_app
from stix.cli.common import (CLOUDS_HELP, ENV_FILE_HELP, ENV_HELP, FORMAT_HELP, SECRET_HELP, _overrides, check_format,
                             fitting_console, parse_clouds, resource_options)
from stix.resource_flags import ResourceOverrides
from stix.errors import StixError, UsageError


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
        kind = "job group" if pipeline.is_job_group else "pipeline"
        label = f" ({kind} {pipeline.name!r}, " if pipeline.name else f" ({kind}, "
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
@resource_options
def optimize(
    task: str = typer.Argument(..., help="Task YAML file."),
    target: str = typer.Option("COST", "--target", help="COST (cheapest) or TIME (fastest accelerators)."),
    env: list[str] = typer.Option([], "--env", help=ENV_HELP),
    env_file: list[str] = typer.Option([], "--env-file", help=ENV_FILE_HELP),
    clouds: Optional[str] = typer.Option(None, "--clouds", help=CLOUDS_HELP),
    format_: str = typer.Option("text", "--format", help=FORMAT_HELP + " E.g. `stix optimize task.yaml --format json`."),
    resources: ResourceOverrides = ResourceOverrides(),
) -> None:
    """Show the placements considered for a task and the one chosen, with $/hr.

    Examples: `stix optimize task.yaml`, `stix optimize task.yaml --gpus A100:8 --clouds all --format json`.
    """
    import json


    from stix.errors import UsageError
    from stix.loader import load_task
    from stix.overrides import apply_overrides
    from stix.placement import place, placement_dict, without_credentials
    from stix.render import candidates_table, placement_line

    check_format(format_)
    target = target.upper()
    if target not in ("COST", "TIME"):
        raise UsageError(f"--target {target!r}: expected COST or TIME")
    chosen_clouds = parse_clouds(clouds)
    placement = place(apply_overrides(load_task(task, _overrides(env, env_file, [])), resources), target,
                      chosen_clouds)
    lacking = set(without_credentials([c.cloud for c in placement.candidates]))
    if format_ == "json":
        print(json.dumps(placement_dict(placement, target, lacking), indent=2))
        return
    table = candidates_table(placement, lacking=lacking if chosen_clouds is not None else None)
    console = fitting_console(table)
    console.print(table)
    console.print(placement_line(placement), markup=False)
    if placement.chosen.cloud in lacking:
        console.print(f"No credentials for {placement.chosen.cloud}: `stix preview` shows the plan; `stix up` needs "
                      f"them (stix check).", markup=False)


@app.command()
def gpus(
    accelerator: Optional[str] = typer.Argument(None, help="NAME or NAME:COUNT, e.g. A100:8."),
    cloud: Optional[str] = typer.Option(None, "--cloud", help="Only this cloud."),
    region: Optional[str] = typer.Option(None, "--region", help="Only this region."),
    all_regions: bool = typer.Option(False, "--all-regions", help="One row per region, not only the cheapest."),
    clouds: Optional[str] = typer.Option(None, "--clouds", help="Only these clouds (comma-separated), or all; marks "
                                         "the clouds without credentials. E.g. `stix gpus A100:8 --clouds all`."),
    format_: str = typer.Option("text", "--format", help=FORMAT_HELP + " E.g. `stix gpus A100 --format json`."),
) -> None:
    """List accelerators in the catalogs, with on-demand and spot prices (credentials or not).

    Examples: `stix gpus`, `stix gpus A100:8 --clouds aws,gcp`, `stix gpus H100 --format json`.
    """
    import json

    from rich.table import Table
    from rich.text import Text

    from stix.catalog.load import load_catalog
    from stix.gpus import gpu_memory, listed_clouds, offer_records, offer_rows, parse_filter, summary_rows
    from stix.models.values import number
    from stix.placement import considered_clouds, without_credentials
    from stix.render import gpus_table

    check_format(format_)
    name, count = parse_filter(accelerator)
    wanted = parse_clouds(clouds)
    only = listed_clouds(cloud, considered_clouds(wanted)[1] if wanted is not None else None)
    catalog = load_catalog(sorted(only) if only is not None else None)
    lacking = set(without_credentials(catalog.clouds()))
    marked = wanted is not None
    if name is None:
        rows = summary_rows(catalog, only)
        if format_ == "json":
            print(json.dumps([{"accelerator": gpu, "counts": counts, "clouds": listed} for gpu, counts, listed in rows],
                             indent=2))
            return
        table = Table(title="Accelerators", title_justify="left")
        for column in ("GPU", "QUANTITIES", "MEMORY", "CLOUDS"):
            table.add_column(column)
        for gpu, counts, listed in rows:
            shown = ", ".join(c + (" (no credentials)" if marked and c in lacking else "") for c in listed)
            table.add_row(*(Text(cell) for cell in (gpu, ", ".join(number(c) for c in counts), gpu_memory(gpu), shown)))
        fitting_console(table).print(table)
        return
    offers = offer_records(catalog, name, count, only, region, all_regions)
    if not offers:
        from stix.errors import UsageError

        raise UsageError(f"no offers for {accelerator}" + (f" on {cloud}" if cloud else "") + (f" in {region}" if region else ""))
    if format_ == "json":
        print(json.dumps([{"accelerator": o.accelerator, "count": o.accelerator_count, "cloud": o.cloud,
                           "instance_type": o.instance_type, "cpus": o.vcpus, "memory": o.memory_gib,
                           "price": o.price, "spot_price": o.spot_price, "region": o.region,
                           "credentials": o.cloud not in lacking} for o in offers], indent=2))
        return
    table = gpus_table(offer_rows(offers), f"{accelerator} offers", lacking if marked else None)
    fitting_console(table).print(table)


@app.command()
def check(
    clouds: list[str] = typer.Argument(None, help="Clouds to check (default: all)."),
    format_: str = typer.Option("text", "--format", help=FORMAT_HELP + " E.g. `stix check --format json`."),
) -> None:
    """Which clouds have credentials (environment and the clouds' own config files); no network call. A cloud
    outside `allowed_clouds` (stix's config files) is disabled.

    Examples: `stix check`, `stix check aws gcp`, `stix check --format json`."""
    import json

    from stix.credentials import check_clouds
    from stix.project import config_for

    check_format(format_)
    checks = check_clouds(config=config_for(None))
    unknown = [name for name in clouds or [] if name not in {c.cloud for c in checks}]
    if unknown:
        from stix.errors import UsageError

        raise UsageError(f"{unknown[0]!r} is not a cloud; expected one of {', '.join(c.cloud for c in checks)}")
    results = [c for c in checks if not clouds or c.cloud in clouds]
    if format_ == "json":
        print(json.dumps([{"cloud": c.cloud, "enabled": c.enabled, "detail": c.detail} for c in results], indent=2))
        return
    for result in results:
        print(f"{'enabled ' if result.enabled else 'disabled'} {result.cloud:11} {result.detail}")
    print("enabled clouds: " + ", ".join(c.cloud for c in checks if c.enabled))


@catalog_app.command("update")
def catalog_update(
    clouds: list[str] = typer.Argument(None, help="aws, gcp, azure (default: all three)."),
    source: str = typer.Option("cloud", "--source", help="cloud: reprice from the clouds' own price endpoints "
                               "(default); skypilot: take SkyPilot's published vms.csv."),
    url: Optional[str] = typer.Option(None, "--url", help="With --source skypilot and one cloud: the vms.csv to read "
                                      "(https://, file:// or a path; default: skypilot-org/skypilot-catalog on GitHub)."),
    replace: bool = typer.Option(False, "--replace", help="With --source skypilot: write the source's rows even if "
                                 "that drops more than half of the current catalog's instance types (a trimmed file)."),
) -> None:
    """Refresh catalogs into stix's home, read before the bundled ones.

    --source cloud reprices the current rows from each cloud's public price endpoint (GCP needs STIX_GCP_API_KEY);
    --source skypilot takes SkyPilot's published catalog: in the regions stix bundles, its instance types plus any
    other whose accelerator stix knows. A source that would drop over half the current instance types is refused
    (exit 2, nothing written) unless --replace.

    Example: stix catalog update aws --source skypilot
    Example: stix catalog update aws --source skypilot --url ./p5-only.csv --replace
    """
    import os

    from stix.catalog.load import updated_dir
    from stix.catalog.update import updatable

    if source not in ("cloud", "skypilot"):
        raise UsageError(f"--source must be cloud or skypilot, got {source!r}")
    if url is not None and (source != "skypilot" or len(clouds or []) != 1):
        raise UsageError("--url needs --source skypilot and exactly one cloud")
    if replace and source != "skypilot":
        raise UsageError("--replace needs --source skypilot")
    failed = 0
    for cloud in clouds or updatable():
        try:
            if source == "skypilot":
                from stix.catalog.skypilot import update_from_skypilot

                print(update_from_skypilot(cloud, updated_dir(), url=url, replace=replace).describe())
            else:
                from stix.catalog.fetch.http import fetch_json
                from stix.catalog.update import update_catalog

                report = update_catalog(cloud, updated_dir(), fetch_json,
                                        gcp_api_key=os.environ.get("STIX_GCP_API_KEY"))
                print(report.describe())
        except StixError as exc:
            failed = max(failed, 2 if isinstance(exc, UsageError) else 1)
            print(f"stix: error: {cloud}: {exc.message}", file=sys.stderr)
    raise typer.Exit(failed)


@catalog_app.command("show")
def catalog_show() -> None:
    """Which catalog file each cloud is read from, with its source and date."""
    from stix.catalog.load import catalog_clouds, catalog_file, source_line

    for cloud in catalog_clouds():
        path = catalog_file(cloud)
        print(f"{cloud:6} {path}\n       {source_line(path) if path else '(none)'}")
