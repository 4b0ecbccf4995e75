"""A task's `service:` section as the serve controller uses it: every default filled in, once.

SkyPilot's SkyServe defaults apply where the task is silent (sky/serve/constants.py and
sky/serve/service_spec.py), so a SkyPilot service file behaves the same here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Optional

from stix.errors import UsageError
from stix.models.task import Task

DEFAULT_INITIAL_DELAY_S = 1200.0
DEFAULT_PROBE_TIMEOUT_S = 15.0
DEFAULT_PROBE_INTERVAL_S = 10.0
DEFAULT_FAILURE_THRESHOLD_S = 180.0
"""A ready replica whose probes have failed for this long is taken out and replaced."""
DEFAULT_UPSCALE_DELAY_S = 300.0
DEFAULT_DOWNSCALE_DELAY_S = 1200.0
QPS_WINDOW_S = 60.0
"""The autoscaler's requests-per-second is measured over this window (SkyPilot's AUTOSCALER_QPS_WINDOW_SIZE)."""

ROUND_ROBIN = "round_robin"
LEAST_LOAD = "least_load"


@dataclass(frozen=True)
class Probe:
    path: str
    post_data: Optional[str] = None
    """JSON text (a mapping in the task is sent as JSON) or the raw body; None: a GET."""
    headers: tuple[tuple[str, str], ...] = ()
    initial_delay_s: float = DEFAULT_INITIAL_DELAY_S
    """A replica that is not ready this long after it started is FAILED (SkyPilot's initial_delay_seconds)."""
    timeout_s: float = DEFAULT_PROBE_TIMEOUT_S
    interval_s: float = DEFAULT_PROBE_INTERVAL_S
    failure_threshold_s: float = DEFAULT_FAILURE_THRESHOLD_S


@dataclass(frozen=True)
class ScalePolicy:
    min_replicas: int
    max_replicas: int
    """Equal to min_replicas: a fixed size, no autoscaling."""
    target_qps_per_replica: Optional[float] = None
    upscale_delay_s: float = DEFAULT_UPSCALE_DELAY_S
    downscale_delay_s: float = DEFAULT_DOWNSCALE_DELAY_S
    base_ondemand_fallback_replicas: int = 0
    """With spot replicas: this many of them always run on demand."""
    dynamic_ondemand_fallback: bool = False
    """With spot replicas: launch on-demand ones in place of spot ones that are not (yet) ready."""

    @property
    def autoscales(self) -> bool:
        return self.target_qps_per_replica is not None and self.max_replicas > self.min_replicas


@dataclass(frozen=True)
class ServiceSpec:
    probe: Probe
    policy: ScalePolicy
    replica_port: int
    """The port each replica serves on (service.ports, else the task's single resources.ports)."""
    load_balancing_policy: str = ROUND_ROBIN
    tls_keyfile: str = ""
    tls_certfile: str = ""
    """Both set: the load balancer serves HTTPS with them (paths on this machine)."""
    stream_timeout_s: Optional[float] = None
    use_spot: bool = False
    """The task asks for spot replicas (resources.use_spot)."""

    @property
    def tls(self) -> bool:
        return bool(self.tls_keyfile and self.tls_certfile)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ServiceSpec":
        data = json.loads(text)
        probe = dict(data.pop("probe"))
        probe["headers"] = tuple((str(k), str(v)) for k, v in probe.get("headers", ()))
        return cls(probe=Probe(**probe), policy=ScalePolicy(**data.pop("policy")), **data)


def service_spec(task: Task, where: str = "") -> ServiceSpec:
    """The task's service with every default filled in; UsageError (one line, prefixed `where`) when it has
    none or it cannot be served (no port, a pool)."""
    prefix = f"{where}: " if where else ""
    service = task.service
    if service is None:
        raise UsageError(f"{prefix}the task has no service: section (add one with a readiness_probe and ports)")
    if service.pool is not None or service.workers is not None:
        raise UsageError(f"{prefix}not supported yet: service.pool (pools of workers for managed jobs)")
    port = _replica_port(task, prefix)
    probe = service.readiness_probe
    if isinstance(probe, str):
        spec_probe = Probe(path=probe)
    else:
        assert probe is not None  # the model requires one unless the service is a pool
        post = probe.post_data
        spec_probe = Probe(
            path=probe.path,
            post_data=None if post is None else post if isinstance(post, str) else json.dumps(post),
            headers=tuple(sorted((probe.headers or {}).items())),
            initial_delay_s=_or(probe.initial_delay_seconds, DEFAULT_INITIAL_DELAY_S),
            timeout_s=_or(probe.timeout_seconds, DEFAULT_PROBE_TIMEOUT_S),
            interval_s=_or(probe.endpoint_probe_interval_seconds, DEFAULT_PROBE_INTERVAL_S),
            failure_threshold_s=_or(probe.consecutive_failure_threshold_timeout, DEFAULT_FAILURE_THRESHOLD_S))
    return ServiceSpec(
        probe=spec_probe, policy=_policy(task, prefix), replica_port=port,
        load_balancing_policy=service.load_balancing_policy or ROUND_ROBIN,
        tls_keyfile=service.tls.keyfile if service.tls else "", tls_certfile=service.tls.certfile if service.tls else "",
        stream_timeout_s=service.load_balancer.stream_timeout_seconds if service.load_balancer else None,
        use_spot=bool(task.resources.use_spot))


def _policy(task: Task, prefix: str) -> ScalePolicy:
    service = task.service
    assert service is not None
    policy = service.replica_policy
    if policy is None:
        count = 1 if service.replicas is None else service.replicas
        return ScalePolicy(min_replicas=count, max_replicas=count)
    target = policy.target_qps_per_replica
    if isinstance(target, dict):
        raise UsageError(f"{prefix}not supported yet: service.replica_policy.target_qps_per_replica per accelerator "
                         f"(give one number)")
    maximum = policy.max_replicas if policy.max_replicas is not None else policy.min_replicas
    if maximum > policy.min_replicas and target is None:
        raise UsageError(f"{prefix}service.replica_policy: max_replicas needs target_qps_per_replica "
                         f"(what the autoscaler follows)")
    return ScalePolicy(
        min_replicas=policy.min_replicas, max_replicas=maximum,
        target_qps_per_replica=None if target is None else float(target),
        upscale_delay_s=_or(policy.upscale_delay_seconds, DEFAULT_UPSCALE_DELAY_S),
        downscale_delay_s=_or(policy.downscale_delay_seconds, DEFAULT_DOWNSCALE_DELAY_S),
        base_ondemand_fallback_replicas=policy.base_ondemand_fallback_replicas or 0,
        dynamic_ondemand_fallback=bool(policy.dynamic_ondemand_fallback))


def _replica_port(task: Task, prefix: str) -> int:
    assert task.service is not None
    if task.service.ports is not None:
        return task.service.ports
    ports = task.resources.ports
    ranges = ports.ranges if ports is not None else ()
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return ranges[0][0]
    raise UsageError(f"{prefix}service.ports: say which port the replicas serve on (service.ports, or a single "
                     f"resources.ports)")


def _or(value: Optional[float], default: float) -> float:
    return default if value is None else float(value)
