"""GPUs end to end on local nodes that declare them (STIX_LOCAL_GPUS): the placement's GPUs reach
SKYPILOT_NUM_GPUS_PER_NODE, job demand comes from the placement, and the agent hands each job its own devices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.polling import wait_for

pytestmark = pytest.mark.e2e

CLUSTER = "e2e-gpus"
GPUS = {"STIX_LOCAL_GPUS": "A100:2"}


def write(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(body)
    return str(path)


def queue(stix) -> dict[int, dict]:
    from stix.home import StixHome
    from stix.cluster_jobs import head_connection
    from stix.cluster_jobs import queue as read_queue

    with head_connection(StixHome.from_env(), CLUSTER) as head:
        return {row["id"]: row for row in read_queue(head)}


def test_gpus_from_placement_to_each_jobs_devices(stix, stix_home, tmp_path, engine):
    # An ordered preference: H100:8 cannot be placed (no enabled cloud has it), A100:1 fits a local node.
    task = write(tmp_path, "train", f"""
name: {CLUSTER}
num_nodes: 2
resources:
  infra: local
  accelerators: ['H100:8', 'A100:1']
run: echo "gpus=$SKYPILOT_NUM_GPUS_PER_NODE stix=$STIX_NUM_GPUS_PER_NODE cuda=$CUDA_VISIBLE_DEVICES"
""")
    up = stix("up", "-y", task, **GPUS)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "with A100:2 each" in up.stdout, up.stdout
        # The job holds the A100:1 it asked for, not the node's 2 and not 0.
        assert "(head, rank=0) gpus=1 stix=1 cuda=0" in up.stdout, up.stdout
        assert "(worker1, rank=1) gpus=1 stix=1 cuda=0" in up.stdout, up.stdout
        info = json.loads((stix_home / "clusters" / CLUSTER / "info.json").read_text())
        assert [(n["gpus"], n["accelerator"]) for n in info["nodes"]] == [(2.0, "A100"), (2.0, "A100")]

        # Two 1-GPU jobs at once on 2-GPU nodes get different devices.
        one_gpu = write(tmp_path, "one", "resources:\n  accelerators: A100:1\n"
                                         "run: echo cuda=$CUDA_VISIBLE_DEVICES; sleep 3\n")
        ids = []
        for _ in range(2):
            submitted = stix("exec", "-d", CLUSTER, one_gpu)
            assert submitted.returncode == 0, submitted.stderr
            ids.append(int(submitted.stdout.split()[1]))
        wait_for(lambda: all(queue(stix)[i]["status"] == "RUNNING" for i in ids), what="both 1-GPU jobs running")
        logs = [stix("logs", CLUSTER, str(i)) for i in ids]
        assert all(log.returncode == 0 for log in logs), [log.stderr for log in logs]
        devices = {log.stdout.strip().rsplit("cuda=", 1)[1] for log in logs}
        assert devices == {"0", "1"}, [log.stdout for log in logs]

        # A job for an accelerator the cluster does not have is refused before it is queued, in one line.
        other = write(tmp_path, "other", "resources:\n  accelerators: T4:1\nrun: nvidia-smi\n")
        refused = stix("exec", CLUSTER, other)
        assert refused.returncode != 0
        assert refused.stderr.strip() == ("stix: error: the task asks for T4:1; the cluster's nodes have A100:2")
    finally:
        assert stix("destroy", "-y", CLUSTER).returncode == 0
