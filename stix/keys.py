"""Per-cluster SSH client keys and node host keys (Ed25519, OpenSSH format)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@dataclass(frozen=True)
class KeyPair:
    private_openssh: str
    public_openssh: str


def generate_keypair(comment: str = "") -> KeyPair:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    return KeyPair(private, f"{public} {comment}".strip())


def write_private_key(path: Path, private_openssh: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(private_openssh)
    os.chmod(path, 0o600)


def ensure_cluster_key(path: Path, cluster: str) -> str:
    """Create the cluster's client key once (0600); return its public half."""
    public_path = path.with_suffix(".pub")
    if path.exists() and public_path.exists():
        return public_path.read_text().strip()
    pair = generate_keypair(comment=f"stix-{cluster}")
    write_private_key(path, pair.private_openssh)
    public_path.write_text(pair.public_openssh + "\n")
    return pair.public_openssh


def ensure_host_keys(directory: Path, cluster: str, count: int) -> tuple[str, ...]:
    """One host key per node (files host-<rank>, 0600), made once: a node keeps its key across applies."""
    publics = []
    for rank in range(count):
        private = directory / f"host-{rank}"
        public = directory / f"host-{rank}.pub"
        if not (private.exists() and public.exists()):
            pair = generate_keypair(comment=f"{cluster}-node-{rank}")
            write_private_key(private, pair.private_openssh)
            public.write_text(pair.public_openssh + "\n")
        publics.append(public.read_text().strip())
    return tuple(publics)
