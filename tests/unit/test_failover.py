"""Failover at launch: the order candidates are tried in, capacity errors told apart, and how the order reads."""

from __future__ import annotations

import pytest

from stix.catalog.load import load_catalog
from stix.catalog.offers import Candidate
from stix.engine.calls import capacity_refusal, engine_call
from stix.errors import CapacityError, ProvisionError, UsageError
from stix.failover import _initial_backoff, failover_order, labels, order_line
from stix.models.resources import Resources
from stix.optimizer import HostLimits, Placement, optimize
from stix.stages import Relaunch

CATALOG = load_catalog()
HOST = HostLimits(vcpus=2, memory_gib=24)
ALL = ("aws", "gcp", "azure", "local")


def cand(cloud: str, region: str, zone: str, price: float = 1.0, group: int = 0, instance: str = "m") -> Candidate:
    return Candidate(cloud, region, zone, instance, "", 0.0, 4.0, 16.0, False, price, 1, group)


def where(order: list[Candidate]) -> list[str]:
    return [f"{c.cloud}/{c.region}/{c.zone}" for c in order]


def placed(*ranked: Candidate, chosen: int = 0) -> Placement:
    return Placement(ranked[chosen], list(ranked))


def test_local_catalog_has_two_regions_and_five_zones_and_ranks_local_a_first():
    placement = optimize(Resources.model_validate({"infra": "local"}), 2, CATALOG, ALL, host=HOST)
    assert where(failover_order(placement)) == [
        "local/local/local-a", "local/local/local-b", "local/local/local-c",
        "local/local-west/local-west-a", "local/local-west/local-west-b"]


@pytest.mark.parametrize("infra, expected", [
    ("local/local-west", ["local/local-west/local-west-a", "local/local-west/local-west-b"]),
    ("local/local-west/local-west-b", ["local/local-west/local-west-b"]),
    ("local/*/local-c", ["local/local/local-c"]),
])
def test_infra_places_in_a_local_region_or_zone(infra, expected):
    placement = optimize(Resources.model_validate({"infra": infra}), 1, CATALOG, ALL, host=HOST)
    assert where(failover_order(placement)) == expected


def test_after_a_refusal_other_zones_of_the_region_come_before_other_regions_and_clouds():
    # Ranked by price, regions and clouds interleave; failover still stays near the place that refused.
    ranked = [cand("aws", "us-east-1", "us-east-1a", 1.0), cand("gcp", "us-central1", "us-central1-a", 1.1),
              cand("aws", "us-west-2", "us-west-2a", 1.2), cand("aws", "us-east-1", "us-east-1b", 1.3),
              cand("gcp", "us-central1", "us-central1-b", 1.4), cand("aws", "us-east-1", "us-east-1c", 1.5)]
    assert where(failover_order(placed(*ranked))) == [
        "aws/us-east-1/us-east-1a", "aws/us-east-1/us-east-1b", "aws/us-east-1/us-east-1c",
        "aws/us-west-2/us-west-2a", "gcp/us-central1/us-central1-a", "gcp/us-central1/us-central1-b"]


def test_a_pinned_choice_starts_the_order_and_its_neighbours_follow():
    ranked = [cand("aws", "us-east-1", "us-east-1a", 1.0), cand("aws", "us-west-2", "us-west-2a", 1.1),
              cand("aws", "us-west-2", "us-west-2b", 1.2)]
    assert where(failover_order(placed(*ranked, chosen=1))) == [
        "aws/us-west-2/us-west-2a", "aws/us-west-2/us-west-2b", "aws/us-east-1/us-east-1a"]


def test_an_ordered_group_is_exhausted_before_the_next_even_in_the_same_zone():
    ranked = [cand("aws", "us-east-1", "us-east-1a", 3.0, group=0, instance="p5"),
              cand("gcp", "us-central1", "us-central1-a", 3.1, group=0, instance="a3"),
              cand("aws", "us-east-1", "us-east-1a", 0.5, group=1, instance="g5"),
              cand("aws", "us-east-1", "us-east-1b", 0.6, group=1, instance="g5")]
    order = failover_order(placed(*ranked))
    assert [(c.instance_type, c.zone) for c in order] == [
        ("p5", "us-east-1a"), ("a3", "us-central1-a"), ("g5", "us-east-1a"), ("g5", "us-east-1b")]
    assert labels(order)[0] == "aws/us-east-1a p5", "places repeat, so instance types are named"


