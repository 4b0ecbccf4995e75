"""How many replicas a service wants: SkyServe's request-rate autoscaler, as pure functions of what was measured.

SkyPilot's rules (sky/serve/autoscalers.py, RequestRateAutoscaler): QPS is the requests seen over the last
QPS_WINDOW_S; the wanted count is ceil(qps / target_qps_per_replica) clamped to [min, max]; the service
moves up to it only once it has wanted more for upscale_delay_s without a break, and down only once it has
wanted fewer for downscale_delay_s (SkyPilot counts decision intervals; here the same delays in seconds). A
wanted count equal to the current one resets both. num_overprovision replicas run beyond that target
(final_target); init_replicas, where given, is the target at start. With spot replicas (FallbackRequestRateAutoscaler),
base_ondemand_fallback_replicas of them always run on demand, and dynamic_ondemand_fallback adds an
on-demand one for each spot replica that is not ready.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Optional, Sequence

from stix.serve.spec import QPS_WINDOW_S, ScalePolicy

Sample = tuple[float, int]
"""(time, the balancer's requests_total at that time)."""


def qps(samples: Sequence[Sample], now: float, window_s: float = QPS_WINDOW_S) -> float:
    """Requests per second over about the window ending at `now` (from the last sample at or before its start),
    over a shorter span while no sample reaches back that far (a young service). A counter that went down
    (the balancer restarted) counts again from 0."""
    used = trim(list(samples), now, window_s)
    if len(used) < 2 or used[-1][0] <= used[0][0]:
        return 0.0
    served = 0
    for (_, before), (_, after) in zip(used, used[1:]):
        served += after - before if after >= before else after
    return served / (used[-1][0] - used[0][0])


def trim(samples: list[Sample], now: float, window_s: float = QPS_WINDOW_S) -> list[Sample]:
    """The samples still needed: the window's, and the last one before it."""
    keep = [sample for sample in samples if sample[0] > now - window_s]
    older = [sample for sample in samples if sample[0] <= now - window_s]
    return older[-1:] + keep


def wanted(policy: ScalePolicy, rate: float) -> int:
    """The replica count this request rate calls for, within [min, max]."""
    if not policy.autoscales or policy.target_qps_per_replica is None:
        return policy.min_replicas
    count = math.ceil(rate / policy.target_qps_per_replica) if rate > 0 else 0
    return max(policy.min_replicas, min(policy.max_replicas, count))


@dataclass(frozen=True)
class ScaleState:
    target: int
    """The replica count the service runs toward now."""
    above_since: Optional[float] = None
    """Since when the wanted count has stayed above target (None: it is not above)."""
    below_since: Optional[float] = None


def initial(policy: ScalePolicy) -> ScaleState:
    return ScaleState(target=policy.min_replicas if policy.init_replicas is None else policy.init_replicas)


def final_target(policy: ScalePolicy, state: ScaleState) -> int:
    """The replicas to run: the autoscaler's target and num_overprovision more (SkyPilot launches those beyond
    max_replicas too)."""
    return state.target + policy.num_overprovision


def step(policy: ScalePolicy, state: ScaleState, rate: float, now: float) -> ScaleState:
    """The state after measuring `rate` at `now`."""
    want = wanted(policy, rate)
    target = max(policy.min_replicas, min(policy.max_replicas, state.target))
    if want > target:
        since = state.above_since if state.above_since is not None else now
        if now - since >= policy.upscale_delay_s:
            return ScaleState(target=want)
        return ScaleState(target=target, above_since=since)
    if want < target:
        since = state.below_since if state.below_since is not None else now
        if now - since >= policy.downscale_delay_s:
            return ScaleState(target=want)
        return ScaleState(target=target, below_since=since)
    return replace(state, target=target, above_since=None, below_since=None)


@dataclass(frozen=True)
class Mix:
    spot: int
    on_demand: int


def mix(policy: ScalePolicy, target: int, use_spot: bool, spot_not_ready: int = 0) -> Mix:
    """How many of `target` replicas run on spot and how many on demand (spot_not_ready: spot replicas
    launched but not READY, which dynamic_ondemand_fallback covers with on-demand ones)."""
    if not use_spot:
        return Mix(spot=0, on_demand=target)
    base = min(policy.base_ondemand_fallback_replicas, target)
    spot = target - base
    extra = min(spot_not_ready, spot) if policy.dynamic_ondemand_fallback else 0
    return Mix(spot=spot, on_demand=base + extra)
