"""file_mounts -> StorageMount records: SkyPilot's rules for bucket URIs and storage objects, checked whole.

Pure apart from two looks at this machine: local source paths must exist, and an explicit store's cloud must
have credentials (from env). Every refusal is one line, raised before anything is created.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Mapping, Optional

from stix.errors import UsageError
from stix.models.storage import Storage, is_local_source
from stix.models.task import Task
from stix.spec import BucketSpec
from stix.storage.mounts import COPY, MOUNT, MOUNT_CACHED, BucketRef, CacheOptions, StorageMount


def plan_mounts(task: Task, cloud: str, env: Mapping[str, str] = os.environ) -> tuple[StorageMount, ...]:
    """The task's bucket-backed file_mounts, planned for nodes placed on `cloud`."""
    mounts: list[StorageMount] = []
    local_destinations: list[str] = []
    for destination, value in (task.file_mounts or {}).items():
        where = f"file_mounts[{destination!r}]"
        if is_local_source(value):
            local_destinations.append(destination)
        elif isinstance(value, str):
            mounts.append(StorageMount(destination, COPY, _external(where, value, None, env, cloud)))
        else:
            mounts.append(_storage(where, destination, value, cloud, env))
    _check_destinations(mounts, local_destinations)
    _check_persistence(mounts)
    return tuple(mounts)


def cluster_buckets(mounts: tuple[StorageMount, ...], region: str, store: Optional[str] = None
                    ) -> tuple[BucketSpec, ...]:
    """The buckets the cluster's stack makes (managed, not persistent); each once. `region` is the placed one;
    given `store` (the placed cloud's), it applies to that store's buckets only, the others' clouds choose."""
    return _specs([mount for mount in mounts if mount.managed and not mount.persistent], region, store)


def persistent_buckets(mounts: tuple[StorageMount, ...], region: str, store: Optional[str] = None
                       ) -> tuple[BucketSpec, ...]:
    """The buckets that live in stacks of their own (managed, persistent); each once."""
    return _specs([mount for mount in mounts if mount.managed and mount.persistent], region, store)


def _specs(mounts: list[StorageMount], region: str, store: Optional[str]) -> tuple[BucketSpec, ...]:
    seen: dict[tuple[str, str], BucketSpec] = {}
    for mount in mounts:
        key = (mount.bucket.store, mount.bucket.bucket)
        placed = region if store is None or mount.bucket.store == store else ""
        seen.setdefault(key, BucketSpec(mount.bucket.bucket, mount.bucket.store, placed))
    return tuple(seen.values())


# --- one entry -------------------------------------------------------------------------------------


def _storage(where: str, destination: str, storage: Storage, cloud: str, env: Mapping[str, str]) -> StorageMount:
    mode = storage.mode or MOUNT
    cache = _cache(storage)
    prefix = (storage.bucket_sub_path or "").strip("/")
    if isinstance(storage.source, str) and "://" in storage.source:
        ref = _external(where, storage.source, storage.store, env, cloud)
        if storage.name is not None and storage.name != ref.bucket:
            raise UsageError(f"{where}: name {storage.name!r} differs from the bucket of source {storage.source!r}; "
                             f"drop name, or make it {ref.bucket!r}")
        if prefix:
            ref = BucketRef(ref.store, ref.bucket, "/".join(p for p in (ref.prefix, prefix) if p), ref.account)
        return StorageMount(destination, mode, ref, cache=cache)
    if not storage.name:
        if storage.source is None:
            raise UsageError(f"{where}: a storage object needs a name (a bucket stix makes) or a source")
        raise UsageError(f"{where}: a storage object with a local source needs a name (the bucket stix makes)")
    store = storage.store or _default_store(where, cloud)
    store_cloud = _enabled_store_cloud(where, store, env, cloud)
    problem = store_cloud.bucket_name_problem(storage.name)
    if problem:
        raise UsageError(f"{where}: {problem}")
    sources = [storage.source] if isinstance(storage.source, str) else list(storage.source or [])
    ref = store_cloud.managed_ref(storage.name, prefix)
    persistent = True if storage.persistent is None else storage.persistent
    return StorageMount(destination, mode, ref, name=storage.name, sources=tuple(_local(where, s) for s in sources),
                        persistent=persistent, cache=cache)


def _external(where: str, uri: str, store: Optional[str], env: Mapping[str, str], cloud: str) -> BucketRef:
    """Someone else's bucket, named by its URI; the scheme says the store."""
    from stix.components.base import CLOUD_NAMES, Buckets, cloud_for

    scheme, rest = uri.split("://", 1)
    scheme = scheme.lower()
    owner = next((cloud_for(name) for name in CLOUD_NAMES if issubclass(cloud_for(name), Buckets)
                  and cloud_for(name).uri_scheme == scheme), None)  # type: ignore[attr-defined]
    if owner is None:
        raise UsageError(f"{where}: {scheme}:// buckets are not supported by stix yet ({_known_schemes()} are)")
    found = owner.store  # type: ignore[attr-defined]
    if store is not None and store != found:
        raise UsageError(f"{where}: store {store} does not match source {uri!r} (a {found} bucket)")
    _enabled_store_cloud(where, found, env, cloud)
    return owner.ref_for_uri(f"{scheme}://{rest}")  # type: ignore[attr-defined]


