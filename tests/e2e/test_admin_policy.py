"""End to end: an admin policy in a project (stix.admin_policy) rewrites a real launch on the local cloud (the real
engine, real sshd nodes), shown in the preview and armed on the node; a refusing one stops `up` before anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stix.agent.node_agent import AUTOSTOP_FILE, REMOTE_DIR

pytestmark = pytest.mark.e2e

FORCE_AUTOSTOP = '''
from stix.admin_policy import AdminPolicy, MutatedUserRequest


class ForceAutostop(AdminPolicy):
    """Every cluster stops after at most 30 idle minutes; every task's run is told it was checked."""

    @classmethod
    def validate_and_mutate(cls, user_request):
        user_request.task.update_envs({"POLICY": "checked"})
        options = user_request.request_options
        if options is not None and (options.idle_minutes_to_autostop is None or options.idle_minutes_to_autostop > 30):
            options.idle_minutes_to_autostop = 30
        return MutatedUserRequest(user_request.task, user_request.skypilot_config)
'''

REFUSE = '''
from stix.admin_policy import AdminPolicy, UserRequestRejectedByPolicy


class NoLargeClusters(AdminPolicy):
    @classmethod
    def validate_and_mutate(cls, user_request):
        if user_request.task.num_nodes > 1:
            raise UserRequestRejectedByPolicy(f"{user_request.task.num_nodes} nodes; at most 1 without approval")
        return super().validate_and_mutate(user_request)
'''


def project(stix, tmp_path: Path, module: str, source: str, policy: str) -> Path:
    """A stix project whose .stix.yaml names an admin policy living in the project's own module."""
    assert stix("init", "infra").returncode == 0
    root = tmp_path / "infra"
    (root / f"{module}.py").write_text(source)
    (root / ".stix.yaml").write_text(f"admin_policy: {module}.{policy}\n")
    return root


def test_a_policy_forcing_autostop_shows_in_the_preview_and_is_armed_on_the_node(stix, stix_home, tmp_path, engine):
    root = project(stix, tmp_path, "org_guard", FORCE_AUTOSTOP, "ForceAutostop")
    (root / "e2e-adm.yaml").write_text("name: e2e-adm\nresources:\n  infra: local\nrun: echo policy=$POLICY\n")

    preview = stix("preview", "e2e-adm.yaml", cwd=root)
    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert "Admin policy changed envs.POLICY: None -> checked" in preview.stdout
    assert "Admin policy changed idle_minutes_to_autostop: None -> 30" in preview.stdout

    up = stix("up", "-y", "e2e-adm.yaml", cwd=root)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "Admin policy changed idle_minutes_to_autostop: None -> 30" in up.stdout
    assert "policy=checked" in up.stdout
    row = next(line for line in stix("status", cwd=root).stdout.splitlines() if "e2e-adm" in line)
    assert "30m" in row
    (armed,) = stix_home.glob(f"clusters/e2e-adm/nodes/*-head/home/{REMOTE_DIR}/{AUTOSTOP_FILE}")
    setting = json.loads(armed.read_text())
    assert (setting["idle_minutes"], setting["down"]) == (30, False)

    kept = stix("up", "-y", "e2e-adm.yaml", "-i", "10", cwd=root)  # a shorter timer than the policy's is kept
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "Admin policy changed idle_minutes" not in kept.stdout
    assert json.loads(armed.read_text())["idle_minutes"] == 10
    ran = stix("exec", "e2e-adm", "e2e-adm.yaml", cwd=root)  # exec: the policy's task, not the file's
    assert ran.returncode == 0 and "policy=checked" in ran.stdout, ran.stdout + ran.stderr
    assert "Admin policy changed envs.POLICY: None -> checked" in ran.stdout
    assert stix("destroy", "-y", "e2e-adm", cwd=root).returncode == 0


def test_a_refusing_policy_stops_up_with_exit_4_before_anything_is_created(stix, stix_home, tmp_path, engine):
    root = project(stix, tmp_path, "org_refuse", REFUSE, "NoLargeClusters")
    (root / "e2e-big.yaml").write_text("name: e2e-big\nnum_nodes: 2\nresources:\n  infra: local\nrun: echo ok\n")

    up = stix("up", "-y", "e2e-big.yaml", cwd=root)
    assert up.returncode == 4, up.stdout + up.stderr
    lines = up.stderr.strip().splitlines()
    assert lines == ["stix: error: admin policy NoLargeClusters rejected the request for e2e-big: 2 nodes; at most 1 "
                     "without approval",
                     "stix: error: mandatory admin_policy/NoLargeClusters: request e2e-big: 2 nodes; at most 1 "
                     "without approval"], up.stderr
    assert "No clusters." in stix("status", cwd=root).stdout
    assert not (stix_home / "clusters" / "e2e-big").exists(), "no node directory, saved plan or node list"
    assert not list((stix_home / "state").glob(".pulumi/stacks/*/e2e-big.json*")), "no stack"
    assert not (root / "stacks" / "Pulumi.e2e-big.yaml").exists(), "no pin"
