"""End to end: `stix exec CLUSTER 'command' --secret K=V` reaches the job, on a real local cluster."""

import pytest

pytestmark = pytest.mark.e2e

CLUSTER = "e2e-sec"


def test_exec_of_a_command_passes_secrets_and_envs(stix, tmp_path, engine):
    task = tmp_path / "cluster.yaml"
    task.write_text(f"name: {CLUSTER}\nresources:\n  infra: local\n")
    up = stix("up", "-y", str(task))
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        after = stix("exec", CLUSTER, 'echo "T=${#TOKEN} S=${#SHELL_TOKEN} E=$MODE"', "--secret", "TOKEN=abc123",
                     "--secret", "SHELL_TOKEN", "--env", "MODE=m", SHELL_TOKEN="from-shell")
        before = stix("exec", CLUSTER, "--secret", "TOKEN=abc123", 'echo "T=${#TOKEN}"')
        for result in (after, before):
            assert result.returncode == 0, result.stdout + result.stderr
            assert "abc123" not in result.stdout + result.stderr
        assert "T=6 S=10 E=m" in after.stdout
        assert "T=6" in before.stdout
    finally:
        assert stix("destroy", "-y", CLUSTER).returncode == 0