def _default_store(where: str, cloud: str):
    from stix.components.base import store_of

    store = store_of(cloud)
    if store is not None:
        return store
    raise UsageError(f"{where}: the {cloud} cloud has no object store; give the storage object a store "
                     f"({', '.join(_known_stores(cloud))})")


def _enabled_store_cloud(where: str, store: str, env: Mapping[str, str], cloud: str):
    from stix.components.base import store_cloud

    owner = store_cloud(store)
    if owner is None:
        raise UsageError(f"{where}: store {store} is not supported by stix yet ({', '.join(_known_stores())} are)")
    if not _reachable(owner, cloud):
        raise UsageError(f"{where}: store {store} is on this machine, and {cloud} nodes cannot reach it; use "
                         f"one of {', '.join(_known_stores(cloud))}")
    check = owner.check_credentials(env)
    if not check.enabled:
        raise UsageError(f"{where}: store {store} is not enabled ({check.detail}; `stix check`)")
    return owner


def _known_stores(cloud: Optional[str] = None) -> list[str]:
    """Every store stix has; given the placed cloud, those its nodes can reach."""
    from stix.components.base import CLOUD_NAMES, Buckets, cloud_for

    return [cloud_for(n).store for n in CLOUD_NAMES  # type: ignore[attr-defined]
            if issubclass(cloud_for(n), Buckets) and (cloud is None or _reachable(cloud_for(n), cloud))]


def _reachable(owner, cloud: str) -> bool:
    """A store that lives on this machine (the local cloud's) is reached only by nodes that share it."""
    from stix.components.base import cloud_for

    return not owner.store_is_local or cloud_for(cloud).nodes_share_host


def _known_schemes() -> str:
    from stix.components.base import CLOUD_NAMES, Buckets, cloud_for

    return ", ".join(f"{cloud_for(n).uri_scheme}://" for n in CLOUD_NAMES  # type: ignore[attr-defined]
                     if issubclass(cloud_for(n), Buckets))


def _local(where: str, source: str) -> str:
    """A local source, as stix.sync resolves them: `~` expanded, relative to the current directory."""
    path = Path(source).expanduser().absolute()
    if not path.exists():
        raise UsageError(f"{where}: local source {source!r} does not exist")
    return str(path)


def _cache(storage: Storage) -> CacheOptions:
    cached = storage.config.mount_cached if storage.config is not None else None
    if cached is None:
        return CacheOptions()
    return CacheOptions(transfers=cached.transfers, buffer_size=cached.buffer_size,
                        vfs_cache_max_size=cached.vfs_cache_max_size, vfs_cache_max_age=cached.vfs_cache_max_age,
                        vfs_read_ahead=cached.vfs_read_ahead, vfs_read_chunk_size=cached.vfs_read_chunk_size,
                        vfs_read_chunk_streams=cached.vfs_read_chunk_streams, vfs_write_back=cached.vfs_write_back,
                        read_only=bool(cached.read_only))


# --- the whole set ---------------------------------------------------------------------------------


def _node_path(destination: str) -> str:
    """One spelling per place on a node: `~/x`, `x` and `~/x/` are the same directory under the home."""
    if destination.startswith("/"):
        return posixpath.normpath(destination)
    relative = destination[1:].lstrip("/") if destination.startswith("~") else destination
    return "~/" + posixpath.normpath(relative or ".")


def _inside(path: str, mount_point: str) -> bool:
    return path == mount_point or path.startswith(mount_point.rstrip("/") + "/")


def _check_destinations(mounts: list[StorageMount], local_destinations: list[str]) -> None:
    seen: dict[str, str] = {}
    for destination in [m.destination for m in mounts] + local_destinations:
        place = _node_path(destination)
        if place in seen:
            raise UsageError(f"file_mounts[{destination!r}]: the same place as file_mounts[{seen[place]!r}]; "
                             "one mount per destination")
        seen[place] = destination
    for mount in mounts:
        if mount.mode not in (MOUNT, MOUNT_CACHED):
            continue
        point = _node_path(mount.destination)
        for other in local_destinations + [m.destination for m in mounts if m is not mount]:
            if _inside(_node_path(other), point):
                raise UsageError(f"file_mounts[{other!r}] lies inside the bucket mounted at {mount.destination!r}; "
                                 "a mount point shows only the bucket, so put it elsewhere")


def _check_persistence(mounts: list[StorageMount]) -> None:
    kept: dict[tuple[str, str], StorageMount] = {}
    for mount in mounts:
        if not mount.managed:
            continue
        first = kept.setdefault((mount.bucket.store, mount.bucket.bucket), mount)
        if first.persistent != mount.persistent:
            raise UsageError(f"file_mounts[{mount.destination!r}]: bucket {mount.name!r} is persistent in one mount "
                             f"and not in another (file_mounts[{first.destination!r}]); give both the same")
