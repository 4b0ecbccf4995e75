"""`stix storage ls` and `stix storage delete`: what the registry knows, sizes measured by rclone, refusals."""

from __future__ import annotations

import json

import pytest

from stix.storage.mounts import MOUNT, BucketRef, StorageMount
from stix.storage.registry import BucketRecord, BucketRegistry
from tests.import_probe import heavy_modules_loaded

HEAVY = ("pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_kubernetes", "paramiko", "boto3",
         "google", "azure")


def registry(stix_home) -> BucketRegistry:
    return BucketRegistry(stix_home / "index.db")


def seed(stix_home) -> None:
    reg = registry(stix_home)
    reg.record(BucketRecord("keep-1", "s3", "/data/a", True, "us-east-1", "s3://keep-1", 1000.0))
    reg.record(BucketRecord("idle-1", "gcs", "", True, "us-central1", "gs://idle-1", 1000.0))
    reg.record_use("train", [StorageMount("/keep", MOUNT, BucketRef("s3", "keep-1"), name="keep-1"),
                             StorageMount("/tmp", MOUNT, BucketRef("s3", "scratch-1"), name="scratch-1",
                                          persistent=False)])


def test_ls_lists_buckets_with_their_clusters_and_unreachable_sizes_as_dashes(stix, stix_home, tmp_path):
    seed(stix_home)
    # No credentials and no network to any cloud store: every size is '-', never a traceback.
    result = stix("storage", "ls", HOME=str(tmp_path), timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    keep = next(line for line in lines if "keep-1" in line)
    assert "s3" in keep and "/data/a" in keep and "yes" in keep and "train" in keep and " - " in keep
    scratch = next(line for line in lines if "scratch-1" in line)
    assert " no " in scratch and "train" in scratch
    assert "URL" not in result.stdout and "Traceback" not in result.stderr

    verbose = stix("storage", "ls", "-v", HOME=str(tmp_path), timeout=120)
    assert "URL" in verbose.stdout and "s3://keep-1" in verbose.stdout and "us-east-1" in verbose.stdout


def test_ls_json(stix, stix_home, tmp_path):
    seed(stix_home)
    result = stix("storage", "ls", "-v", "--format", "json", HOME=str(tmp_path), timeout=120)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["keep-1"] == {"name": "keep-1", "store": "s3", "source": "/data/a", "persistent": True,
                              "size_bytes": None, "clusters": ["train"], "url": "s3://keep-1",
                              "region": "us-east-1", "created_at": 1000.0}
    assert rows["idle-1"]["clusters"] == [] and rows["scratch-1"]["persistent"] is False


def test_ls_with_no_buckets(stix):
    result = stix("storage", "ls")
    assert result.returncode == 0 and result.stdout.strip() == "No buckets."
    assert json.loads(stix("storage", "ls", "--format", "json").stdout) == []


def test_rclone_size_measures_a_real_remote(tmp_path):
    """The size path end to end through rclone itself (its local backend stands in for a store's remote)."""
    from stix.cli.storage import rclone_size
    from stix.render import human_bytes

    data = tmp_path / "bucket"
    (data / "sub").mkdir(parents=True)
    (data / "a.bin").write_bytes(b"x" * 1000)
    (data / "sub" / "b.bin").write_bytes(b"y" * 2500)
    assert rclone_size(BucketRef("disk", str(data)), {"type": "local"}) == 3500
    assert rclone_size(BucketRef("disk", str(tmp_path / "missing")), {"type": "local"}) is None
    assert rclone_size(BucketRef("disk", str(data)), {"type": "no-such-backend"}) is None
    assert human_bytes(3500) == "3.4 KiB" and human_bytes(None) == "-" and human_bytes(12) == "12 B"


@pytest.mark.parametrize("argv, message", [
    (["nope"], "no bucket named 'nope' is known to stix; `stix storage ls` lists them"),
    (["keep-1"], "bucket keep-1 is used by cluster train; `stix destroy train` first"),
    (["scratch-1"], "bucket scratch-1 is not persistent: it goes with cluster train (`stix destroy train` removes it)"),
    ([], "name the buckets to delete, or pass -a for all of them (not both)"),
    (["idle-1"], "refusing to change infrastructure without confirmation: no terminal to ask; pass -y"),
])
def test_delete_refuses_in_one_line_and_changes_nothing(stix, stix_home, argv, message):
    seed(stix_home)
    result = stix("storage", "delete", *argv)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"stix: error: {message}"
    assert [r.name for r in registry(stix_home).all()] == ["idle-1", "keep-1", "scratch-1"]


def test_delete_all_skips_what_must_stay_saying_why_and_asks_about_the_rest(stix, stix_home):
    seed(stix_home)
    result = stix("storage", "delete", "-a")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "stix: skipping bucket keep-1 is used by cluster train; `stix destroy train` first",
        "stix: skipping bucket scratch-1 is not persistent: it goes with cluster train (`stix destroy train` removes it)",
        "stix: error: refusing to change infrastructure without confirmation: no terminal to ask; pass -y"]
    assert [r.name for r in registry(stix_home).all()] == ["idle-1", "keep-1", "scratch-1"]


@pytest.mark.parametrize("argv", [["storage", "ls"], ["storage", "--help"], ["storage", "delete", "nope"]])
def test_storage_commands_import_no_pulumi_or_cloud_sdk(stix, argv):
    assert heavy_modules_loaded(stix, argv, HEAVY) == []
