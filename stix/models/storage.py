"""file_mounts: local paths, bucket URIs, and storage objects."""

from __future__ import annotations

import posixpath
from typing import Any, Optional, Union

from pydantic import Field, StrictBool, StrictInt, ValidationInfo, field_validator, model_validator

from stix.models import values
from stix.models.base import Model


def check_uri(source: str) -> str:
    if "://" in source:
        scheme = source.split("://", 1)[0].lower()
        values.choice("storage URI scheme", scheme, values.BUCKET_SCHEMES)
        if not source.split("://", 1)[1].strip("/"):
            raise ValueError(f"storage URI {source!r} names no bucket")
    return source


class MountCachedConfig(Model):
    """storage.config.mount_cached: how `rclone mount` caches for MOUNT_CACHED (SkyPilot's names)."""

    transfers: Optional[StrictInt] = Field(None, ge=1, description="Parallel uploads of the write-back cache.")
    buffer_size: Optional[str] = Field(None, description="In-memory buffer per open file (rclone size, e.g. '64M').")
    vfs_cache_max_size: Optional[str] = Field(None, description="Largest the local cache may grow (rclone size).")
    vfs_cache_max_age: Optional[str] = Field(None, description="How long cached objects stay (rclone duration).")
    vfs_read_ahead: Optional[str] = Field(None, description="Extra read ahead on disk (rclone size).")
    vfs_read_chunk_size: Optional[str] = Field(None, description="First chunk of a chunked read (rclone size).")
    vfs_read_chunk_streams: Optional[StrictInt] = Field(None, ge=0, description="Parallel streams per read.")
    vfs_write_back: Optional[str] = Field(None, description="Delay before a written file is uploaded (rclone duration).")
    read_only: Optional[StrictBool] = Field(None, description="Mount read-only.")

    @field_validator("buffer_size", "vfs_cache_max_size", "vfs_read_ahead", "vfs_read_chunk_size", mode="before")
    @classmethod
    def _size(cls, value: Any, info: ValidationInfo) -> Any:
        return None if value is None else values.check_rclone_size(str(info.field_name), value)

    @field_validator("vfs_cache_max_age", "vfs_write_back", mode="before")
    @classmethod
    def _duration(cls, value: Any, info: ValidationInfo) -> Any:
        return None if value is None else values.check_rclone_duration(str(info.field_name), value)


class MountConfig(Model):
    """storage.config.mount: options of a MOUNT mount (SkyPilot's names)."""

    read_only: Optional[StrictBool] = Field(None, description="Mount read-only.")
    hf_mount_args: Optional[list[str]] = Field(None, description="Hugging Face stores: extra hf-mount flags, one a token.")


class VolumeSettings(Model):
    """What a volume is made of: the fields storage.config and resources.volumes share."""

    disk_tier: Optional[str] = Field(None, description="low, medium, high, ultra or best.")
    storage_type: Optional[str] = Field(None, description="The volume's storage type: network or instance (cloud-specific).")
    attach_mode: Optional[str] = Field(None, description="read_write or read_only.")

    @field_validator("disk_tier", mode="before")
    @classmethod
    def _disk_tier(cls, value: Any) -> Any:
        return None if value is None else values.choice("disk_tier", str(value).lower(), values.DISK_TIERS)

    @field_validator("attach_mode", mode="before")
    @classmethod
    def _attach_mode(cls, value: Any) -> Any:
        return None if value is None else values.choice("attach_mode", str(value).lower(), ("read_write", "read_only"))


