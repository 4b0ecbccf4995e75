"""plan_mounts: SkyPilot's rules for bucket file_mounts, each refusal one line before anything is made."""

from __future__ import annotations

import pytest

from stix.errors import UsageError
from stix.models.task import Task
from stix.spec import BucketSpec
from stix.storage.mounts import COPY, MOUNT, MOUNT_CACHED, BucketRef, CacheOptions
from stix.storage.plan import cluster_buckets, persistent_buckets, plan_mounts


@pytest.fixture
def env(tmp_path):
    """AWS credentials present, GCP's and Azure's absent; HOME is empty so no file of the user's counts."""
    return {"HOME": str(tmp_path / "home"), "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}


def task(file_mounts: dict) -> Task:
    return Task.model_validate({"file_mounts": file_mounts})


def test_a_bucket_uri_string_is_a_copy_of_that_bucket(env):
    (mount,) = plan_mounts(task({"/data": "s3://public-data/sets/a/"}), "aws", env)
    assert mount.mode == COPY and mount.bucket == BucketRef("s3", "public-data", "sets/a")
    assert not mount.managed and mount.sources == ()


def test_a_storage_object_with_a_uri_source_mounts_the_external_bucket(env):
    (mount,) = plan_mounts(task({"/data": {"source": "s3://public-data", "_bucket_sub_path": "/run-1/"}}), "aws", env)
    assert mount.mode == MOUNT and mount.bucket == BucketRef("s3", "public-data", "run-1") and not mount.managed
    named = plan_mounts(task({"/d": {"name": "public-data", "source": "s3://public-data"}}), "aws", env)
    assert not named[0].managed
    with pytest.raises(UsageError, match=r"^file_mounts\['/d'\]: name 'other' differs from the bucket of source"):
        plan_mounts(task({"/d": {"name": "other", "source": "s3://public-data"}}), "aws", env)
    with pytest.raises(UsageError, match=r"store gcs does not match source 's3://public-data' \(a s3 bucket\)"):
        plan_mounts(task({"/d": {"store": "gcs", "source": "s3://public-data"}}), "aws", env)


def test_a_named_storage_object_is_a_managed_bucket_of_the_placed_clouds_store(env, tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "more").mkdir()
    monkeypatch.chdir(tmp_path)
    spelled = {"name": "ckpts", "source": ["data", str(tmp_path / "more")], "mode": "mount_cached",
               "config": {"mount_cached": {"transfers": 8, "vfs_cache_max_size": "10G", "read_only": True}}}
    (mount,) = plan_mounts(task({"~/ckpt": spelled}), "aws", env)
    assert mount.managed and mount.name == "ckpts" and mount.persistent is True and mount.mode == MOUNT_CACHED
    assert mount.bucket == BucketRef("s3", "ckpts")
    assert mount.sources == (str(tmp_path / "data"), str(tmp_path / "more"))  # relative to the current directory
    assert mount.cache == CacheOptions(transfers=8, vfs_cache_max_size="10G", read_only=True)


def test_non_persistent_buckets_go_in_the_cluster_stack_and_persistent_ones_in_their_own(env):
    mounts = plan_mounts(task({"/a": {"name": "scratch", "persistent": False}, "/b": {"name": "keep"},
                               "/c": {"name": "scratch", "persistent": False, "mode": "COPY", "source": "/"},
                               "/d": "s3://public-data"}), "aws", env)
    assert cluster_buckets(mounts, "us-east-1") == (BucketSpec("scratch", "s3", "us-east-1"),)
    assert persistent_buckets(mounts, "us-east-1") == (BucketSpec("keep", "s3", "us-east-1"),)
    with pytest.raises(UsageError, match=r"bucket 'xyz' is persistent in one mount and not in another"):
        plan_mounts(task({"/a": {"name": "xyz", "persistent": False}, "/b": {"name": "xyz"}}), "aws", env)


def test_a_store_must_be_given_where_the_placed_cloud_has_none(env):
    with pytest.raises(UsageError, match=r"^file_mounts\['/d'\]: the ssh cloud has no object store; give the "
                                         r"storage object a store \(s3, gcs, azure"):
        plan_mounts(task({"/d": {"name": "ckpts"}}), "ssh", env)
    (mount,) = plan_mounts(task({"/d": {"name": "ckpts", "store": "s3"}}), "ssh", env)
    assert mount.bucket.store == "s3"


@pytest.mark.parametrize("file_mounts, message", [
    ({"/data": {"name": "ckpts", "store": "gcs"}},
     r"^file_mounts\['/data'\]: store gcs is not enabled \(no credentials: run `gcloud auth .*; `stix check`\)$"),
    ({"/data": "gs://public"}, r"^file_mounts\['/data'\]: store gcs is not enabled"),
    ({"/data": {"name": "ckpts", "store": "azure"}}, r"^file_mounts\['/data'\]: store azure is not enabled"),
    ({"/data": {"name": "ckpts", "store": "r2"}}, r"^file_mounts\['/data'\]: store r2 is not supported by stix yet"),
    ({"/data": "r2://bucket"}, r"^file_mounts\['/data'\]: r2:// buckets are not supported by stix yet"),
    ({"/data": {"name": "Bad_Name"}}, r"^file_mounts\['/data'\]: S3 bucket name 'Bad_Name' may hold only"),
    ({"/data": {"name": "ab"}}, r"^file_mounts\['/data'\]: S3 bucket names are 3-63 characters long"),
    ({"/data": {"name": "ckpts", "source": "~/no/such/dir"}},
     r"^file_mounts\['/data'\]: local source '~/no/such/dir' does not exist$"),
    ({"/data": {"name": "ckpts", "source": ["/", "/no-such-place"]}}, r"local source '/no-such-place' does not exist"),
    ({"/data": {"mode": "MOUNT"}}, r"^file_mounts\['/data'\]: a storage object needs a name .* or a source$"),
    ({"/data": {"name": None, "source": "/"}}, r"a storage object with a local source needs a name"),
    ({"~/data": {"name": "ckpts"}, "data/": "s3://public"},
     r"^file_mounts\['data/'\]: the same place as file_mounts\['~/data'\]; one mount per destination$"),
    ({"/data": {"name": "ckpts"}, "/data/config.yaml": "/etc/hostname"},
     r"^file_mounts\['/data/config.yaml'\] lies inside the bucket mounted at '/data'"),
    ({"/data": {"name": "ckpts", "mode": "MOUNT_CACHED"}, "/data/sub": {"name": "other"}},
     r"lies inside the bucket mounted at '/data'"),
])
def test_refusals_are_one_line_naming_the_mount(env, file_mounts, message):
    with pytest.raises(UsageError, match=message) as info:
        plan_mounts(task(file_mounts), "aws", env)
    assert "\n" not in str(info.value)


def test_enabled_stores_of_other_clouds_are_accepted(env, tmp_path):
    credentials = tmp_path / "sa.json"
    credentials.write_text("{}")
    (mount,) = plan_mounts(task({"/d": {"name": "my_ckpts", "store": "GCS"}}), "aws",
                           {**env, "GOOGLE_APPLICATION_CREDENTIALS": str(credentials)})
    assert mount.bucket == BucketRef("gcs", "my_ckpts")
    azure_env = {**env, "AZURE_CLIENT_ID": "id", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_SECRET": "s"}
    (mount,) = plan_mounts(task({"/d": "https://acct.blob.core.windows.net/data/x"}), "aws", azure_env)
    assert mount.bucket == BucketRef("azure", "data", "x", "acct") and mount.mode == COPY


def test_local_file_mounts_and_copies_beside_buckets_are_left_to_sync(env):
    mounts = plan_mounts(task({"/data": {"name": "ckpts", "mode": "COPY", "source": "/"},
                               "/data/extra": "/etc/hostname", "~/code": "."}), "aws", env)
    assert [m.destination for m in mounts] == ["/data"]  # a COPY is a directory, not a mount point


def test_the_placed_region_applies_to_the_placed_clouds_store_only(env, tmp_path):
    credentials = tmp_path / "sa.json"
    credentials.write_text("{}")
    mounts = plan_mounts(task({"/a": {"name": "scratch-1", "persistent": False},
                               "/b": {"name": "scratch-2", "persistent": False, "store": "gcs"}}), "aws",
                         {**env, "GOOGLE_APPLICATION_CREDENTIALS": str(credentials)})
    assert cluster_buckets(mounts, "us-east-1", "s3") == (BucketSpec("scratch-1", "s3", "us-east-1"),
                                                         BucketSpec("scratch-2", "gcs", ""))


def test_another_stores_plugin_is_a_prerequisite(env, tmp_path):
    from stix.compile import check_prerequisites
    from stix.errors import PrerequisiteMissing
    from stix.home import StixHome

    credentials = tmp_path / "sa.json"
    credentials.write_text("{}")
    mounts = plan_mounts(task({"~/b": {"name": "scratch-2", "store": "gcs"}}), "local",
                         {**env, "GOOGLE_APPLICATION_CREDENTIALS": str(credentials)})
    home = StixHome(tmp_path / "stix-home")
    check_prerequisites(home, "local")  # the local cloud alone needs no plugin
    with pytest.raises(PrerequisiteMissing, match=r"^provisioning on gcp needs the Pulumi gcp provider plugin"):
        check_prerequisites(home, "local", mounts)


@pytest.mark.parametrize("file_mounts", [{"/d": {"name": "ckpts", "store": "local"}}, {"/d": "local://ckpts/x"}])
def test_the_local_store_is_refused_where_nodes_cannot_reach_this_machine(env, file_mounts):
    with pytest.raises(UsageError, match=r"^file_mounts\['/d'\]: store local is on this machine, and aws nodes cannot "
                                         r"reach it; use one of s3, gcs, azure$"):
        plan_mounts(task(file_mounts), "aws", env)
    (mount,) = plan_mounts(task(file_mounts), "local", env)
    assert mount.bucket.store == "local"
