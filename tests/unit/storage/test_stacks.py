"""stix.storage.stacks without the engine: refusals, and the registry kept by prepare/forget."""

from __future__ import annotations

import pytest

from stix.home import StixHome
from stix.session import Session
from stix.storage.stacks import delete_bucket


def test_deleting_an_unknown_bucket_is_one_line(stix_home):
    from stix.errors import UsageError

    with pytest.raises(UsageError, match=r"^no bucket named 'nope' is known to stix; `stix storage ls` lists them$"):
        delete_bucket(Session(StixHome(stix_home)), "nope")


def test_prepare_records_the_clusters_use_and_sweeping_the_cluster_releases_it(stix_home):
    from stix.storage.mounts import COPY, MOUNT, BucketRef, StorageMount
    from stix.storage.registry import BucketRegistry
    from stix.lifecycle import sweep_local
    from stix.storage.stacks import prepare_buckets

    home = StixHome(stix_home)
    mounts = (StorageMount("/tmp", MOUNT, BucketRef("s3", "scratch-1"), name="scratch-1", persistent=False),
              StorageMount("/pub", COPY, BucketRef("s3", "public-data")))
    assert prepare_buckets(Session(home), "train", mounts, "us-east-1", "s3") == {}  # nothing persistent to make
    registry = BucketRegistry(home.index_db)
    assert registry.users("scratch-1") == ["train"] and [r.name for r in registry.all()] == ["scratch-1"]
    sweep_local(home, "train")
    assert registry.all() == [] and registry.users("scratch-1") == []


def test_another_clusters_bucket_and_a_persistence_change_are_refused_before_anything_is_made(stix_home):
    from stix.errors import UsageError
    from stix.storage.mounts import MOUNT, BucketRef, StorageMount
    from stix.storage.stacks import prepare_buckets

    home = StixHome(stix_home)
    scratch = StorageMount("~/s", MOUNT, BucketRef("s3", "scratch-1"), name="scratch-1", persistent=False)
    prepare_buckets(Session(home), "train", (scratch,), "us-east-1", "s3")
    with pytest.raises(UsageError, match=r"bucket scratch-1 is taken: it belongs to cluster train \(not persistent\)"):
        prepare_buckets(Session(home), "other", (scratch,), "us-east-1", "s3")
    kept = StorageMount("~/s", MOUNT, BucketRef("s3", "scratch-1"), name="scratch-1", persistent=True)
    with pytest.raises(UsageError, match=r"bucket scratch-1 exists and is not persistent; give it `persistent: false`"):
        prepare_buckets(Session(home), "train", (kept,), "us-east-1", "s3")
