"""Typed records of the storage stage: which bucket, where on the nodes, how (COPY, MOUNT, MOUNT_CACHED)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

COPY = "COPY"
MOUNT = "MOUNT"
MOUNT_CACHED = "MOUNT_CACHED"


@dataclass(frozen=True)
class BucketRef:
    """A place in a store: bucket (Azure: container) and a path prefix inside it."""

    store: str
    """SkyPilot's store name: s3, gcs, azure, ... and stix's own `local` (the local cloud's object store)."""
    bucket: str
    prefix: str = ""
    """A path inside the bucket, without leading or trailing '/'; empty for the whole bucket."""
    account: str = ""
    """Azure only: the storage account that holds the container."""

    @property
    def remote(self) -> str:
        """The rclone remote this store is reached through (the same name on this machine and the nodes);
        letters, digits and '_' only, so it can also be given as RCLONE_CONFIG_<NAME>_* variables."""
        suffix = f"_{self.account}" if self.account else ""
        return f"stix{self.store}{suffix}".replace("-", "_")

    @property
    def rclone_path(self) -> str:
        """`remote:bucket/prefix`, as rclone takes it."""
        path = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        return f"{self.remote}:{path}"


@dataclass(frozen=True)
class CacheOptions:
    """storage.config.mount_cached (SkyPilot's names), handed to `rclone mount` for MOUNT_CACHED."""

    transfers: Optional[int] = None
    buffer_size: Optional[str] = None
    vfs_cache_max_size: Optional[str] = None
    vfs_cache_max_age: Optional[str] = None
    vfs_read_ahead: Optional[str] = None
    vfs_read_chunk_size: Optional[str] = None
    vfs_read_chunk_streams: Optional[int] = None
    vfs_write_back: Optional[str] = None
    read_only: bool = False


@dataclass(frozen=True)
class StorageMount:
    """One bucket-backed file_mounts entry, planned: every value already parsed and resolved."""

    destination: str
    """As the task wrote it (`~/data`, `/data`, or relative to the workdir); resolved per node at attach."""
    mode: str
    """COPY, MOUNT or MOUNT_CACHED."""
    bucket: BucketRef
    name: Optional[str] = None
    """The storage object's `name`: stix makes this bucket (or reuses the one it made). None: the bucket
    is someone else's (a URI source), used as it is and never created or deleted by stix."""
    sources: tuple[str, ...] = ()
    """Absolute local paths uploaded into the bucket before the nodes see it."""
    persistent: bool = True
    """Kept after the cluster goes (its own stack); False: part of the cluster's stack, gone with destroy."""
    cache: CacheOptions = field(default_factory=CacheOptions)

    @property
    def managed(self) -> bool:
        return self.name is not None
