"""AWS planning in pure functions: CIDRs, disks, spot settings, images, tags."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from stix.spec import ClusterSpec

VPC_CIDR = "10.20.0.0/16"
SUBNET_CIDR = "10.20.1.0/24"
GPU_AMI_NAME = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *"
GPU_ARM_AMI_NAME = "Deep Learning ARM64 Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *"
NEURON_AMI_NAME = "Deep Learning AMI Neuron (Ubuntu 22.04) *"
HABANA_AMI_NAME = "Deep Learning AMI Habana *"
CPU_AMI_NAME = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"
CPU_ARM_AMI_NAME = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-arm64-server-*"
CANONICAL = "099720109477"
NEURON = frozenset({"Inferentia", "Inferentia2", "Trainium", "Trainium2"})
"""Accelerators whose driver (Neuron) is in AWS's Neuron Deep Learning AMI, not its NVIDIA one."""
NO_DRIVER_IMAGE = frozenset({"Radeon Pro V520"})
"""Accelerators served by Ubuntu's own kernel driver (amdgpu): the plain Ubuntu image."""
_GRAVITON_FAMILY = re.compile(r"[a-z]+\d+g[a-z]*")
"""EC2's Graviton (arm64) families name a `g` right after the generation: g5g, c7g, m6gd, c7gn, r8g."""


@dataclass(frozen=True)
class Disk:
    volume_type: str
    iops: Optional[int]
    throughput: Optional[int]


DISKS = {
    "low": Disk("gp3", 3000, 125),
    "medium": Disk("gp3", 6000, 250),
    "high": Disk("gp3", 12000, 500),
    "ultra": Disk("io2", 32000, None),
    "best": Disk("io2", 32000, None),
}


def disk(spec: ClusterSpec) -> Disk:
    return DISKS[spec.disk_tier]


@dataclass(frozen=True)
class Market:
    spot_instance_type: str
    interruption_behavior: str
    shutdown_behavior: str


def market(spec: ClusterSpec) -> Market:
    """Autostop stops or terminates from inside the node; spot must then be persistent (stop) or one-time."""
    if spec.autostop_down:
        return Market("one-time", "terminate", "terminate")
    return Market("persistent", "stop", "stop")


@dataclass(frozen=True)
class ImageQuery:
    owner: str
    name: str
    architecture: str


def architecture(instance_type: str) -> str:
    return "arm64" if _GRAVITON_FAMILY.fullmatch(instance_type.split(".")[0]) else "x86_64"


def ami_query(spec: ClusterSpec) -> ImageQuery:
    """The default image: the Deep Learning AMI with the accelerator's driver (NVIDIA on x86_64 or arm64, Neuron,
    Habana), else Ubuntu for the instance's architecture."""
    arch = architecture(spec.instance_type)
    if spec.accelerator in NEURON:
        return ImageQuery("amazon", NEURON_AMI_NAME, arch)
    if spec.accelerator == "Gaudi HL-205":
        return ImageQuery("amazon", HABANA_AMI_NAME, arch)
    if spec.accelerator and spec.accelerator not in NO_DRIVER_IMAGE:
        return ImageQuery("amazon", GPU_ARM_AMI_NAME if arch == "arm64" else GPU_AMI_NAME, arch)
    return ImageQuery(CANONICAL, CPU_ARM_AMI_NAME if arch == "arm64" else CPU_AMI_NAME, arch)


def tags(spec: ClusterSpec, role: str, name: str) -> dict[str, str]:
    return {**spec.labels_for(role), "Name": name}


def first_subnet(ids: Optional[list[str]], spec: ClusterSpec) -> str:
    """The subnet the nodes join in the user's VPC: the first (by id, so stable) in the placed zone."""
    if not ids:
        where = f" in zone {spec.zone}" if spec.zone else ""
        raise ValueError(f"config aws.vpc_name: VPC {spec.vpc_name!r} has no subnet{where}")
    return sorted(ids)[0]


_S3_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")
_IP = re.compile(r"\d+\.\d+\.\d+\.\d+")


def bucket_name_problem(name: str) -> Optional[str]:
    """S3's bucket naming rules (general purpose buckets)."""
    if not 3 <= len(name) <= 63:
        return f"S3 bucket names are 3-63 characters long; {name!r} has {len(name)}"
    if not _S3_NAME.fullmatch(name):
        return (f"S3 bucket name {name!r} may hold only lowercase letters, digits, '.' and '-', "
                "and must start and end with a letter or digit")
    if ".." in name:
        return f"S3 bucket name {name!r} has two adjacent periods"
    if _IP.fullmatch(name):
        return f"S3 bucket name {name!r} is formatted as an IP address"
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            return f"S3 bucket names must not start with {prefix!r}"
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if name.endswith(suffix):
            return f"S3 bucket names must not end with {suffix!r}"
    return None
