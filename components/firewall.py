"""Which ports a cluster opens, to whom: pure planning shared by every cloud."""

from __future__ import annotations

from dataclasses import dataclass

from stix.spec import ClusterSpec

WORLD = "0.0.0.0/0"


@dataclass(frozen=True)
class IngressRule:
    name: str
    from_port: int
    to_port: int
    cidrs: tuple[str, ...]
    description: str


def ingress_rules(spec: ClusterSpec) -> list[IngressRule]:
    """SSH only from the launching machine (or the CIDRs configured); the task's ports from anywhere.

    Opening a task port to the world is what the task asked for by listing it in
    `ports`; nothing else is ever open to 0.0.0.0/0. Traffic between the
    cluster's own nodes is allowed by each cloud's self-reference, not by CIDR.
    """
    if not spec.ssh_cidrs:
        raise ValueError("no SSH source address: set the CIDRs allowed to reach SSH (ssh_cidrs)")
    rules = [IngressRule("ssh", 22, 22, tuple(spec.ssh_cidrs), "SSH from the launching machine")]
    for low, high in spec.ports:
        label = str(low) if low == high else f"{low}-{high}"
        rules.append(IngressRule(f"port-{label}", low, high, (WORLD,), f"task port {label}"))
    return rules