def test_the_optimizer_numbers_ordered_groups_and_any_of_members_compete_in_one():
    ordered = optimize(Resources.model_validate({"ordered": [{"infra": "local/local-west"}, {"infra": "local/local"}]}),
                       1, CATALOG, ALL, host=HOST)
    assert [(c.zone, c.group) for c in failover_order(ordered)] == [
        ("local-west-a", 0), ("local-west-b", 0), ("local-a", 1), ("local-b", 1), ("local-c", 1)]
    any_of = optimize(Resources.model_validate({"any_of": [{"infra": "local/local-west"}, {"infra": "local/local"}]}),
                      1, CATALOG, ALL, host=HOST)
    assert {c.group for c in any_of.candidates} == {0}
    assert where(failover_order(any_of))[0] == "local/local/local-a", "any_of members compete: the best rank wins"


def local_placement() -> Placement:
    return optimize(Resources.model_validate({"infra": "local"}), 1, CATALOG, ALL, host=HOST)


def test_eager_next_region_tries_other_regions_first_then_the_one_the_job_ran_in():
    order = failover_order(local_placement(), Relaunch("local", "local", "local-a", "EAGER_NEXT_REGION"))
    assert [c.zone for c in order] == ["local-west-a", "local-west-b", "local-a", "local-b", "local-c"]


def test_failover_strategy_tries_the_same_zone_then_its_region_then_the_rest():
    order = failover_order(local_placement(), Relaunch("local", "local", "local-b", "FAILOVER"))
    assert [c.zone for c in order] == ["local-b", "local-a", "local-c", "local-west-a", "local-west-b"]


# Real error text, as each cloud's provider reports it through the engine.
CAPACITY_ERRORS = {
    "aws": [
        "error: creating EC2 Instance: InsufficientInstanceCapacity: We currently do not have sufficient "
        "p4d.24xlarge capacity in the Availability Zone you requested (us-east-1a).",
        "error: InstanceLimitExceeded: You have requested more instances (21) than your current instance limit of 20 "
        "allows for the specified instance type.",
        "error: VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU limit of 32 allows",
        "error: MaxSpotInstanceCountExceeded: Max spot instance count exceeded",
        "error: SpotMaxPriceTooLow: Your Spot request price of 0.1 is lower than the minimum required Spot request "
        "fulfillment price of 0.2.",
        "error: creating EC2 Instance: Unsupported: Your requested instance type (p4d.24xlarge) is not supported in "
        "your requested Availability Zone (us-east-1e).",
    ],
    "gcp": [
        "error: googleapi: Error 400: The zone 'projects/p/zones/us-central1-a' does not have enough resources "
        "available to fulfill the request. '(resource type:compute)'., ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
        "error: Error creating instance: ZONE_RESOURCE_POOL_EXHAUSTED",
        "error: googleapi: Error 403: Quota 'NVIDIA_A100_GPUS' exceeded.  Limit: 0.0 in region us-central1., "
        "quotaExceeded",
        "error: Error waiting for instance to create: QUOTA_EXCEEDED",
        "error: Instance creation failed: stockout in zone us-central1-b",
    ],
    "azure": [
        "error: Code=\"SkuNotAvailable\" Message=\"The requested size for resource is currently not available in "
        "location 'eastus' zones '1'\"",
        "error: Code=\"AllocationFailed\" Message=\"Allocation failed. We do not have sufficient capacity\"",
        "error: Code=\"ZonalAllocationFailed\" Message=\"Allocation failed.\"",
        "error: Code=\"OverconstrainedAllocationRequest\" Message=\"Allocation failed.\"",
        "error: Code=\"QuotaExceeded\" Message=\"Operation could not be completed as it results in exceeding "
        "approved standardNCADSA100v4Family Cores quota.\"",
    ],
    "kubernetes": [
        "error: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available",
        "error: pod stix-head: Unschedulable: 0/2 nodes are available",
    ],
    "local": ["error: Exception calling application: InsufficientCapacity: zone local-a has no capacity "
              "(STIX_LOCAL_FAULTS)"],
}
OTHER_ERRORS = [
    "error: UnauthorizedOperation: You are not authorized to perform this operation.",
    "error: InvalidParameterValue: Invalid availability zone: [us-east-1z]",
    "error: googleapi: Error 403: Required 'compute.instances.create' permission, forbidden",
    "error: Code=\"InvalidTemplateDeployment\" Message=\"The template deployment is not valid\"",
    "error: Exception calling application: sshd exited: Cannot bind any address",
]


