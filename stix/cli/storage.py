"""`stix storage`: the buckets stix made (ls) and deleting the persistent ones (delete).

Cheap to import, as the rest of the CLI: the registry answers ls, rclone measures sizes; the engine is
loaded only by delete, and no cloud SDK by either.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Optional

import typer

from stix.cli.common import check_format, fitting_console
from stix.errors import StixError, UsageError


if TYPE_CHECKING:
    from rich.table import Table

    from stix.home import StixHome
    from stix.storage.mounts import BucketRef
    from stix.storage.registry import BucketRecord

storage_app = typer.Typer(help="Buckets stix made for storage mounts: list them, delete persistent ones.",
                          no_args_is_help=True)

SIZE_TIMEOUT = 30.0
"""Seconds one bucket's `rclone size` may take before SIZE shows '-'."""
RCLONE_NETWORK_FLAGS = ("--contimeout", "5s", "--timeout", "10s", "--retries", "1", "--low-level-retries", "1")


@storage_app.command("ls")
def ls(
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Also show URL, region and when it was made."),
    format_: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """List the buckets stix made, their size (measured now) and the clusters that use them."""
    from stix.home import StixHome
    from stix.storage.registry import bucket_row, registry_of

    check_format(format_)
    home = StixHome.from_env()
    registry = registry_of(home)
    records = registry.all()
    sizes = measure_sizes(records, home)
    users = registry.users_by_bucket()
    rows = [bucket_row(record, sizes[record.name], users.get(record.name, []), verbose) for record in records]
    if format_ == "json":
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console

    if not rows:
        Console(highlight=False).print("No buckets.")
        return
    table = storage_table(rows, verbose)
    fitting_console(table).print(table)


@storage_app.command("delete")
def delete(
    names: list[str] = typer.Argument(None, help="Bucket names (`stix storage ls`)."),
    all_: bool = typer.Option(False, "-a", "--all", help="Every bucket stix made."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete persistent buckets and everything in them; a bucket a cluster uses is refused."""
    from stix.home import StixHome
    from stix.storage.registry import registry_of

    if bool(names) == all_:
        raise UsageError("name the buckets to delete, or pass -a for all of them (not both)")
    home = StixHome.from_env()
    registry = registry_of(home)
    records = registry.all() if all_ else [_known(registry, name) for name in dict.fromkeys(names)]
    if not records:
        print("No buckets.")
        return
    users = registry.users_by_bucket()
    refusals = [(record, deletion_refusal(record, users.get(record.name, []))) for record in records]
    if not all_:
        for _, refusal in refusals:
            if refusal:
                raise UsageError(refusal)
    else:  # -a: every bucket that can go; the others say why they stay
        for _, refusal in refusals:
            if refusal:
                print(f"stix: skipping {refusal}", file=sys.stderr)
        records = [record for record, refusal in refusals if not refusal]
        if not records:
            return
    from stix.session import confirm
    from stix.storage.stacks import delete_bucket

    session = _session(home)
    listed = ", ".join(record.name for record in records)
    confirm(session, f"Delete bucket{'s' if len(records) > 1 else ''} {listed} and everything in "
                     f"{'them' if len(records) > 1 else 'it'}?", yes)
    for record in records:
        delete_bucket(session, record.name)
        session.note(f"Bucket {record.name} deleted.", "success")


def deletion_refusal(record: "BucketRecord", users: list[str]) -> Optional[str]:
    """Why `stix storage delete` must leave the bucket, or None."""
    if not record.persistent:
        owner = users[0] if users else "its cluster"
        return (f"bucket {record.name} is not persistent: it goes with cluster {owner} "
                f"(`stix destroy {owner}` removes it)")
    if users:
        clusters = ", ".join(users)
        return (f"bucket {record.name} is used by cluster{'s' if len(users) > 1 else ''} {clusters}; "
                f"`stix destroy {users[0]}` first")
    return None


def _known(registry, name: str) -> "BucketRecord":
    record = registry.get(name)
    if record is None:
        raise UsageError(f"no bucket named {name!r} is known to stix; `stix storage ls` lists them")
    return record


def _session(home: "StixHome"):
    from rich.console import Console

    from stix.render import console_events
    from stix.session import Session

    confirm = None
    if sys.stdin.isatty():
        confirm = lambda question: typer.confirm(question, default=False)  # noqa: E731
    return Session(home, console_events(Console(stderr=False, highlight=False)), confirm)


# --- sizes -----------------------------------------------------------------------------------------


def measure_sizes(records: list["BucketRecord"], home: "StixHome") -> dict[str, Optional[int]]:
    """Each bucket's size in bytes, measured in parallel; None where it cannot be reached."""
    from concurrent.futures import ThreadPoolExecutor

    if not records:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(records))) as pool:
        sizes = list(pool.map(lambda record: _measure(record, home), records))
    return {record.name: size for record, size in zip(records, sizes)}


def _measure(record: "BucketRecord", home: "StixHome") -> Optional[int]:
    from stix.components.base import store_cloud

    cloud = store_cloud(record.store)
    if cloud is None:
        return None
    try:
        ref = cloud.managed_ref(record.name)  # type: ignore[attr-defined]
        options = cloud.rclone_remote(ref, home)  # type: ignore[attr-defined]
    except (NotImplementedError, OSError, ValueError, StixError):  # e.g. the local store cannot start: size unknown
        return None
    return rclone_size(ref, options)


def rclone_size(ref: "BucketRef", options: dict[str, str]) -> Optional[int]:
    """`rclone size --json` of one place in a store; None when rclone is missing, fails or takes too long."""
    import subprocess

    from stix.errors import PrerequisiteMissing
    from stix.storage import rclone

    try:
        done = rclone.run(["size", "--json", *RCLONE_NETWORK_FLAGS, ref.rclone_path], {ref.remote: options},
                          timeout=SIZE_TIMEOUT)
    except (PrerequisiteMissing, subprocess.TimeoutExpired, OSError):
        return None
    if done.returncode != 0:
        return None
    try:
        return int(json.loads(done.stdout)["bytes"])
    except (ValueError, KeyError, TypeError):
        return None


# --- rendering -------------------------------------------------------------------------------------


def storage_table(rows: list[dict], verbose: bool) -> "Table":
    from rich.table import Table

    from stix.render import _plain, age, human_bytes

    table = Table(title="Buckets", title_justify="left")
    columns = ["NAME", "STORE", "SOURCE", "PERSISTENT", "SIZE", "CLUSTERS"]
    columns += ["URL", "REGION", "CREATED"] if verbose else []
    for column in columns:
        table.add_column(column)
    now = time.time()
    for row in rows:
        cells = [row["name"], row["store"], row["source"] or "-", "yes" if row["persistent"] else "no",
                 human_bytes(row["size_bytes"]), ", ".join(row["clusters"]) or "-"]
        if verbose:
            cells += [row["url"] or "-", row["region"] or "-", f"{age(now - row['created_at'])} ago"]
        table.add_row(*_plain(*cells))
    return table
