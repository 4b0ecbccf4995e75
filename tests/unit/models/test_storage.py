"""The storage object: every field of SkyPilot's storage schema, and stix's local store."""

import pytest
from pydantic import ValidationError

from stix.models.storage import Storage
from stix.models.task import Task


def test_every_field_of_the_schema_parses_and_round_trips():
    spelled = {
        "name": "ckpts", "source": ["./data", "~/more"], "store": "S3", "persistent": False, "mode": "mount_cached",
        "config": {"disk_size": "100GB", "disk_tier": "High", "storage_type": "network", "attach_mode": "read_only",
                   "mount_cached": {"transfers": 4, "buffer_size": "64M", "vfs_cache_max_size": "10G",
                                    "vfs_cache_max_age": "1h30m", "vfs_read_ahead": "128M",
                                    "vfs_read_chunk_size": 256, "vfs_read_chunk_streams": 0,
                                    "vfs_write_back": "5s", "read_only": True}},
        "_is_sky_managed": True, "_bucket_sub_path": "run-1", "_force_delete": False,
    }
    storage = Storage.model_validate(spelled)
    assert storage.store == "s3" and storage.mode == "MOUNT_CACHED"
    assert storage.config is not None and storage.config.disk_tier == "high"
    cached = storage.config.mount_cached
    assert cached is not None and cached.transfers == 4 and cached.vfs_read_chunk_size == "256" and cached.read_only
    assert storage.bucket_sub_path == "run-1" and storage.is_sky_managed is True and storage.force_delete is False
    config = storage.to_config()
    assert config["_bucket_sub_path"] == "run-1" and config["_is_sky_managed"] is True


@pytest.mark.parametrize("uri", ["local://bucket/path", "LOCAL://b", "s3://b/x", "gs://b", "r2://b"])
def test_bucket_uris_are_valid_sources(uri):
    task = Task.model_validate({"file_mounts": {"/data": uri, "/other": {"source": uri}}})
    assert task.file_mounts is not None and task.file_mounts["/data"] == uri


def test_local_store_is_a_store():
    assert Storage.model_validate({"name": "b", "store": "Local"}).store == "local"


@pytest.mark.parametrize("bad", [
    {"name": "b", "config": {"mount_cached": {"buffer_size": "64MB"}}},
    {"name": "b", "config": {"mount_cached": {"vfs_cache_max_age": "later"}}},
    {"name": "b", "config": {"mount_cached": {"transfers": 0}}},
    {"name": "b", "config": {"mount_cached": {"transfers": "4"}}},
    {"name": "b", "config": {"attach_mode": "sideways"}},
    {"name": "b", "_force_delete": "yes"},
    {"name": "b", "mode": "LINK"},
])
def test_bad_values_are_refused(bad):
    with pytest.raises(ValidationError):
        Storage.model_validate(bad)
