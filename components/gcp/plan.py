"""GCP planning in pure functions: CIDRs, disks, GPUs, scheduling, images, labels."""

from __future__ import annotations

import re
from typing import Optional

from stix.spec import ClusterSpec

SUBNET_CIDR = "10.30.1.0/24"
HEALTH_CHECK_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
"""Google's load-balancer health checkers: the only sources the health-check rule admits."""
DISK_TYPES = {"low": "pd-standard", "medium": "pd-balanced", "high": "pd-ssd", "ultra": "pd-extreme", "best": "pd-extreme"}
ATTACHED_GPU_TYPES = {"T4": "nvidia-tesla-t4", "V100": "nvidia-tesla-v100", "P100": "nvidia-tesla-p100",
                      "P4": "nvidia-tesla-p4"}
GPU_IMAGE = "projects/deeplearning-platform-release/global/images/family/common-cu124-ubuntu-2204-py310"
CPU_IMAGE = "projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts"


def disk_type(spec: ClusterSpec) -> str:
    return DISK_TYPES[spec.disk_tier]


def guest_accelerator(spec: ClusterSpec) -> tuple[str, int] | None:
    """N1 machines take GPUs as attached accelerators; A2/A3/G2 machine types include theirs."""
    if spec.accelerator and spec.instance_type.startswith("n1-"):
        return ATTACHED_GPU_TYPES[spec.accelerator], int(spec.accelerator_count)
    return None


def image(spec: ClusterSpec) -> str:
    return spec.image_id or (GPU_IMAGE if spec.accelerator else CPU_IMAGE)


def termination_action(spec: ClusterSpec) -> str:
    return "DELETE" if spec.autostop_down else "STOP"


def network_tag(spec: ClusterSpec) -> str:
    return f"stix-{spec.cluster}"


def label_value(text: str) -> str:
    """GCP labels: lowercase letters, digits, '_' and '-', at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "-", text.lower())[:63]


def label_key(text: str) -> str:
    """GCP label keys follow the value rules and also start with a lowercase letter."""
    key = label_value(text)
    return key if key[:1].isalpha() else f"k-{key}"[:63]


def labels(spec: ClusterSpec, role: str) -> dict[str, str]:
    return {label_key(k): label_value(v) for k, v in spec.labels_for(role).items()}


_GCS_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*[a-z0-9]")


def bucket_name_problem(name: str) -> Optional[str]:
    """Cloud Storage's bucket naming rules."""
    if not _GCS_NAME.fullmatch(name):
        return (f"GCS bucket name {name!r} may hold only lowercase letters, digits, '-', '_' and '.', "
                "and must start and end with a letter or digit")
    limit = 222 if "." in name else 63
    if not 3 <= len(name) <= limit or any(len(part) > 63 for part in name.split(".")):
        return f"GCS bucket names are 3-63 characters long (222 with dots, 63 between them); {name!r} has {len(name)}"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return f"GCS bucket name {name!r} is formatted as an IP address"
    if name.startswith("goog") or "google" in name or re.search(r"g[o0]{2}g[l1]e", name):
        return f"GCS bucket name {name!r} must not start with 'goog' or contain 'google'"
    return None


def bucket_labels(labels: dict[str, str]) -> dict[str, str]:
    return {label_key(k): label_value(v) for k, v in labels.items()}
