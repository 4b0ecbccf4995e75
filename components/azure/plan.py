"""Azure planning in pure functions: address space, disks, images, names, tags."""

from __future__ import annotations

import hashlib
import re
from typing import Optional

from stix.spec import ClusterSpec

VNET_CIDR = "10.40.0.0/16"
SUBNET_CIDR = "10.40.1.0/24"
DISKS = {"low": "Standard_LRS", "medium": "StandardSSD_LRS", "high": "Premium_LRS", "ultra": "Premium_LRS",
         "best": "Premium_LRS"}
GPU_IMAGE = ("microsoft-dsvm", "ubuntu-hpc", "2204", "latest")
CPU_IMAGE = ("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2", "latest")


def disk_type(spec: ClusterSpec) -> str:
    return DISKS[spec.disk_tier]


def image(spec: ClusterSpec) -> tuple[str, str, str, str]:
    """publisher, offer, sku, version; image_id may give them as an URN 'publisher:offer:sku:version'."""
    if spec.image_id:
        parts = spec.image_id.split(":")
        if len(parts) != 4:
            raise ValueError(f"azure image_id {spec.image_id!r} must be an URN publisher:offer:sku:version")
        return tuple(parts)  # type: ignore[return-value]
    return GPU_IMAGE if spec.accelerator else CPU_IMAGE


def eviction_policy(spec: ClusterSpec) -> str:
    return "Delete" if spec.autostop_down else "Deallocate"


def storage_account_name(bucket: str) -> str:
    """3-24 lowercase letters and digits, globally unique: the bucket name plus a short hash."""
    stem = re.sub(r"[^a-z0-9]", "", bucket.lower())[:16] or "stix"
    return stem + hashlib.sha256(bucket.encode()).hexdigest()[:8]


def tags(spec: ClusterSpec, role: str) -> dict[str, str]:
    return spec.labels_for(role)


_CONTAINER_NAME = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*")


def bucket_name_problem(name: str) -> Optional[str]:
    """Azure blob container naming rules (the container is the bucket; its account is derived from it)."""
    if not 3 <= len(name) <= 63:
        return f"Azure container names are 3-63 characters long; {name!r} has {len(name)}"
    if not _CONTAINER_NAME.fullmatch(name):
        return (f"Azure container name {name!r} may hold only lowercase letters, digits and single '-' between "
                "them, starting with a letter or digit")
    return None


def account_of_url(url: str) -> tuple[str, str]:
    """https://<account>.blob.core.windows.net/<container>/<prefix> -> (account, 'container/prefix')."""
    rest = url.split("://", 1)[1]
    host, _, path = rest.partition("/")
    return host.split(".", 1)[0], path