class StorageConfig(VolumeSettings):
    """storage.config (SkyPilot's): volume settings and the MOUNT_CACHED cache."""

    disk_size: Optional[Union[int, str]] = Field(None, description="Volume size in GiB: 256, '256GB', '1TB'.")
    mount_cached: Optional[MountCachedConfig] = Field(None, description="rclone cache options for MOUNT_CACHED.")
    mount: Optional[MountConfig] = Field(None, description="Options of a MOUNT mount.")

    @field_validator("disk_size", mode="before")
    @classmethod
    def _disk_size(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError(f"disk_size {value!r} is not a valid size; expected something like 256 or '1TB'")
        values.parse_disk_size(value)
        return value


class Storage(Model):
    """A bucket mounted or copied onto every node (SkyPilot's storage object)."""

    name: Optional[str] = Field(None, description="Bucket name; created if it does not exist.")
    source: Optional[Union[str, list[str]]] = Field(
        None, description="Local path(s) to upload, or an existing bucket URI (s3://, gs://, local://, ...)."
    )
    store: Optional[str] = Field(
        None, description="Bucket type: s3, gcs, azure, r2, ibm, oci, nebius, coreweave, or local (the local cloud).")
    persistent: Optional[StrictBool] = Field(None, description="Keep the bucket after the cluster is torn down.")
    mode: Optional[str] = Field(None, description="MOUNT (default), COPY, or MOUNT_CACHED.")
    config: Optional[StorageConfig] = Field(None, description="Volume settings and MOUNT_CACHED cache options.")
    mount_options: Optional[str] = Field(None, description="Extra options of the mount command.")
    type: Optional[str] = Field(None, description="A MOUNT_CACHED preset: MODEL_CHECKPOINT_RO, MODEL_CHECKPOINT_RW, "
                                                  "DATASET_RO or DATASET_RW.")
    is_sky_managed: Optional[StrictBool] = Field(None, alias="_is_sky_managed",
                                                 description="Private (SkyPilot): the bucket was made by the tool.")
    bucket_sub_path: Optional[str] = Field(None, alias="_bucket_sub_path",
                                           description="Private (SkyPilot): a path inside the bucket to mount.")
    force_delete: Optional[StrictBool] = Field(None, alias="_force_delete",
                                               description="Private (SkyPilot): delete even a bucket stix did not make.")

    @field_validator("store", mode="before")
    @classmethod
    def _store(cls, value: Any) -> Any:
        return None if value is None else values.choice("store", str(value).lower(), values.STORE_TYPES)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Any:
        return None if value is None else values.choice("mount mode", str(value).upper(), values.MOUNT_MODES)

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> Any:
        return None if value is None else values.choice("storage type", str(value).upper(), values.FILE_MOUNT_TYPES)

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise ValueError("source list must not be empty")
            for item in value:
                if not isinstance(item, str) or not item:
                    raise ValueError(f"source entries must be paths, got {item!r}")
                if "://" in item:
                    raise ValueError("a source list holds local paths only; use one bucket URI as source")
        elif isinstance(value, str):
            if not value:
                raise ValueError("source must not be empty")
            check_uri(value)
        return value

    @model_validator(mode="after")
    def _copy_needs_source(self) -> "Storage":
        if self.mode == "COPY" and self.source is None:
            raise ValueError("mode COPY needs a source to copy from")
        return self


FileMountValue = Union[str, Storage]


def is_local_source(source: object) -> bool:
    """A file_mounts source that is a path on this machine (not a bucket URI, not a storage object)."""
    return isinstance(source, str) and "://" not in source


def escapes_home(destination: str) -> bool:
    """A `~/...` or relative destination whose '..' climbs out of the home it is resolved under."""
    if destination.startswith("/"):
        return False
    relative = destination[1:].lstrip("/") if destination.startswith("~") else destination
    if destination.startswith("~") and not destination.startswith(("~/",)) and destination != "~":
        return True  # ~user/...: another user's home
    return posixpath.normpath(relative or ".").split("/")[0] == ".."


def check_file_mounts(mounts: dict) -> dict:
    for destination, source in mounts.items():
        if not isinstance(destination, str) or not destination.strip():
            raise ValueError(f"file_mounts destination must be a path, got {destination!r}")
        if escapes_home(destination):
            raise ValueError(f"file_mounts[{destination!r}]: destination leaves the node's home; "
                             "use a path under ~ without '..', or an absolute path")
        if source is None:
            raise ValueError(f"file_mounts[{destination!r}] has no source; give a path, a bucket URI or a storage mapping")
        if isinstance(source, str):
            if not source.strip():
                raise ValueError(f"file_mounts[{destination!r}] source is empty")
            try:
                check_uri(source)
            except ValueError as exc:
                raise ValueError(f"file_mounts[{destination!r}]: {exc}") from None
    return mounts
