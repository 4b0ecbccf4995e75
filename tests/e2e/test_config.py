"""End to end: the config files reach a real launch on the local cloud (the real engine, real sshd nodes)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_the_config_autostop_is_armed_by_up_and_a_flag_still_wins(stix, stix_home, tmp_path, engine):
    stix_home.mkdir(parents=True, exist_ok=True)
    (stix_home / "config.yaml").write_text("allowed_clouds: [local]\nautostop:\n  idle_minutes: 45\n  down: true\n")
    task = tmp_path / "e2e-cfg.yaml"
    # the task's config: is honoured now (no refusal), and its keys for other clouds change nothing here
    task.write_text("name: e2e-cfg\nresources:\n  infra: local\nconfig:\n  aws:\n    labels: {team: ml}\nrun: echo ok\n")
    first = stix("up", "-y", str(task))
    assert first.returncode == 0, first.stdout + first.stderr
    row = next(line for line in stix("status").stdout.splitlines() if "e2e-cfg" in line)
    assert "45m (down)" in row
    again = stix("up", "-y", str(task), "-i", "30")
    assert again.returncode == 0, again.stdout + again.stderr
    row = next(line for line in stix("status").stdout.splitlines() if "e2e-cfg" in line)
    assert "30m" in row and "down" not in row
    assert stix("destroy", "-y", "e2e-cfg").returncode == 0
