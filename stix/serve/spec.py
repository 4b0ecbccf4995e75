"""A task's `service:` section as the serve controller uses it: every default filled in, once.

SkyPilot's SkyServe defaults apply where the task is silent (sky/serve/constants.py and
sky/serve/service_spec.py), so a SkyPilot service file behaves the same here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Mapping, Optional

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
    num_overprovision: int = 0
    """Replicas run beyond the autoscaler's target (SkyPilot's get_final_target_num_replicas)."""
    init_replicas: Optional[int] = None
    """The target at start, within [min, max] (SkyPilot's legacy init_replicas); None: min_replicas."""

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


Positions = Mapping[tuple, tuple[int, int]]
"""(line, col) of each node of the task file by its key path, e.g. ("service", "replica_policy") (stix.located)."""

IGNORED = {
    "spot_policy": "SkyPilot's legacy SpotHedge policy; spot replicas go where the optimizer places the task",
    "spot_zones": "spot replicas go where the optimizer places the task; pin zones in resources",
    "spot_placer": "spot replicas go where the optimizer places the task; pin zones in resources",
}
"""replica_policy fields that validate but stix does not act on: `serve up` and `serve update` warn about each."""


def service_spec(task: Task, where: str = "", positions: Optional[Positions] = None) -> ServiceSpec:
    """The task's service with every default filled in; UsageError (one line, prefixed `where` and, with
    `positions`, the line and column of the field at fault) when it has none or it cannot be served (no port,
    a pool)."""
    service = task.service
    if service is None:
        raise UsageError(f"{at(where, positions)}the task has no service: section (add one with a readiness_probe "
                         f"and ports)")
    if service.pool is not None or service.workers is not None:
        field = "pool" if service.pool is not None else "workers"
        raise UsageError(f"{at(where, positions, field)}not supported yet: service.pool (pools of workers for "
                         f"managed jobs)")
    prefix = at(where, positions)
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
        probe=spec_probe, policy=_policy(task, where, positions), replica_port=port,
        load_balancing_policy=service.load_balancing_policy or ROUND_ROBIN,
        tls_keyfile=service.tls.keyfile if service.tls else "", tls_certfile=service.tls.certfile if service.tls else "",
        stream_timeout_s=service.load_balancer.stream_timeout_seconds if service.load_balancer else None,
        use_spot=bool(task.resources.use_spot))


def at(where: str, positions: Optional[Positions], *path: str) -> str:
    """'FILE:LINE:COL: ' of service.<path> (of its nearest enclosing node that has a position), 'FILE: ' without
    positions, '' without a file."""
    if not where:
        return ""
    key = ("service", *path)
    while positions and key:
        if key in positions:
            line, col = positions[key]
            return f"{where}:{line}:{col}: "
        key = key[:-1]
    return f"{where}: "


def ignored_fields(task: Task, where: str = "", positions: Optional[Positions] = None) -> list[str]:
    """One warning line per replica_policy field set that stix does not act on (IGNORED)."""
    policy = task.service.replica_policy if task.service is not None else None
    if policy is None:
        return []
    return [f"{at(where, positions, 'replica_policy', name)}service.replica_policy.{name}: ignored ({why})"
            for name, why in IGNORED.items() if getattr(policy, name) is not None]


def _policy(task: Task, where: str, positions: Optional[Positions]) -> ScalePolicy:
    service = task.service
    assert service is not None
    policy = service.replica_policy
    if policy is None:
        count = 1 if service.replicas is None else service.replicas
        return ScalePolicy(min_replicas=count, max_replicas=count)
    target = policy.target_qps_per_replica
    if isinstance(target, dict):
        raise UsageError(f"{at(where, positions, 'replica_policy', 'target_qps_per_replica')}not supported yet: "
                         f"service.replica_policy.target_qps_per_replica per accelerator (give one number)")
    maximum = policy.max_replicas if policy.max_replicas is not None else policy.min_replicas
    if maximum > policy.min_replicas and target is None:  # SkyPilot's SkyServiceSpec refuses it the same way
        raise UsageError(f"{at(where, positions, 'replica_policy', 'max_replicas')}service.replica_policy: "
                         f"max_replicas ({maximum}) differs from min_replicas ({policy.min_replicas}) but "
                         f"target_qps_per_replica is not set (what the autoscaler follows)")
    init = policy.init_replicas
    return ScalePolicy(
        min_replicas=policy.min_replicas, max_replicas=maximum,
        target_qps_per_replica=None if target is None else float(target),
        upscale_delay_s=_or(policy.upscale_delay_seconds, DEFAULT_UPSCALE_DELAY_S),
        downscale_delay_s=_or(policy.downscale_delay_seconds, DEFAULT_DOWNSCALE_DELAY_S),
        base_ondemand_fallback_replicas=policy.base_ondemand_fallback_replicas or 0,
        dynamic_ondemand_fallback=bool(policy.dynamic_ondemand_fallback),
        num_overprovision=policy.num_overprovision or 0,
        init_replicas=None if init is None else max(policy.min_replicas, min(maximum, init)))


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
