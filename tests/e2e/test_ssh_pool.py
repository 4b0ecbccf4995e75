"""End to end: `infra: ssh/<pool>` on machines the user already has (real sshd processes)."""

from __future__ import annotations


import pytest

from stix.components.local import sshd
from stix.keys import ensure_cluster_key
from tests.pool_machine import PoolMachine

pytestmark = pytest.mark.e2e


@pytest.fixture
def pool(stix_home, tmp_path):
    user_key = tmp_path / "user" / "id_ed25519"
    user_public = ensure_cluster_key(user_key, "user")
    machines = [PoolMachine(tmp_path / "machines" / f"m{i}", user_public) for i in range(2)]
    stix_home.mkdir(parents=True, exist_ok=True)
    lines = ["lab:", "  user: " + sshd.current_user(), f"  identity_file: {user_key}", "  hosts:"]
    for m in machines:
        lines += [f"    - ip: {m.ip}", f"      port: {m.port}", f"      host_key: {m.host_key}"]
    (stix_home / "ssh_node_pools.yaml").write_text("\n".join(lines) + "\n")
    yield machines
    for m in machines:
        m.stop()


def test_task_runs_on_pool_machines_and_destroy_hands_them_back(stix, stix_home, tmp_path, pool, engine):
    check = stix("check", "ssh")
    assert check.stdout.startswith("enabled  ssh         pools lab in "), check.stdout
    task = tmp_path / "pool.yaml"
    task.write_text("name: on-lab\nnum_nodes: 2\nresources:\n  infra: ssh/lab\n"
                    "run: echo \"rank $SKYPILOT_NODE_RANK on $(echo $STIX_NODE_DIR | xargs basename)\"\n")
    up = stix("up", "-y", str(task))
    assert up.returncode == 0, up.stdout + up.stderr
    assert "(head, rank=0) rank 0 on m0" in up.stdout and "(worker1, rank=1) rank 1 on m1" in up.stdout
    cluster_key = (stix_home / "keys" / "on-lab" / "id_ed25519.pub").read_text().strip()
    assert all(cluster_key in m.authorized.read_text() for m in pool)
    assert stix("exec", "on-lab", "true").returncode == 0
    assert stix("destroy", "-y", "on-lab").returncode == 0
    for m in pool:
        assert cluster_key not in m.authorized.read_text(), "destroy takes the cluster key back"
        assert not (m.paths.home / ".stix-agent").exists()
        assert sshd.running_pid(m.paths), "the user's machine keeps running"


def test_pool_too_small_or_unknown_is_one_line(stix, tmp_path, pool):
    task = tmp_path / "big.yaml"
    task.write_text("num_nodes: 3\nresources:\n  infra: ssh/lab\nrun: echo\n")
    assert stix("up", "-y", str(task)).stderr.strip() == "stix: error: SSH node pool 'lab' has 2 host(s); the task needs 3"
    task.write_text("resources:\n  infra: ssh/nope\nrun: echo\n")
    assert "no SSH node pool named 'nope'" in stix("up", "-y", str(task)).stderr


def test_pool_file_without_host_key_says_how_to_get_it(stix, stix_home):
    stix_home.mkdir(parents=True, exist_ok=True)
    (stix_home / "ssh_node_pools.yaml").write_text("lab:\n  user: me\n  identity_file: ~/.ssh/id\n  hosts: [10.0.0.9]\n")
    check = stix("check", "ssh")
    assert "`host_key` is required so stix can pin it; get it with: ssh-keyscan -t ed25519 -p 22 10.0.0.9" in check.stdout
