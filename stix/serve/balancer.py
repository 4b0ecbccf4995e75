"""The load balancer as the serve controller sees it: a service's stack holds it; the controller only
changes which replicas it sends traffic to, and reads how many requests it has served.

The stack (made by `stix serve up`, destroyed by the controller at `serve down`) is
`stix.serve.lb_stack`; driving a running balancer is the cloud's Balancer (HAProxy's runtime API on
the local cloud, `stix.serve.haproxy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence


@dataclass(frozen=True)
class Backend:
    """A ready replica the balancer may send requests to."""

    name: str
    """Stable per replica: `replica-<id>`."""
    host: str
    port: int


class Balancer(Protocol):
    """A running load balancer. Every method is idempotent and safe to call again after a controller restart."""

    def set_backends(self, backends: Sequence[Backend]) -> None:
        """Make these the servers taking new requests: add the new ones, and take out the others without
        dropping a request they are serving (drain, wait for their connections to end, then remove)."""
        ...

    def backends(self) -> list[str]:
        """Names of the servers it has now (taking traffic or draining)."""
        ...

    def requests_total(self) -> int:
        """Requests it has answered since it started (a counter; the autoscaler differentiates it)."""
        ...


@dataclass(frozen=True)
class BalancerInfo:
    """What `serve up` records (ServiceRecord.endpoint / .balancer) once the service's stack is applied."""

    endpoint: str
    """host:port users send requests to."""
    outputs: dict[str, Any]
    """The stack's outputs: what balancer_from needs to drive it."""


@dataclass(frozen=True)
class BalancerSpec:
    """The service's stack, as `serve up` plans it: one load balancer on the replicas' cloud."""

    service: str
    cloud: str
    region: str
    replica_port: int
    """The port every replica serves on (health checks and targets)."""
    policy: str = "round_robin"
    """round_robin or least_load (ServiceSpec.load_balancing_policy)."""
    listen_port: int = 0
    """0: the cloud picks (the local cloud: a free loopback port, chosen once and kept in the stack)."""
    tls_certfile: str = ""
    tls_keyfile: str = ""
    stream_timeout_s: float = 0.0
    labels: tuple[tuple[str, str], ...] = ()
    state_dir: str = ""
    """The local cloud: where HAProxy's config, runtime socket, pid and log live (under stix's home)."""
    log: str = ""
    """The local cloud: the file HAProxy writes its log to (ServiceStore.balancer_log; filled in by lb_stack)."""
    health_path: str = ""
    """The balancer's own health check GETs this path (the readiness probe's, when it is a GET); empty: a TCP
    check. A second line of defence only: the controller's readiness probe decides which replicas serve."""
    health_timeout_s: float = 0.0
    """How long the balancer's health check waits for an answer (the readiness probe's timeout); 0: its default."""
    targets: tuple[str, ...] = ()
    """host:port of the replicas taking traffic, as the stack's input on a cloud (the controller applies the
    stack again to change them: stix.serve.cloud_balancer); the local cloud changes its servers at run time."""
