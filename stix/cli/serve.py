"""`stix serve`: replicas of a task behind a load balancer (SkyServe's commands)."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from stix.cli.common import (ENV_FILE_HELP, ENV_HELP, FORMAT_HELP, SECRET_HELP, _overrides, _session, check_format,
                             fitting_console)

serve_app = typer.Typer(
    help="Serve a task: replicas (each a cluster) behind a load balancer, with readiness probes, autoscaling and "
         "updates that drop no request. The task needs a `service:` section (readiness_probe, replicas or "
         "replica_policy, ports).",
    no_args_is_help=True)


@serve_app.command("up")
def serve_up(
    task: str = typer.Argument(..., help="Task YAML file with a `service:` section."),
    name: Optional[str] = typer.Option(None, "-n", "--service-name", "--name",
                                       help="Service name (default: the task's name, else a generated one)."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Serve without asking."),
    env: list[str] = typer.Option([], "--env", help=ENV_HELP),
    env_file: list[str] = typer.Option([], "--env-file", help=ENV_FILE_HELP),
    secret: list[str] = typer.Option([], "--secret", help=SECRET_HELP),
) -> None:
    """Start a service: preview its load balancer and replicas, ask, apply, and hand it to the controller.

    The load balancer is applied now; the serve controller (a detached process on this machine) launches the
    replicas. Prints the endpoint; the service answers there once a replica is READY.

    Examples: `stix serve up -y examples/http-serve.yaml`, `stix serve up svc.yaml -n web`,
    then `curl $(stix serve status web --endpoint)/`."""
    from stix.serve import client

    session = _session()
    record = client.up(session, task, name, yes, _overrides(env, env_file, secret))
    print(f"Endpoint: {record.endpoint}")


@serve_app.command("status")
def serve_status(
    name: Optional[str] = typer.Argument(None, help="Only this service."),
    endpoint: bool = typer.Option(False, "--endpoint", help="Print only the service's endpoint (host:port), e.g. "
                                  "`curl $(stix serve status web --endpoint)/`."),
    format_: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """List services and their replicas (instant: reads the service store only).

    Services: NAME, VERSION, STATUS, REPLICAS (ready/total), ENDPOINT; then each replica: ID, VERSION, CLUSTER,
    STATUS, IP:PORT, LAUNCHED.

    JSON: a list of {name, version, status, endpoint, created_at, down_requested, failure, ready_replicas,
    replicas: \\[{replica_id, version, cluster, status, use_spot, ip, port, launched_at, ready_at, ended_at,
    failure}]}.

    Examples: `stix serve status`, `stix serve status web`, `stix serve status web --endpoint`,
    `stix serve status --format json`."""
    import json

    from stix.errors import UsageError
    from stix.home import StixHome
    from stix.serve import client

    check_format(format_)
    if endpoint and name is None:
        raise UsageError("--endpoint takes one service name, e.g. `stix serve status web --endpoint`")
    services = client.status(StixHome.from_env(), name)
    if endpoint:
        if not services[0].endpoint:
            raise UsageError(f"service {name!r} has no endpoint yet")
        print(services[0].endpoint)
        return
    if format_ == "json":
        print(json.dumps([service.to_json() for service in services], indent=2))
        return
    if not services:
        print("No services.")
        return
    tables = _tables(services)
    console = fitting_console(*tables)
    for table in tables:
        console.print(table)


def _tables(services):
    import time

    from rich.table import Table
    from rich.text import Text

    from stix.render import launched_ago

    now = time.time()
    table = Table(title="Services", title_justify="left")
    for column in ("NAME", "VERSION", "STATUS", "REPLICAS", "ENDPOINT"):
        table.add_column(column)
    for s in services:
        table.add_row(*(Text(str(cell)) for cell in (s.name, s.version, s.status,
                                                      f"{s.ready_replicas}/{s.live_replicas}", s.endpoint or "-")))
    replicas = Table(title="Service replicas", title_justify="left")
    for column in ("SERVICE", "ID", "VERSION", "CLUSTER", "STATUS", "IP:PORT", "LAUNCHED"):
        replicas.add_column(column)
    for s in services:
        for r in s.replicas:
            replicas.add_row(*(Text(str(cell)) for cell in (s.name, r.replica_id, r.version, r.cluster, r.status,
                                                             r.address, launched_ago(now - r.launched_at))))
    return [table, replicas] if any(s.replicas for s in services) else [table]


@serve_app.command("update")
def serve_update(
    name: str = typer.Argument(..., help="The service."),
    task: str = typer.Argument(..., help="The new task YAML file (with its `service:` section)."),
    mode: str = typer.Option("rolling", "--mode", help="rolling (one new replica at a time; never fewer ready "
                             "replicas than before) or blue_green (the whole new set, switched once all are ready)."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Update without asking."),
    env: list[str] = typer.Option([], "--env", help=ENV_HELP),
    env_file: list[str] = typer.Option([], "--env-file", help=ENV_FILE_HELP),
    secret: list[str] = typer.Option([], "--secret", help=SECRET_HELP),
) -> None:
    """Move a service to a new version of its task, with no request dropped; the controller does it.

    Examples: `stix serve update web svc.yaml -y`, `stix serve update web svc.yaml --mode blue_green -y`."""
    from stix.serve import client

    version = client.update(_session(), name, task, mode, yes, _overrides(env, env_file, secret))
    print(f"Version: {version}")


@serve_app.command("logs")
def serve_logs(
    name: str = typer.Argument(..., help="The service."),
    replica_id: Optional[int] = typer.Argument(None, help="A replica's id (`stix serve status` lists them)."),
    load_balancer: bool = typer.Option(False, "--load-balancer", help="The load balancer's log."),
    controller: bool = typer.Option(False, "--controller", help="The serve controller's lines about this service."),
    follow: bool = typer.Option(False, "--follow/--no-follow", help="Follow until the service (or replica) is gone."),
) -> None:
    """Print a replica's run output, the load balancer's log, or the controller's lines about the service.

    Exit 0, or 102 when there is no such service or replica.

    Examples: `stix serve logs web 1 --follow`, `stix serve logs web --load-balancer`,
    `stix serve logs web --controller`."""
    from stix.errors import UsageError
    from stix.home import StixHome
    from stix.serve import client
    from stix.session import print_line

    if sum((replica_id is not None, load_balancer, controller)) != 1:
        raise UsageError("say which log: REPLICA_ID, --load-balancer or --controller, e.g. `stix serve logs web 1`")
    target = client.LOAD_BALANCER if load_balancer else client.CONTROLLER if controller else replica_id
    assert target is not None
    code = client.tail_logs(StixHome.from_env(), name, target, print_line, follow)
    if code == client.NOT_FOUND_EXIT:
        what = f"service {name!r}" if replica_id is None else f"replica {replica_id} of service {name!r}"
        print(f"stix: error: no {what} (stix serve status lists them)", file=sys.stderr)
    raise typer.Exit(code)


@serve_app.command("down")
def serve_down(
    names: list[str] = typer.Argument(None, help="Services to take down."),
    all_: bool = typer.Option(False, "-a", "--all", help="Every service."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Take down without asking."),
) -> None:
    """Take services down: every replica, then the load balancer; waits until they are gone.

    The controller does the teardown; this waits up to 10 minutes, printing progress, and exits 1 if they are
    still there then.

    Examples: `stix serve down web -y`, `stix serve down -a -y`."""
    from stix.serve import client

    result = client.down(_session(), names or [], all_, yes)
    if result.remaining:
        raise typer.Exit(1)
