"""The storage stage of `up`, `start` and a managed job's launch, around the cluster's apply:
persistent buckets made (before the cluster's stack applies), local sources uploaded and every node
attached (after it), and the cluster's mounts saved so `stix start` attaches them again."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Sequence

from stix.home import StixHome
from stix.session import Session
from stix.spec import ClusterSpec
from stix.storage.mounts import BucketRef, CacheOptions, StorageMount
from stix.storage.rclone import Remotes
from stix.timings import timed

MOUNTS_FILE = "storage.json"
CREATES = "Storage: creates"
REUSES = "Storage: reuses"


@timed("storage buckets")
def make_buckets(session: Session, spec: ClusterSpec, mounts: Sequence[StorageMount]) -> None:
    """Before the cluster's stack applies: its persistent buckets, each in a stack of its own."""
    from stix.components.base import store_of
    from stix.storage.stacks import prepare_buckets

    if any(mount.managed for mount in mounts):
        prepare_buckets(session, spec.cluster, tuple(mounts), spec.region, store_of(spec.cloud))


def bucket_notes(home: StixHome, spec: ClusterSpec, mounts: Sequence[StorageMount]) -> list[str]:
    """For the preview: the persistent buckets an apply would make (each in a stack of its own, so not in the
    cluster's plan) and the ones it reuses."""
    from stix.components.base import store_of
    from stix.storage.plan import persistent_buckets
    from stix.storage.registry import registry_of

    if not mounts:
        return []
    registry = registry_of(home)
    notes = []
    for bucket in persistent_buckets(tuple(mounts), spec.region, store_of(spec.cloud)):
        known = registry.get(bucket.name)
        verb = REUSES if known is not None and known.url else CREATES
        notes.append(f"{verb} persistent bucket {bucket.name} ({bucket.store}) in a stack of its own.")
    return notes


def remotes_for(home: StixHome, mounts: Sequence[StorageMount]) -> Remotes:
    """The rclone remote of every store the mounts reach, from the cloud whose store it is."""
    from stix.components.base import store_cloud

    remotes: dict[str, dict[str, str]] = {}
    for mount in mounts:
        if mount.bucket.remote not in remotes:
            cloud = store_cloud(mount.bucket.store)
            assert cloud is not None  # plan_mounts refused stores without a cloud
            remotes[mount.bucket.remote] = dict(cloud.rclone_remote(mount.bucket, home))  # type: ignore[attr-defined]
    return remotes


@timed("storage upload")
def upload_sources(session: Session, mounts: Sequence[StorageMount], remotes: Remotes) -> None:
    """Each bucket's local sources, once, after the buckets exist; what was sent is reported."""
    from stix.components.base import bucket_uri
    from stix.render import human_bytes
    from stix.storage.upload import upload

    done: set[tuple[BucketRef, tuple[str, ...]]] = set()
    for mount in mounts:
        key = (mount.bucket, mount.sources)
        if not mount.sources or key in done:
            continue
        done.add(key)
        result = upload(mount, remotes)
        session.note(f"Uploaded {', '.join(mount.sources)} to {bucket_uri(mount.bucket)}: {result.files_sent} "
                     f"file(s) sent ({human_bytes(result.bytes_sent)}), {result.files_checked} compared, "
                     f"{result.seconds:.1f}s.")


@timed("storage attach")
def attach_nodes(session: Session, conns, mounts: Sequence[StorageMount], remotes: Remotes) -> None:
    from stix.storage.attach import attach

    if mounts:
        attach(conns, mounts, remotes)
        session.note(f"Storage attached on {len(conns.info.nodes)} node(s): "
                     + ", ".join(f"{mount.destination} ({mount.mode})" for mount in mounts) + ".")


def save_mounts(home: StixHome, cluster: str, mounts: Sequence[StorageMount]) -> None:
    from stix.atomic import write_atomic

    path = home.cluster_dir(cluster) / MOUNTS_FILE
    if mounts:
        write_atomic(path, json.dumps([asdict(mount) for mount in mounts], sort_keys=True))
    else:
        path.unlink(missing_ok=True)


def load_mounts(home: StixHome, cluster: str) -> tuple[StorageMount, ...]:
    """The mounts the cluster's last `up` attached (none when it had none)."""
    try:
        saved = json.loads((home.cluster_dir(cluster) / MOUNTS_FILE).read_text())
    except FileNotFoundError:
        return ()
    return tuple(StorageMount(**{**item, "bucket": BucketRef(**item["bucket"]), "cache": CacheOptions(**item["cache"]),
                                 "sources": tuple(item["sources"])}) for item in saved)
