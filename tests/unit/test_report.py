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