@pytest.mark.parametrize("cloud, text", [(cloud, text) for cloud, texts in CAPACITY_ERRORS.items() for text in texts])
def test_each_clouds_capacity_and_quota_errors_are_told_apart(cloud, text):
    from stix.components.base import cloud_for

    found = capacity_refusal(["  ", text], cloud_for(cloud).capacity_errors)
    assert found and not found.startswith("error:"), "the cloud's words, from the marker on"


@pytest.mark.parametrize("text", OTHER_ERRORS)
@pytest.mark.parametrize("cloud", sorted(CAPACITY_ERRORS))
def test_other_errors_are_not_capacity(cloud, text):
    from stix.components.base import cloud_for

    assert capacity_refusal([text], cloud_for(cloud).capacity_errors) is None


def test_engine_call_raises_capacity_error_only_for_the_placed_clouds_markers():
    from pulumi import automation as auto
    from pulumi.automation._cmd import CommandResult

    from stix.components.base import cloud_for

    def failing():
        raise auto.CommandError(CommandResult(stdout="Updating (c):\n", code=255,
                                              stderr=f"{CAPACITY_ERRORS['gcp'][1]}\nerror: update failed\n"))

    with pytest.raises(CapacityError, match=r"^ZONE_RESOURCE_POOL_EXHAUSTED$"):
        engine_call(failing, "applying", "c", cloud_for("gcp").capacity_errors)
    with pytest.raises(ProvisionError) as raised:
        engine_call(failing, "applying", "c", cloud_for("aws").capacity_errors)
    assert type(raised.value) is ProvisionError


def test_order_line_names_the_next_five_and_how_many_more():
    ranked = [cand("aws", "us-east-1", f"us-east-1{z}", 1 + i / 10) for i, z in enumerate("abcdefgh")]
    line = order_line(failover_order(placed(*ranked)))
    assert line == ("If capacity is refused, failover tries: aws/us-east-1b, aws/us-east-1c, aws/us-east-1d, "
                    "aws/us-east-1e, aws/us-east-1f (+2 more)")
    assert order_line([ranked[0]]) is None


def test_preview_report_lists_the_failover_order_in_json_and_markdown():
    from stix.engine.changes import ChangeSet
    from stix.report import PreviewReport

    order = failover_order(local_placement())
    report = PreviewReport("c", ChangeSet(), None, 0.0, failover=order[1:])
    assert [(f["region"], f["zone"]) for f in report.to_dict()["failover"]] == [
        ("local", "local-b"), ("local", "local-c"), ("local-west", "local-west-a"), ("local-west", "local-west-b")]
    assert ("Failover order if capacity is refused: `local/local-b`, `local/local-c`, `local/local-west-a`, "
            "`local/local-west-b`") in report.to_markdown()
    assert "Failover" not in PreviewReport("c", ChangeSet()).to_markdown()


