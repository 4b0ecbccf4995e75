"""A project's own policy pack (policies/NAME) end to end: `stix policy packs|check`, `stix preview --format
json|markdown` and plain `pulumi preview --policy-pack` in the project all report its violation."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.e2e.test_project import env_path, plain_pulumi_env

pytestmark = pytest.mark.e2e

TASK = """
name: guarded
resources:
  infra: local
run: echo ok
"""

PACK_YAML = "runtime: python\nname: team-rules\ndescription: the team's own rules\n"
PACK_MAIN = '''
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


def local_clusters_need_approval(args, report_violation):
    if args.resource_type == "stix:local:VmGroup":
        report_violation("local clusters need the team's approval (ticket in the cluster's labels)")


PolicyPack(name="team-rules", enforcement_level=EnforcementLevel.MANDATORY, policies=[
    ResourceValidationPolicy(name="approved-clusters-only", description="Clusters need the team's approval.",
                             validate=local_clusters_need_approval),
])
'''


def test_a_project_pack_is_run_by_stix_and_by_plain_pulumi(stix, stix_home, tmp_path, engine):
    assert stix("init", "infra").returncode == 0
    project = tmp_path / "infra"
    (project / "guarded.yaml").write_text(TASK)
    up = stix("up", "-y", "guarded.yaml", cwd=project)  # before the team's pack exists
    assert up.returncode == 0, up.stdout + up.stderr

    pack = project / "policies" / "team-rules"
    pack.mkdir(parents=True)
    (pack / "PulumiPolicy.yaml").write_text(PACK_YAML)
    (pack / "__main__.py").write_text(PACK_MAIN)
    listed = json.loads(stix("policy", "packs", "--format", "json", cwd=project).stdout)
    assert [(p["name"], p["named_by"]) for p in listed] == [
        ("stix-guardrails", "stix's built-in pack"), ("team-rules", "the project's policies/team-rules")]

    existing = stix("policy", "check", cwd=project)  # every cluster, re-previewed from its saved plan
    assert existing.returncode == 4, existing.stdout + existing.stderr
    assert "team-rules/approved-clusters-only" in existing.stdout and "stix:local:VmGroup vms" in existing.stdout
    assert "guarded: Policy: 1 mandatory, 0 advisory violation(s)" in existing.stdout
    planned = stix("policy", "check", "guarded.yaml", "--format", "json", cwd=project)
    assert planned.returncode == 4, planned.stderr
    (violation,) = json.loads(planned.stdout)["clusters"][0]["violations"]
    assert (violation["pack"], violation["policy"], violation["level"], violation["resource"]) == (
        "team-rules", "approved-clusters-only", "mandatory", "vms")
    assert violation["message"] == "local clusters need the team's approval (ticket in the cluster's labels)"

    previewed = stix("preview", "guarded.yaml", "--format", "json", cwd=project)
    assert previewed.returncode == 4
    assert [(v["pack"], v["policy"]) for v in json.loads(previewed.stdout)["violations"]] == [
        ("team-rules", "approved-clusters-only")]
    markdown = stix("preview", "guarded.yaml", "--format", "markdown", cwd=project)
    assert markdown.returncode == 4
    assert "#### Policy violations" in markdown.stdout
    assert ("| **mandatory** | `team-rules/approved-clusters-only` | `stix:local:VmGroup` `vms` | local clusters need "
            "the team's approval (ticket in the cluster's labels) |") in markdown.stdout

    env = plain_pulumi_env(stix)
    plain = subprocess.run([env_path(env, "pulumi"), "preview", "-s", "guarded", "--policy-pack", "policies/team-rules"],
                           cwd=project, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    said = plain.stdout + plain.stderr
    assert plain.returncode != 0, said
    assert "approved-clusters-only" in said and "local clusters need the team's approval" in said, said
    assert "mandatory" in said, said

    gone = stix("down", "-y", "guarded", cwd=project)
    assert gone.returncode == 0, gone.stdout + gone.stderr
