"""Persistent buckets' stacks live in a Pulumi project of their own: the real engine, the same backend as the
clusters, and a stack named like a cluster's never meets it. (The local store's bucket component is built
beside this; ensure_bucket on it end to end comes with it.)"""

from __future__ import annotations

import pytest

from stix.home import StixHome
from stix.storage.stacks import STORAGE_PROJECT, stack_name

pytestmark = pytest.mark.e2e


def test_a_storage_stack_and_a_cluster_stack_of_one_name_are_two_stacks(stix_home, engine):
    import pulumi

    from stix.engine.workspace import open_stack

    home = StixHome(stix_home)
    name = stack_name("s3", "ckpts")
    storage = open_stack(home, name, lambda: pulumi.export("kind", "bucket"), project_name=STORAGE_PROJECT,
                         workspace=home.root / "storage" / name)
    cluster = open_stack(home, name, lambda: pulumi.export("kind", "cluster"))
    try:
        assert storage.up().outputs["kind"].value == "bucket"
        assert cluster.up().outputs["kind"].value == "cluster"
        assert storage.outputs()["kind"].value == "bucket"  # the cluster's update did not touch it
        assert [s.name for s in storage.workspace.list_stacks()] == [name]
    finally:
        for stack in (storage, cluster):
            stack.destroy()
            stack.workspace.remove_stack(name)


def test_storage_delete_removes_the_stack_and_the_record(stix, stix_home):
    from stix.storage.registry import BucketRecord, BucketRegistry

    registry = BucketRegistry(stix_home / "index.db")
    registry.record(BucketRecord("idle-1", "s3", "", True, "us-east-1", "s3://idle-1"))
    result = stix("storage", "delete", "idle-1", "-y", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Bucket idle-1 deleted." in result.stdout
    assert registry.get("idle-1") is None
    stacks = stix_home / "state" / ".pulumi" / "stacks"
    assert (stacks / "stix-storage").is_dir()  # the bucket's project was used ...
    assert not [p for p in (stacks / "stix-storage").iterdir() if p.name == "s3-idle-1.json"]  # ... and is empty
    again = stix("storage", "delete", "idle-1", "-y")
    assert again.returncode == 2 and "no bucket named 'idle-1'" in again.stderr
