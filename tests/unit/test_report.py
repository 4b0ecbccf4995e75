"""Preview and drift reports: structure, and markdown that always keeps its summary."""

import json

from stix.drift import DriftedResource, DriftReport
from stix.engine.changes import ChangeSet, ResourceChange
from stix.report import PreviewReport, drift_json, drift_markdown


def preview(n: int) -> PreviewReport:
    changes = ChangeSet([ResourceChange("create", "stix:aws:Node", f"vms-node-{i}", ("instanceType",)) for i in range(n)]
                        + [ResourceChange("replace", "stix:aws:Node", "vms-x", ("ami",)),
                           ResourceChange("same", "stix:aws:Network", "net")])
    return PreviewReport("train", changes, 1.5, 32.75)


def test_json_counts_replacements_apart_from_updates():
    data = preview(2).to_dict()
    assert data["summary"] == {"create": 2, "update": 0, "replace": 1, "delete": 0, "same": 1}
    assert data["cost_per_hour"] == {"before": 1.5, "after": 32.75}
    assert [r["name"] for r in data["resources"]] == ["vms-node-0", "vms-node-1", "vms-x"]
    assert data["resources"][2]["changed"] == ["ami"]


def test_markdown_is_cut_but_keeps_the_summary():
    text = preview(5000).to_markdown()
    assert len(text) <= 65_000
    assert "| 5000 | 0 | 1 | 0 | 1 |" in text and "$1.50 → $32.75 per hour" in text
    assert "more row(s) cut to fit a comment" in text
    small = preview(3).to_markdown()
    assert "cut" not in small and "`vms-node-2`" in small


def test_drift_outputs():
    clean = DriftReport("a")
    dirty = DriftReport("b", [DriftedResource("vms-node-1", "stix:local:Node", "update", (("state", "running", "stopped"),)),
                              DriftedResource("vms-node-0", "stix:local:Node", "delete")])
    data = json.loads(drift_json([clean, dirty]))
    assert data["drifted"] is True and [c["drifted"] for c in data["clusters"]] == [False, True]
    assert data["clusters"][1]["resources"][0]["properties"] == [{"name": "state", "recorded": "running", "real": "stopped"}]
    markdown = drift_markdown([clean, dirty])
    assert markdown.startswith("### stix drift: 1 of 2 cluster(s) drifted")
    assert "| `b` | `vms-node-0` | gone |" in markdown


def guarded(n: int = 2) -> PreviewReport:
    from stix.policy.violations import Violation

    report = preview(n)
    report.changes.violations = [
        Violation("team", "spot-only", "advisory", "vms", "stix:aws:VmGroup", "use spot | it is cheaper"),
        Violation("stix-guardrails", "max-hourly-cost-per-cluster", "mandatory", "stix-train", "pulumi:pulumi:Stack",
                  "cluster train costs $32.75/hr; the budget per cluster is $10.00/hr")]
    report.admin_changes = ["resources.use_spot: False -> True", "idle_minutes_to_autostop: None -> 30"]
    return report


def test_json_carries_violations_and_admin_changes_beside_the_changes():
    data = json.loads(json.dumps(guarded().to_dict()))
    assert data["blocked"] is True
    assert data["violations"][1] == {"pack": "stix-guardrails", "policy": "max-hourly-cost-per-cluster",
                                     "level": "mandatory", "resource": "stix-train", "type": "pulumi:pulumi:Stack",
                                     "message": "cluster train costs $32.75/hr; the budget per cluster is $10.00/hr"}
    assert [v["level"] for v in data["violations"]] == ["advisory", "mandatory"]
    assert data["admin_changes"] == ["resources.use_spot: False -> True", "idle_minutes_to_autostop: None -> 30"]
    assert data["summary"]["create"] == 2, "the changes are still there"
    clean = preview(1).to_dict()
    assert (clean["blocked"], clean["violations"], clean["admin_changes"]) == (False, [], [])


def test_markdown_lists_violations_and_admin_changes_before_the_resources():
    text = guarded().to_markdown()
    assert "**Policy: 1 mandatory, 1 advisory violation(s)**: `stix up` refuses this plan" in text
    assert "#### Policy violations" in text and "#### Admin policy changed" in text
    mandatory_row = ("| **mandatory** | `stix-guardrails/max-hourly-cost-per-cluster` | `pulumi:pulumi:Stack` "
                     "`stix-train` | cluster train costs $32.75/hr; the budget per cluster is $10.00/hr |")
    assert mandatory_row in text
    assert "| advisory | `team/spot-only` | `stix:aws:VmGroup` `vms` | use spot \\| it is cheaper |" in text, \
        "a pipe in a message does not break the row"
    assert text.index(mandatory_row) < text.index("| advisory |"), "mandatory first"
    assert "- `resources.use_spot: False -> True`" in text
    assert text.index("#### Policy violations") < text.index("| op | type | name | changed |")
    assert "Policy" not in preview(2).to_markdown(), "no policy section when the packs were silent"


def test_markdown_keeps_the_violations_when_the_resources_are_cut():
    text = guarded(5000).to_markdown()
    assert len(text) <= 65_000
    assert "max-hourly-cost-per-cluster" in text and "resources.use_spot: False -> True" in text
    assert "more row(s) cut to fit a comment" in text


def test_policy_check_markdown():
    from stix.errors import ClusterNotFound
    from stix.policy.check import PolicyCheck
    from stix.report import policy_check_markdown

    report = guarded()
    text = policy_check_markdown([PolicyCheck("train", tuple(report.violations), tuple(report.admin_changes)),
                                  PolicyCheck("ok"), PolicyCheck("gone", error=ClusterNotFound("cluster 'gone' has no stack"))])
    assert text.startswith("### stix policy check: 3 cluster(s), 1 mandatory violation(s)")
    assert "#### `ok`\n\nNo policy violations." in text
    assert "_not checked: cluster 'gone' has no stack_" in text
    assert "`stix-guardrails/max-hourly-cost-per-cluster`" in text and "- `resources.use_spot: False -> True`" in text
