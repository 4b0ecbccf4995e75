"""file_mounts: local paths, bucket URIs, and storage objects."""

from __future__ import annotations

import posixpath
from typing import Any, Optional, Union

from pydantic import Field, StrictBool, field_validator, model_validator

from stix.models import values
from stix.models.base import Model


def check_uri(source: str) -> str:
    if "://" in source:
        scheme = source.split("://", 1)[0].lower()
        values.choice("storage URI scheme", scheme, values.BUCKET_SCHEMES)
        if not source.split("://", 1)[1].strip("/"):
            raise ValueError(f"storage URI {source!r} names no bucket")
    return source


class Storage(Model):
    """A bucket mounted or copied onto every node (SkyPilot's storage object)."""

    name: Optional[str] = Field(None, description="Bucket name; created if it does not exist.")
    source: Optional[Union[str, list[str]]] = Field(
        None, description="Local path(s) to upload, or an existing bucket URI (s3://, gs://, ...)."
    )
    store: Optional[str] = Field(None, description="Bucket type: s3, gcs, azure, r2, ibm, oci, nebius.")
    persistent: Optional[StrictBool] = Field(None, description="Keep the bucket after the cluster is torn down.")
    mode: Optional[str] = Field(None, description="MOUNT (default), COPY, or MOUNT_CACHED.")

    @field_validator("store", mode="before")
    @classmethod
    def _store(cls, value: Any) -> Any:
        return None if value is None else values.choice("store", str(value).lower(), values.STORE_TYPES)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Any:
        return None if value is None else values.choice("mount mode", str(value).upper(), values.MOUNT_MODES)

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
