from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from stix.catalog.load import load_catalog
from stix.compile import compile_spec
from stix.inputs import cluster_inputs
from stix.home import StixHome
from stix.loader import load_pipeline_text
from stix.optimizer import HostLimits, optimize
from stix.spec import BucketSpec

GPU_SPOT_TASK = """
name: train
num_nodes: 2
resources:
  infra: {infra}
  accelerators: {accelerators}
  use_spot: {spot}
  cpus: {cpus}
  ports: [8888, "10020-10040"]
  labels:
    team: ml
    project: llm
  disk_size: 512
  disk_tier: high
run: python train.py
"""
SSH_CIDR = "198.51.100.7/32"


def cloud_spec(tmp_path: Path, cloud: str, infra: str, accelerators: str, spot: bool = True, cpus: str = "4+",
               **changes):
    task = load_pipeline_text(GPU_SPOT_TASK.format(infra=infra, accelerators=accelerators, spot=str(spot).lower(),
                                                   cpus=cpus)).tasks[0]
    placement = optimize(task.resources, task.num_nodes, load_catalog(), [cloud], host=HostLimits(2, 8))
    inputs = cluster_inputs(StixHome(tmp_path / "home"), "train", placement.chosen, task.num_nodes, (SSH_CIDR,))
    spec = compile_spec(task, "train", placement.chosen, inputs)
    if "buckets" in changes:  # bare names: buckets of the placed cloud's own store
        changes["buckets"] = tuple(BucketSpec.from_value(b, cloud_store(cloud)) for b in changes["buckets"])
    return dataclasses.replace(spec, **changes) if changes else spec


def cloud_store(cloud: str) -> str:
    from stix.components.base import cloud_for

    return cloud_for(cloud).store  # type: ignore[attr-defined]


@pytest.fixture
def spec_for(tmp_path):
    def make(cloud: str, infra: str, accelerators: str, **changes):
        return cloud_spec(tmp_path, cloud, infra, accelerators, **changes)
    return make


@pytest.fixture
def k8s_spec(tmp_path):
    def make(**changes):
        return cloud_spec(tmp_path, "kubernetes", "k8s/my-context", "H100:8", spot=False, cpus="32", **changes)
    return make