@pytest.mark.parametrize("value, expected", [(None, 30.0), ("0.5", 0.5), ("9999", 600.0)])
def test_retry_backoff_starts_from_the_environment_capped_at_ten_minutes(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("STIX_RETRY_BACKOFF", raising=False)
    else:
        monkeypatch.setenv("STIX_RETRY_BACKOFF", value)
    assert _initial_backoff() == expected


@pytest.mark.parametrize("value", ["soon", "0", "-1"])
def test_a_bad_retry_backoff_is_a_one_line_usage_error(monkeypatch, value):
    monkeypatch.setenv("STIX_RETRY_BACKOFF", value)
    with pytest.raises(UsageError, match="STIX_RETRY_BACKOFF"):
        _initial_backoff()


class Recorder:
    """A session whose notes are kept, and an apply that refuses the places listed (what the loop sees)."""

    def __init__(self, refusing: set[str]) -> None:
        self.notes: list[str] = []
        self.refusing = refusing
        self.applied: list[str] = []
        self.torn_down = 0

    def note(self, text: str, level: str = "info") -> None:
        self.notes.append(text)

    def apply(self, stack, spec, pin):
        self.applied.append(spec)
        if spec in self.refusing:
            raise CapacityError(f"InsufficientCapacity: zone {spec} has no capacity")
        return {"landed": spec}


def loop(monkeypatch, recorder: Recorder, order: list[Candidate], retry: bool = False, unusable=()):
    import stix.failover as failover
    from types import SimpleNamespace

    def stack_at(session, target, candidate, pin=None):
        if candidate.zone in unusable:
            raise UsageError(f"not supported yet: on {candidate.cloud}")
        return ("stack", candidate.zone, pin)

    sleeps: list[float] = []
    monkeypatch.setattr(failover, "stack_at", stack_at)
    monkeypatch.setattr(failover, "_tear_down", lambda session, stack, cluster: setattr(
        recorder, "torn_down", recorder.torn_down + 1))
    monkeypatch.setattr(failover, "forget", lambda *a: recorder.notes.append("forgotten"))
    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            recorder.refusing.clear()  # capacity comes back during the second wait

    monkeypatch.setattr(failover.time, "sleep", sleep)
    target = SimpleNamespace(cluster="c", stack_file=None, request=SimpleNamespace(retry_until_up=retry))
    landed = failover.apply_in_order(recorder, target, order, ("stack", order[0].zone, None), recorder.apply)
    return landed, sleeps


def zones(*names: str) -> list[Candidate]:
    return [cand("aws", "us-east-1", name, 1 + i / 10) for i, name in enumerate(names)]


def test_the_loop_skips_a_candidate_that_cannot_run_there_and_lands_on_the_next(monkeypatch):
    recorder = Recorder({"a"})
    landed, _ = loop(monkeypatch, recorder, zones("a", "b", "c"), unusable={"b"})
    assert landed.outputs == {"landed": "c"} and recorder.applied == ["a", "c"] and recorder.torn_down == 1
    assert recorder.notes == ["aws/a refused capacity (InsufficientCapacity: zone a has no capacity); tearing down "
                              "what was made, trying aws/b (2 of 3)",
                              "Skipping aws/b: not supported yet: on aws"]


def test_all_refused_forgets_the_new_cluster_and_names_every_place(monkeypatch):
    from stix.errors import NoCapacity

    recorder = Recorder({"a", "b"})
    with pytest.raises(NoCapacity) as raised:
        loop(monkeypatch, recorder, zones("a", "b"))
    assert str(raised.value) == ("no capacity for cluster c: tried aws/a (InsufficientCapacity: zone a has no "
                                 "capacity); aws/b (InsufficientCapacity: zone b has no capacity); nothing was left "
                                 "behind")
    assert recorder.notes[-1] == "forgotten" and recorder.torn_down == 2


def test_retry_until_up_rounds_again_after_a_doubling_backoff(monkeypatch):
    monkeypatch.setenv("STIX_RETRY_BACKOFF", "2")
    recorder = Recorder({"a", "b"})
    landed, sleeps = loop(monkeypatch, recorder, zones("a", "b"), retry=True)
    assert sleeps == [2.0, 4.0] and landed.outputs == {"landed": "a"}
    assert recorder.applied == ["a", "b", "a", "b", "a"]
    rounds = [note for note in recorder.notes if note.startswith("Round")]
    assert rounds == ["Round 1: every candidate refused capacity (2 tried); retrying in 2s (--retry-until-up)",
                      "Round 2: every candidate refused capacity (2 tried); retrying in 4s (--retry-until-up)"]
    assert "forgotten" not in recorder.notes
