"""The bucket registry: records in the index db, who uses what, non-persistent buckets going with their cluster."""

from __future__ import annotations

from stix.index import ClusterIndex
from stix.storage.mounts import COPY, MOUNT, BucketRef, StorageMount
from stix.storage.registry import BucketRecord, BucketRegistry

KEEP = StorageMount("/keep", MOUNT, BucketRef("s3", "keep-1"), name="keep-1", sources=("/data/a", "/data/b"))
SCRATCH = StorageMount("/scratch", MOUNT, BucketRef("s3", "scratch-1"), name="scratch-1", persistent=False)
EXTERNAL = StorageMount("/public", COPY, BucketRef("s3", "public-data"))


def test_uses_are_recorded_and_non_persistent_buckets_go_with_their_cluster(tmp_path):
    registry = BucketRegistry(tmp_path / "index.db")
    registry.record_use("a", [KEEP, SCRATCH, EXTERNAL], "us-east-1")
    registry.record_use("b", [KEEP])
    assert [r.name for r in registry.all()] == ["keep-1", "scratch-1"]  # someone else's bucket is not stix's
    keep = registry.get("keep-1")
    assert keep is not None and keep.source == "/data/a, /data/b" and keep.persistent and keep.region == "us-east-1"
    assert registry.users("keep-1") == ["a", "b"] and registry.users("scratch-1") == ["a"]

    assert registry.release("a") == ["scratch-1"]
    assert registry.get("scratch-1") is None and registry.users("keep-1") == ["b"]
    assert registry.release("b") == [] and registry.get("keep-1") is not None and registry.users("keep-1") == []


def test_the_url_and_creation_time_survive_later_records(tmp_path):
    registry = BucketRegistry(tmp_path / "index.db")
    registry.record(BucketRecord("keep-1", "s3", "", True, "us-east-1", "s3://keep-1", 100.0))
    registry.record_use("a", [KEEP])
    kept = registry.get("keep-1")
    assert kept is not None and kept.url == "s3://keep-1" and kept.created_at == 100.0
    registry.remove("keep-1")
    assert registry.get("keep-1") is None and registry.users("keep-1") == []


def test_it_shares_the_index_db_with_the_clusters(tmp_path):
    path = tmp_path / "index.db"
    ClusterIndex(path).upsert("a", "local", 1, "UP", None)
    BucketRegistry(path).record_use("a", [KEEP])
    assert ClusterIndex(path).get("a") is not None and BucketRegistry(path).users("keep-1") == ["a"]
    assert BucketRegistry(tmp_path / "none.db").all() == [] and not (tmp_path / "none.db").exists()
