"""service: replicas behind a load balancer, as SkyServe describes them."""

from __future__ import annotations

import re
from typing import Any, Optional, Union

from pydantic import Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator

from stix.models import values
from stix.models.base import Model

LOAD_BALANCING = ("round_robin", "least_load", "instance_aware_least_load")
Seconds = Union[StrictFloat, StrictInt]  # an int stays an int; the error for anything else says "number"
_ACCELERATOR_KEY = re.compile(r"[A-Z0-9]+(?::[0-9]+)?")


class ReadinessProbe(Model):
    path: str = Field(..., description="HTTP path probed on each replica, e.g. /health.")
    initial_delay_seconds: Optional[Seconds] = Field(None, ge=0, description="Grace period before the first probe.")
    timeout_seconds: Optional[Seconds] = Field(None, gt=0, description="Timeout of one probe.")
    endpoint_probe_interval_seconds: Optional[Seconds] = Field(None, gt=0, description="Seconds between probes.")
    consecutive_failure_threshold_timeout: Optional[Seconds] = Field(
        None, ge=0, description="Seconds of failed probes after which a replica is replaced.")
    post_data: Optional[Union[dict[str, Any], str]] = Field(None, description="Send a POST with this body instead of a GET.")
    headers: Optional[dict[str, str]] = Field(None, description="Extra HTTP headers for the probe.")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"readiness probe path must start with '/', got {value!r}")
        return value


class ReplicaPolicy(Model):
    min_replicas: StrictInt = Field(..., ge=0, description="Fewest replicas to run.")
    max_replicas: Optional[StrictInt] = Field(None, ge=0, description="Most replicas to run (enables autoscaling).")
    target_qps_per_replica: Optional[Union[StrictFloat, dict[str, StrictFloat]]] = Field(
        None, description="Autoscale to keep QPS per replica near this; or per accelerator, {'H100:1': 10, 'A100': 5}.")
    upscale_delay_seconds: Optional[Seconds] = Field(None, ge=0, description="Wait before scaling up.")
    downscale_delay_seconds: Optional[Seconds] = Field(None, ge=0, description="Wait before scaling down.")
    base_ondemand_fallback_replicas: Optional[StrictInt] = Field(None, ge=0, description="On-demand replicas kept beside spot ones.")
    dynamic_ondemand_fallback: Optional[StrictBool] = Field(None, description="Fall back to on-demand when spot is short.")
    spot_policy: Optional[str] = Field(None, description="Spot placement policy, e.g. SpotHedge.")
    spot_placer: Optional[str] = Field(None, description="Where spot replicas go: dynamic_fallback (SpotHedge) or "
                                                         "dynamic_fallback_per_gpu.")
    spot_zones: Optional[list[str]] = Field(None, description="Zones spot replicas may use.")
    init_replicas: Optional[StrictInt] = Field(None, ge=0, description="Replicas launched at start.")
    num_overprovision: Optional[StrictInt] = Field(None, ge=0, description="Extra replicas kept for spot preemptions.")

    @field_validator("target_qps_per_replica")
    @classmethod
    def _qps(cls, value: Any) -> Any:
        for key, qps in (value.items() if isinstance(value, dict) else [("", value)] if value is not None else []):
            if key and not _ACCELERATOR_KEY.fullmatch(key):
                raise ValueError(f"target_qps_per_replica key {key!r} must be an accelerator such as 'H100' or 'H100:1'")
            if qps <= 0:
                raise ValueError(f"target_qps_per_replica must be positive, got {qps}")
        return value

    @field_validator("spot_placer", mode="before")
    @classmethod
    def _placer(cls, value: Any) -> Any:
        return None if value is None else values.choice("spot placer", str(value).lower(), values.SPOT_PLACERS)

    @model_validator(mode="after")
    def _bounds(self) -> "ReplicaPolicy":
        if self.max_replicas is not None and self.max_replicas < self.min_replicas:
            raise ValueError(f"max_replicas ({self.max_replicas}) is below min_replicas ({self.min_replicas})")
        return self


class Tls(Model):
    keyfile: str = Field(..., description="Path to the TLS private key.")
    certfile: str = Field(..., description="Path to the TLS certificate.")


class LoadBalancerConfig(Model):
    stream_timeout_seconds: Optional[Seconds] = Field(None, gt=0, description="Idle timeout of a streamed response.")


class PoolConfig(Model):
    """A pool of workers that managed jobs run on (`pool:` of a task, or of its service)."""

    workers: Optional[StrictInt] = Field(None, ge=0, description="A fixed number of workers.")
    min_workers: Optional[StrictInt] = Field(None, ge=0, description="Fewest workers (autoscaling).")
    max_workers: Optional[StrictInt] = Field(None, ge=0, description="Most workers (autoscaling).")
    queue_length_threshold: Optional[StrictInt] = Field(None, ge=1, description="Queued jobs per worker before scaling up.")
    upscale_delay_seconds: Optional[Seconds] = Field(None, ge=0, description="Wait before adding workers.")
    downscale_delay_seconds: Optional[Seconds] = Field(None, ge=0, description="Wait before removing workers.")

    @model_validator(mode="after")
    def _bounds(self) -> "PoolConfig":
        if self.min_workers is not None and self.max_workers is not None and self.max_workers < self.min_workers:
            raise ValueError(f"max_workers ({self.max_workers}) is below min_workers ({self.min_workers})")
        return self


class Service(Model):
    readiness_probe: Optional[Union[str, ReadinessProbe]] = Field(
        None, description="A path, or a probe mapping (required unless the service is a pool).")
    replicas: Optional[StrictInt] = Field(None, ge=0, description="A fixed number of replicas.")
    workers: Optional[StrictInt] = Field(None, ge=0, description="A pool's fixed number of workers.")
    pool: Optional[PoolConfig] = Field(None, description="Run as a pool of workers for managed jobs.")
    load_balancer: Optional[LoadBalancerConfig] = Field(None, description="Load balancer settings.")
    replica_policy: Optional[ReplicaPolicy] = Field(None, description="Autoscaling policy (instead of replicas).")
    load_balancing_policy: Optional[str] = Field(None, description="round_robin, least_load or instance_aware_least_load.")
    ports: Optional[StrictInt] = Field(None, ge=1, le=65535, description="The replica port the load balancer targets.")
    tls: Optional[Tls] = Field(None, description="Serve HTTPS with this key and certificate.")

    @field_validator("readiness_probe", mode="before")
    @classmethod
    def _probe(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.startswith("/"):
            raise ValueError(f"readiness probe path must start with '/', got {value!r}")
        return value

    @field_validator("load_balancing_policy", mode="before")
    @classmethod
    def _lb(cls, value: Any) -> Any:
        return None if value is None else values.choice("load balancing policy", value, LOAD_BALANCING)

    @model_validator(mode="after")
    def _replicas_or_policy(self) -> "Service":
        if self.replicas is not None and self.replica_policy is not None:
            raise ValueError("use either replicas or replica_policy, not both")
        if self.readiness_probe is None and self.pool is None and self.workers is None:
            raise ValueError("readiness_probe is required (a path such as /health), unless the service is a pool")
        return self
