"""Update planning: rolling never goes below the READY count it started with; blue-green switches only when the
new set is READY; a steady service launches to its target and retires beyond it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from stix.serve.store import BLUE_GREEN, READY, ROLLING, STARTING
from stix.serve.updates import Plan, plan


@dataclass(frozen=True)
class R:
    replica_id: int
    version: int
    status: str


def test_steady_launches_to_target_and_serves_the_ready():
    assert plan([R(1, 1, READY), R(2, 1, STARTING)], 1, ROLLING, 3) == Plan(launch=1, retire=(), serving=(1,))


def test_steady_scale_in_retires_newest_not_ready_first():
    replicas = [R(1, 1, READY), R(2, 1, READY), R(3, 1, STARTING), R(4, 1, READY)]
    assert plan(replicas, 1, ROLLING, 2) == Plan(launch=0, retire=(3, 4), serving=(1, 2))


def simulate(mode: str, start: int, target: int) -> tuple[list[int], list[tuple[int, ...]]]:
    """Carry plans out, one replica becoming READY per round; the READY counts and what served, per round."""
    replicas = [R(i, 1, READY) for i in range(1, start + 1)]
    next_id = start + 1
    ready_counts, served = [], []
    for _ in range(20):
        step = plan(replicas, 2, mode, target)
        served.append(step.serving)
        replicas = [r for r in replicas if r.replica_id not in step.retire]
        for _ in range(step.launch):
            replicas.append(R(next_id, 2, STARTING))
            next_id += 1
        ready_counts.append(sum(1 for r in replicas if r.status == READY))
        starting = [r for r in replicas if r.status == STARTING]
        if starting:
            replicas = [replace(r, status=READY) if r == starting[0] else r for r in replicas]
        elif all(r.version == 2 for r in replicas) and len(replicas) == target:
            break
    assert sorted((r.version, r.status) for r in replicas) == [(2, READY)] * target
    return ready_counts, served


def test_rolling_never_goes_below_the_ready_count_it_started_with():
    counts, served = simulate(ROLLING, start=3, target=3)
    assert min(counts) >= 3
    assert all(len(s) >= 3 for s in served)


def test_rolling_surges_one_at_a_time():
    step = plan([R(1, 1, READY), R(2, 1, READY)], 2, ROLLING, 2)
    assert step == Plan(launch=1, retire=(), serving=(1, 2))
    step = plan([R(1, 1, READY), R(2, 1, READY), R(3, 2, STARTING)], 2, ROLLING, 2)
    assert step == Plan(launch=0, retire=(), serving=(1, 2))
    step = plan([R(1, 1, READY), R(2, 1, READY), R(3, 2, READY)], 2, ROLLING, 2)
    assert step == Plan(launch=1, retire=(1,), serving=(2, 3))


def test_rolling_with_nothing_ready_launches_the_whole_new_set():
    step = plan([R(1, 1, STARTING)], 2, ROLLING, 2)
    assert step == Plan(launch=2, retire=(1,), serving=())


def test_blue_green_keeps_the_old_set_until_every_new_one_is_ready():
    old = [R(1, 1, READY), R(2, 1, READY)]
    assert plan(old, 2, BLUE_GREEN, 2) == Plan(launch=2, retire=(), serving=(1, 2))
    assert plan(old + [R(3, 2, READY), R(4, 2, STARTING)], 2, BLUE_GREEN, 2) == Plan(launch=0, retire=(), serving=(1, 2))
    assert plan(old + [R(3, 2, READY), R(4, 2, READY)], 2, BLUE_GREEN, 2) == Plan(launch=0, retire=(1, 2), serving=(3, 4))


def test_blue_green_never_serves_a_mix():
    counts, served = simulate(BLUE_GREEN, start=2, target=2)
    assert min(counts) >= 2
    assert served[0] == (1, 2)
    assert all(s in ((1, 2), (3, 4)) for s in served)
