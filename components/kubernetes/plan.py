"""Kubernetes planning in pure functions: labels, GPU selection, pod resources, the sshd bootstrap."""

from __future__ import annotations

import re
from typing import Any, Optional

from stix.models.values import number
from stix.spec import ClusterSpec

GPU_LABEL = "skypilot.co/accelerator"
"""The node label SkyPilot's Kubernetes support uses, so clusters labelled for SkyPilot work as they are."""
GPU_IMAGE = "nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04"
CPU_IMAGE = "ubuntu:22.04"
KEY_MOUNT = "/etc/stix-keys"

# The pod's entry point: install sshd if the image lacks it, install the keys stix generated for this
# ordinal, and run sshd in the foreground. Built from constants only; no user value is interpolated.
BOOTSTRAP = r"""set -eu
ordinal="${HOSTNAME##*-}"
if ! command -v sshd >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server sudo >/dev/null
fi
id -u "$STIX_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$STIX_USER"
mkdir -p /run/sshd "/home/$STIX_USER/.ssh"
install -m 0600 "$STIX_KEYS/authorized_keys" "/home/$STIX_USER/.ssh/authorized_keys"
chown -R "$STIX_USER" "/home/$STIX_USER/.ssh"
install -m 0600 "$STIX_KEYS/host-$ordinal" /etc/ssh/ssh_host_ed25519_key
echo "$STIX_USER ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/stix
exec /usr/sbin/sshd -D -e -o PasswordAuthentication=no -o HostKey=/etc/ssh/ssh_host_ed25519_key
"""


def label_value(text: str) -> str:
    """Kubernetes label values: alphanumerics, '-', '_', '.', at most 63, starting and ending alphanumeric."""
    value = re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:63]
    return value.strip("-_.")


def labels(spec: ClusterSpec, role: str) -> dict[str, str]:
    return {k: label_value(v) for k, v in spec.labels_for(role).items()}


def selector(spec: ClusterSpec) -> dict[str, str]:
    return {"stix-cluster": label_value(spec.cluster)}


def node_selector(spec: ClusterSpec) -> dict[str, str] | None:
    return {GPU_LABEL: spec.accelerator.lower()} if spec.accelerator else None


def pod_resources(spec: ClusterSpec) -> dict[str, str]:
    resources = {"cpu": number(spec.vcpus), "memory": f"{number(spec.memory_gib)}Gi",
                 "ephemeral-storage": f"{spec.disk_size_gb}Gi"}
    if spec.accelerator:
        resources["nvidia.com/gpu"] = number(spec.accelerator_count)
    return resources


def image(spec: ClusterSpec) -> str:
    if spec.image_id.startswith("docker:"):
        return spec.image_id[len("docker:"):]
    return spec.image_id or (GPU_IMAGE if spec.accelerator else CPU_IMAGE)


def namespace(spec: ClusterSpec) -> Optional[str]:
    """Config kubernetes.namespace, on every object's metadata; None: the provider's (the context's, else default)."""
    return spec.k8s_namespace or None


def merge_pod(user: Any, ours: Any, key: str = "") -> Any:
    """Config kubernetes.pod_config deep-merged with stix's node pod (both in the API's camelCase form).

    Maps merge key by key and stix's value wins where both set a scalar (the node container's image, command,
    ports, probe and resources requests stay stix's). Lists of named items (containers, volumes, env,
    volumeMounts) merge item by item by name; an unnamed container is the node container (SkyPilot's
    convention: the pod_config's first container is the node's); other lists of maps (tolerations) are the
    user's then stix's; a list of plain values (a command line) is stix's where stix sets one.
    """
    if isinstance(user, dict) and isinstance(ours, dict):
        return {**user, **{k: merge_pod(user[k], v, k) if k in user else v for k, v in ours.items()}}
    if isinstance(user, list) and isinstance(ours, list):
        return _merge_list(user, ours, node=ours[0]["name"] if key == "containers" and ours else None)
    return ours


def _merge_list(user: list, ours: list, node: Optional[str]) -> list:
    if not all(isinstance(item, dict) for item in ours):
        return ours  # a value such as a command line is stix's whole
    index = {item["name"]: i for i, item in enumerate(ours) if "name" in item}
    if not index:
        return [*user, *ours]
    merged = list(ours)
    for item in user:
        name = item.get("name", node) if isinstance(item, dict) else None
        if name is not None and name in index:
            merged[index[name]] = merge_pod(item, merged[index[name]])
        else:
            merged.append(item)
    return merged
