"""`stix engine` and `stix store`: the Pulumi engine and the local object store."""

from __future__ import annotations



import typer

from stix.cli.app import engine_app, store_app


@engine_app.command("install")
def engine_install() -> None:
    """Find or provide the Pulumi CLI (PATH, cache, download, or a build from Go modules)."""
    from stix.engine.locate import find_engine

    engine = find_engine(provide=True)
    print(f"pulumi v{engine.version} at {engine.path} ({engine.source})")


@store_app.command("install")
def store_install() -> None:
    """Find the store's binary in the cache, or build it once from Go modules."""
    from stix.objectstore.build import find_weed, probe

    weed = find_weed(provide=True)
    print(f"SeaweedFS ({probe(weed) or 'version unknown'}) at {weed}")


@store_app.command("status")
def store_status() -> None:
    """Whether this home's store runs, its URL and the size of its data. Exit 1 when it is not running."""
    from stix.home import StixHome
    from stix.objectstore import server

    home = StixHome.from_env()
    endpoint = server.running(home)
    size = server.data_size(home) / 1024 / 1024
    where = server.StorePaths.of(home).data
    if endpoint is None:
        print(f"not running; data {size:.1f} MiB in {where}")
        raise typer.Exit(1)
    print(f"running at {endpoint.url} (pid {server.store_pid(home)}); data {size:.1f} MiB in {where}")


@store_app.command("stop")
def store_stop() -> None:
    """Stop this home's store; its data stays, and the next use starts it again at the same URL."""
    from stix.home import StixHome
    from stix.objectstore import server

    print("stopped" if server.stop(StixHome.from_env()) else "not running")
