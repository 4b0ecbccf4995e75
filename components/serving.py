"""What the clouds' service balancers (stix serve) share: their labels, ports, targets and refusals.

A service's balancer lives in the service's own stack, not a cluster's: it carries the service's name
(`stix-service`) where a cluster's resources carry `stix-cluster`. Its targets are a stack input: the serve
controller re-applies the stack with the replicas that are ready (stix.serve.cloud_balancer).
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Sequence

from stix.errors import UsageError

if TYPE_CHECKING:
    from stix.serve.balancer import BalancerSpec

SERVICE_LABEL = "stix-service"
DEFAULT_PORT = 80
"""The port a cloud's service balancer listens on when the service names none (BalancerSpec.listen_port 0)."""


def service_labels(spec: "BalancerSpec", role: str) -> dict[str, str]:
    """The task's labels plus the service's name and the resource's role (never overridden)."""
    return {**dict(spec.labels), SERVICE_LABEL: spec.service, "stix-role": role}


def stack_outputs(spec: "BalancerSpec") -> dict[str, Any]:
    """Exported beside the endpoint: the spec the stack was applied with, which the controller applies again
    with other targets (stix.serve.cloud_balancer.StackBalancer)."""
    return {"spec": asdict(spec)}


def listen_port(spec: "BalancerSpec") -> int:
    return spec.listen_port or DEFAULT_PORT


def refuse_tls(spec: "BalancerSpec", cloud: str) -> None:
    if spec.tls_certfile or spec.tls_keyfile:
        raise UsageError(f"not supported yet: service.tls on {cloud} (TLS is served on the local cloud; put a "
                         "TLS-terminating proxy in front on clouds)")


def split_target(target: str) -> tuple[str, int]:
    """'host:port' -> (host, port); a bare host is on no port and is refused."""
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"service balancer target {target!r} is not host:port")
    return host.strip("[]"), int(port)


def ip_targets(targets: Sequence[str], cloud: str) -> list[tuple[str, int]]:
    """Targets that must be IP addresses (a cloud balancer's IP targets / backend addresses)."""
    split = [split_target(target) for target in targets]
    for host, _ in split:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"service balancer target {host!r} on {cloud} must be an IP address") from None
    return split
