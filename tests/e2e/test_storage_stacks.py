"""Persistent buckets' stacks live in a Pulumi project of their own: the real engine, the same backend as the
clusters, and a stack named like a cluster's never meets it. (The local store's bucket component is built
beside this; ensure_bucket on it end to end comes with it.)"""

from __future__ import annotations

import pytest

from stix.home import StixHome
from stix.session import Session
from stix.storage.stacks import STORAGE_PROJECT, delete_bucket, stack_name

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


def test_deleting_an_unknown_bucket_is_one_line(stix_home):
    from stix.errors import UsageError

    with pytest.raises(UsageError, match=r"^no bucket named 'nope' is known to stix; `stix storage ls` lists them$"):
        delete_bucket(Session(StixHome(stix_home)), "nope")
