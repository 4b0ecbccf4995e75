"""The CI examples are valid workflows that call stix the documented way."""

from pathlib import Path

import yaml

CI = Path(__file__).resolve().parents[2] / "examples" / "ci"


def load(name: str) -> dict:
    return yaml.safe_load((CI / name).read_text())


def steps(workflow: dict) -> str:
    return "\n".join(str(step.get("run", "")) for job in workflow["jobs"].values() for step in job["steps"])


def test_preview_workflow_comments_on_pull_requests():
    workflow = load("stix-preview.yml")
    assert "pull_request" in workflow[True]  # YAML reads the `on` key as True
    assert "stix preview" in steps(workflow) and "--format markdown" in steps(workflow)
    script = workflow["jobs"]["preview"]["steps"][-1]["with"]["script"]
    assert "updateComment" in script and "createComment" in script and "<!-- stix-preview -->" in script


def test_drift_workflow_runs_on_a_schedule_and_fails_on_drift():
    workflow = load("stix-drift.yml")
    assert workflow[True]["schedule"][0]["cron"]
    body = steps(workflow)
    assert "stix drift --all" in body and "exit $code" in body
