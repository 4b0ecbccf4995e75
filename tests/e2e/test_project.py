"""A stix project end to end: init, the pin `stix up` commits to stacks/, and plain `pulumi` on the same stacks."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest
import yaml

pytestmark = pytest.mark.e2e

TASK = """
name: proj
num_nodes: {nodes}
resources:
  infra: local
run: echo "rank $SKYPILOT_NODE_RANK ran"
"""


def plain_pulumi_env(stix) -> dict[str, str]:
    result = stix("env")
    assert result.returncode == 0, result.stderr
    env = stix.env()
    for line in result.stdout.splitlines():
        assert line.startswith("export ")
        key, value = line[len("export "):].split("=", 1)
        env[key] = shlex.split(value)[0]
    return env


def pulumi_preview(stix, project_dir, env, cluster: str) -> dict:
    result = subprocess.run([env_path(env, "pulumi"), "preview", "-s", cluster, "--json"], cwd=project_dir, env=env,
                            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def env_path(env: dict[str, str], program: str) -> str:
    import shutil

    found = shutil.which(program, path=env["PATH"])
    assert found, f"{program} not on the PATH stix env gives"
    return found


def changes_of(pulumi_json: dict) -> set[tuple[str, str]]:
    return {(step["op"], step["urn"].rsplit("::", 1)[-1]) for step in pulumi_json.get("steps", [])
            if step["op"] != "same"}


def test_project_pins_placement_and_plain_pulumi_plans_what_stix_plans(stix, stix_home, tmp_path, engine):
    created = stix("init", "infra")
    assert created.returncode == 0, created.stderr
    project = tmp_path / "infra"
    assert (project / "Pulumi.yaml").exists() and (project / "stacks").is_dir()
    (project / "jobs").mkdir()
    task = project / "jobs" / "proj.yaml"
    task.write_text(TASK.format(nodes=2))

    up = stix("up", "-y", "jobs/proj.yaml", cwd=project)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "Pinned the placement in stacks/Pulumi.proj.yaml" in up.stdout
    stack_file = project / "stacks" / "Pulumi.proj.yaml"
    pinned = yaml.safe_load(stack_file.read_text())
    assert pinned["encryptionsalt"].startswith("v1:"), "Pulumi's own stack file, secrets salt and all"
    assert pinned["config"]["stix:task"] == "jobs/proj.yaml"
    placement = pinned["config"]["stix:placement"]
    assert (placement["cloud"], placement["region"], placement["instanceType"]) == ("local", "local", "local")
    assert (placement["numNodes"], placement["hourlyCost"]) == (2, 0.0)
    assert not (stix_home / "workspaces" / "proj").exists(), "in a project, stack config lives in the project"
    assert stix("up", "-y", "jobs/proj.yaml", cwd=project).stdout.count("Pinned") == 0, "an unchanged pin is not rewritten"

    env = plain_pulumi_env(stix)
    assert (stix_home / "passphrase").read_text().strip() not in stix("env").stdout, "stix env never prints a secret"
    unchanged = pulumi_preview(stix, project, env, "proj")
    assert changes_of(unchanged) == set() and unchanged["changeSummary"]["same"] == 4

    task.write_text(TASK.format(nodes=3))
    before = stack_file.read_text()
    ours = stix("preview", "jobs/proj.yaml", "--format", "json", cwd=project)
    assert ours.returncode == 0, ours.stderr
    planned = json.loads(ours.stdout)
    assert {(r["op"], r["name"]) for r in planned["resources"]} == {("create", "vms-node-2")}
    assert stack_file.read_text() == before, "previews change no file"
    # Plain pulumi deploys the stored spec, never the task file: the task's edit is not in the stack file yet...
    assert changes_of(pulumi_preview(stix, project, env, "proj")) == set()
    # ...and once the stack file says 3 nodes (what `stix up` writes, and what a reviewed change carries),
    # plain pulumi plans exactly what stix planned.
    edited = yaml.safe_load(before)
    edited["config"]["stix:spec"]["num_nodes"] = 3
    stack_file.write_text(yaml.safe_dump(edited, sort_keys=False))
    assert changes_of(pulumi_preview(stix, project, env, "proj")) == {("create", "vms-node-2")}
    stack_file.write_text(before)

    task.write_text(TASK.format(nodes=2))
    assert stix("stop", "-y", "proj", cwd=project).returncode == 0
    assert yaml.safe_load(stack_file.read_text())["config"]["stix:stopped"] is True
    assert changes_of(pulumi_preview(stix, project, env, "proj")) == set(), "plain pulumi keeps a stopped cluster stopped"

    gone = stix("destroy", "-y", "proj")  # from outside the project: the index remembers where its stack lives
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert not stack_file.exists()


def test_preview_of_a_new_cluster_in_a_project_leaves_no_stack(stix, tmp_path, engine):
    assert stix("init", "infra").returncode == 0
    project = tmp_path / "infra"
    (project / "t.yaml").write_text(TASK.format(nodes=1))
    planned = stix("preview", "t.yaml", "--format", "json", cwd=project)
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["summary"]["create"] == 2
    assert list((project / "stacks").iterdir()) == []
    assert stix("drift", "proj").returncode == 1, "no stack was left behind"


def test_outside_a_project_stix_keeps_stacks_in_its_home(stix, stix_home, tmp_path, engine):
    (tmp_path / "t.yaml").write_text(TASK.format(nodes=1))
    assert stix("up", "-y", "t.yaml").returncode == 0
    assert [p for p in tmp_path.glob("**/Pulumi.*.yaml") if stix_home not in p.parents] == []
    assert (stix_home / "workspaces" / "proj" / "Pulumi.proj.yaml").exists()
    assert stix("destroy", "-y", "proj").returncode == 0
