"""service: replicas behind a load balancer, as SkyServe describes them."""

from __future__ import annotations

from typing import Any, Optional, Union

from pydantic import Field, StrictBool, StrictInt, field_validator, model_validator

from stix.models import values
from stix.models.base import Model

LOAD_BALANCING = ("round_robin", "least_load", "instance_aware_least_load")


class ReadinessProbe(Model):
    path: str = Field(..., description="HTTP path probed on each replica, e.g. /health.")
    initial_delay_seconds: Optional[StrictInt] = Field(None, ge=0, description="Grace period before the first probe.")
    timeout_seconds: Optional[StrictInt] = Field(None, ge=1, description="Timeout of one probe.")
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
    target_qps_per_replica: Optional[float] = Field(None, gt=0, description="Autoscale to keep QPS per replica near this.")
    upscale_delay_seconds: Optional[StrictInt] = Field(None, ge=0, description="Wait before scaling up.")
    downscale_delay_seconds: Optional[StrictInt] = Field(None, ge=0, description="Wait before scaling down.")
    base_ondemand_fallback_replicas: Optional[StrictInt] = Field(None, ge=0, description="On-demand replicas kept beside spot ones.")
    dynamic_ondemand_fallback: Optional[StrictBool] = Field(None, description="Fall back to on-demand when spot is short.")
    spot_policy: Optional[str] = Field(None, description="Spot placement policy, e.g. SpotHedge.")
    spot_zones: Optional[list[str]] = Field(None, description="Zones spot replicas may use.")
    init_replicas: Optional[StrictInt] = Field(None, ge=0, description="Replicas launched at start.")
    num_overprovision: Optional[StrictInt] = Field(None, ge=0, description="Extra replicas kept for spot preemptions.")

    @model_validator(mode="after")
    def _bounds(self) -> "ReplicaPolicy":
        if self.max_replicas is not None and self.max_replicas < self.min_replicas:
            raise ValueError(f"max_replicas ({self.max_replicas}) is below min_replicas ({self.min_replicas})")
        return self


class Tls(Model):
    keyfile: str = Field(..., description="Path to the TLS private key.")
    certfile: str = Field(..., description="Path to the TLS certificate.")


class Service(Model):
    readiness_probe: Union[str, ReadinessProbe] = Field(..., description="A path, or a probe mapping.")
    replicas: Optional[StrictInt] = Field(None, ge=0, description="A fixed number of replicas.")
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
        return self
