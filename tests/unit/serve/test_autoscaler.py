"""The request-rate autoscaler: SkyPilot's rules on measured QPS, delays and the spot / on-demand mix."""

from __future__ import annotations

from stix.serve import autoscaler as a
from stix.serve.spec import ScalePolicy

POLICY = ScalePolicy(min_replicas=1, max_replicas=4, target_qps_per_replica=2.0, upscale_delay_s=10.0,
                     downscale_delay_s=20.0)


def test_qps_is_requests_over_the_window():
    samples = [(float(t), 3 * t) for t in range(0, 121)]  # 3 requests a second for two minutes
    assert a.qps(samples, now=120.0, window_s=60.0) == 3.0


def test_qps_of_a_young_service_uses_the_span_it_has():
    assert a.qps([(0.0, 0), (5.0, 10)], now=5.0, window_s=60.0) == 2.0
    assert a.qps([(0.0, 0)], now=0.0) == 0.0


def test_qps_forgets_what_left_the_window():
    samples = [(0.0, 0), (10.0, 1000), (70.0, 1000), (80.0, 1000)]
    assert a.qps(samples, now=80.0, window_s=60.0) == 0.0


def test_a_counter_that_went_down_counts_from_zero():
    assert a.qps([(0.0, 500), (10.0, 20)], now=10.0, window_s=60.0) == 2.0


def test_trim_keeps_the_window_and_the_sample_before_it():
    samples = [(float(t), t) for t in range(100)]
    assert a.trim(samples, now=99.0, window_s=10.0)[0] == (89.0, 89)


def test_wanted_is_ceil_of_qps_over_target_within_min_max():
    assert a.wanted(POLICY, 0.0) == 1
    assert a.wanted(POLICY, 2.1) == 2
    assert a.wanted(POLICY, 7.9) == 4
    assert a.wanted(POLICY, 100.0) == 4
    fixed = ScalePolicy(min_replicas=2, max_replicas=2)
    assert a.wanted(fixed, 100.0) == 2


def test_upscale_waits_for_the_delay_without_a_break():
    state = a.initial(POLICY)
    state = a.step(POLICY, state, 5.0, now=0.0)
    assert state.target == 1 and state.above_since == 0.0
    state = a.step(POLICY, state, 5.0, now=9.9)
    assert state.target == 1
    state = a.step(POLICY, state, 5.0, now=10.0)
    assert state.target == 3 and state.above_since is None


def test_a_break_in_the_load_restarts_the_upscale_delay():
    state = a.step(POLICY, a.initial(POLICY), 5.0, now=0.0)
    state = a.step(POLICY, state, 1.0, now=5.0)  # wants 1 == target: resets
    assert state.above_since is None
    state = a.step(POLICY, state, 5.0, now=6.0)
    state = a.step(POLICY, state, 5.0, now=15.0)
    assert state.target == 1
    assert a.step(POLICY, state, 5.0, now=16.0).target == 3


def test_downscale_waits_for_its_own_delay():
    state = a.ScaleState(target=4)
    state = a.step(POLICY, state, 0.0, now=0.0)
    assert state.target == 4 and state.below_since == 0.0
    assert a.step(POLICY, state, 0.0, now=19.0).target == 4
    assert a.step(POLICY, state, 0.0, now=20.0).target == 1


def test_target_is_clamped_when_the_policy_changes():
    assert a.step(POLICY, a.ScaleState(target=9), 100.0, now=0.0).target == 4


def test_spot_mix():
    spot = ScalePolicy(min_replicas=1, max_replicas=5, target_qps_per_replica=1.0, base_ondemand_fallback_replicas=1)
    assert a.mix(spot, 4, use_spot=False) == a.Mix(spot=0, on_demand=4)
    assert a.mix(spot, 4, use_spot=True) == a.Mix(spot=3, on_demand=1)
    assert a.mix(spot, 4, use_spot=True, spot_not_ready=2) == a.Mix(spot=3, on_demand=1)
    dynamic = ScalePolicy(min_replicas=1, max_replicas=5, target_qps_per_replica=1.0, base_ondemand_fallback_replicas=1,
                          dynamic_ondemand_fallback=True)
    assert a.mix(dynamic, 4, use_spot=True, spot_not_ready=2) == a.Mix(spot=3, on_demand=3)
    assert a.mix(dynamic, 0, use_spot=True) == a.Mix(spot=0, on_demand=0)


def test_num_overprovision_runs_that_many_beyond_the_target():
    policy = ScalePolicy(min_replicas=1, max_replicas=3, target_qps_per_replica=1.0, upscale_delay_s=0.0,
                         num_overprovision=1)
    state = a.initial(policy)
    assert (state.target, a.final_target(policy, state)) == (1, 2)
    state = a.step(policy, state, rate=10.0, now=0.0)  # wants 10, capped at max 3; one more beyond max
    assert (state.target, a.final_target(policy, state)) == (3, 4)
    fixed = ScalePolicy(min_replicas=2, max_replicas=2)
    assert a.final_target(fixed, a.initial(fixed)) == 2


def test_init_replicas_is_the_target_at_start_then_the_delays_apply():
    policy = ScalePolicy(min_replicas=1, max_replicas=3, target_qps_per_replica=1.0, downscale_delay_s=20.0,
                         init_replicas=2)
    state = a.initial(policy)
    assert state.target == 2
    state = a.step(policy, state, rate=0.0, now=0.0)
    assert state.target == 2
    assert a.step(policy, state, rate=0.0, now=20.0).target == 1
