"""Persistent buckets: each in a stack of its own, in a Pulumi project of its own (`stix-storage`), so a bucket
outlives every cluster that mounts it and its names never meet a cluster's."""

from __future__ import annotations

from typing import Any, Optional

from stix.engine.calls import engine_call, progress
from stix.errors import UsageError
from stix.home import StixHome
from stix.session import Session
from stix.spec import BucketSpec
from stix.storage.mounts import StorageMount
from stix.storage.plan import persistent_buckets
from stix.storage.registry import BucketRecord, registry_of

STORAGE_PROJECT = "stix-storage"


def stack_name(store: str, name: str) -> str:
    """One stack per bucket; the store is part of the name, since each store has its own namespace."""
    return f"{store}-{name}"


def _open(home: StixHome, bucket: BucketSpec, create: bool) -> Any:
    from stix.engine.program import bucket_program
    from stix.engine.workspace import open_stack

    name = stack_name(bucket.store, bucket.name)
    return engine_call(lambda: open_stack(home, name, bucket_program(bucket), create=create,
                                          project_name=STORAGE_PROJECT,
                                          workspace=home.root / "storage" / name), "opening the bucket's stack")


def ensure_bucket(session: Session, bucket: BucketSpec, source: str = "") -> str:
    """Make the bucket unless its stack already has; its URL. Recorded in the registry as persistent."""
    registry = registry_of(session.home)
    known = registry.get(bucket.name)
    if known is not None and known.url:
        if known.store != bucket.store:
            raise UsageError(f"bucket {bucket.name} already exists in store {known.store}; give its storage object "
                             f"`store: {known.store}`, or another name")
        return known.url  # made before: its own stack holds it, and nothing about it changes with a launch
    session.note(f"Making persistent bucket {bucket.name} ({bucket.store}) in its own stack.", "heading")
    stack = _open(session.home, bucket, create=True)
    result = engine_call(lambda: stack.up(on_event=progress(session.events)), f"making bucket {bucket.name}")
    url = str(result.outputs["url"].value)
    registry.record(BucketRecord(bucket.name, bucket.store, source or (known.source if known else ""), True,
                                 bucket.region, url))
    return url


def delete_bucket(session: Session, name: str) -> None:
    """Destroy a persistent bucket's stack and forget it (the caller has checked nobody uses it)."""
    registry = registry_of(session.home)
    record = registry.get(name)
    if record is None:
        raise UsageError(f"no bucket named {name!r} is known to stix; `stix storage ls` lists them")
    bucket = BucketSpec(record.name, record.store, record.region)
    stack = _open(session.home, bucket, create=True)
    engine_call(lambda: stack.destroy(on_event=progress(session.events)), f"deleting bucket {name}")
    stack_id = stack_name(record.store, record.name)
    engine_call(lambda: stack.workspace.remove_stack(stack_id), "removing the bucket's stack")
    registry.remove(name)


def prepare_buckets(session: Session, cluster: str, mounts: tuple[StorageMount, ...], region: str,
                    store: Optional[str] = None) -> dict[str, str]:
    """What `up` does for storage before the cluster's stack applies: every persistent bucket made in its own
    stack (a no-op when it exists), and the cluster recorded as using its managed buckets. Returns the persistent
    buckets' URLs by name. (The cluster's non-persistent buckets are made by its own stack: ClusterSpec.buckets.)"""
    registry = registry_of(session.home)
    for mount in mounts:
        known = registry.get(mount.name) if mount.name is not None else None
        if known is None:
            continue
        others = [user for user in registry.users(known.name) if user != cluster]
        if not known.persistent and others:
            raise UsageError(f"file_mounts[{mount.destination!r}]: bucket {known.name} is taken: it belongs to cluster "
                             f"{others[0]} (not persistent); choose another name")
        if known.persistent != mount.persistent:
            raise UsageError(f"file_mounts[{mount.destination!r}]: bucket {known.name} exists and is "
                             f"{'' if known.persistent else 'not '}persistent; give it `persistent: "
                             f"{str(known.persistent).lower()}`, or another name")
    urls = {}
    by_name = {mount.name: mount for mount in mounts if mount.managed}
    for bucket in persistent_buckets(mounts, region, store):
        source = ", ".join(by_name[bucket.name].sources)
        urls[bucket.name] = ensure_bucket(session, bucket, source)
    registry.record_use(cluster, mounts, region)
    return urls

