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


def test_prepare_records_the_clusters_use_and_forget_releases_it(stix_home):
    from stix.storage.mounts import COPY, MOUNT, BucketRef, StorageMount
    from stix.storage.registry import BucketRegistry
    from stix.storage.stacks import forget_cluster, prepare_buckets

    home = StixHome(stix_home)
    mounts = (StorageMount("/tmp", MOUNT, BucketRef("s3", "scratch-1"), name="scratch-1", persistent=False),
              StorageMount("/pub", COPY, BucketRef("s3", "public-data")))
    assert prepare_buckets(Session(home), "train", mounts, "us-east-1", "s3") == {}  # nothing persistent to make
    registry = BucketRegistry(home.index_db)
    assert registry.users("scratch-1") == ["train"] and [r.name for r in registry.all()] == ["scratch-1"]
    assert forget_cluster(home, "train") == ["scratch-1"] and registry.all() == []
