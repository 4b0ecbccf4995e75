"""End to end: `infra: ssh/<pool>` on machines the user already has (real sshd processes)."""

from __future__ import annotations


import pytest

from stix.components.local import sshd
from stix.components.ssh.host import fingerprint
from stix.keys import ensure_cluster_key
from tests.conftest import StixRun
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


def test_two_clusters_share_a_pool_without_clobbering_each_other(stix, stix_home, tmp_path, pool, engine):
    task = tmp_path / "one.yaml"
    task.write_text("resources:\n  infra: ssh/lab\nrun: echo \"on $(echo $STIX_NODE_DIR | xargs basename)\"\n")
    first = stix("up", "-y", "-c", "first", str(task))
    assert first.returncode == 0 and "on m0" in first.stdout, first.stdout + first.stderr
    second = stix("up", "-y", "-c", "second", str(task))
    assert second.returncode == 0 and "on m1" in second.stdout, "the next free host, not the first one again"
    third = stix("up", "-y", "-c", "third", str(task))
    assert third.returncode == 2 and third.stderr.strip() == (
        "stix: error: SSH node pool 'lab': 0 of 2 host(s) free, the task needs 1; the others are held by "
        "cluster(s) first, second (`stix destroy` one to free its hosts)"), third.stderr

    # Another stix home (another laptop) does not see this index: the host's own holder record refuses it.
    laptop = StixRun(tmp_path / "laptop" / "stix-home")
    laptop.workdir.mkdir()
    other = laptop("up", "-y", "-c", "other", str(task), STIX_SSH_POOLS=str(stix_home / "ssh_node_pools.yaml"))
    assert other.returncode != 0 and other.stderr.count("\n") == 1, other.stderr
    assert (f"pool host {sshd.current_user()}@{pool[0].ip}:{pool[0].port}: held by stix cluster 'first' "
            "(from another stix home or machine") in other.stderr
    assert laptop("destroy", "-y", "other").returncode == 0
    first_key = (stix_home / "keys" / "first" / "id_ed25519.pub").read_text().strip()
    assert first_key in pool[0].authorized.read_text() and (pool[0].paths.home / ".stix-agent").exists()
    again = stix("exec", "first", "echo still here")
    assert again.returncode == 0 and "still here" in again.stdout, again.stdout + again.stderr

    # A destroy that cannot reach its host succeeds and says what it left there.
    second_key = (stix_home / "keys" / "second" / "id_ed25519.pub").read_text().strip()
    pool[1].stop()
    down = stix("destroy", "-y", "second")
    assert down.returncode == 0, down.stdout + down.stderr
    said = " ".join(down.stdout.split())  # the terminal may wrap the line
    assert (f"host {pool[1].ip}:{pool[1].port} unreachable: cluster key {fingerprint(second_key)} is still in "
            f"~{sshd.current_user()}/.ssh/authorized_keys there; remove the line ending in 'stix-second', "
            "and ~/.stix-agent") in said, down.stdout
    assert stix("destroy", "-y", "first").returncode == 0
    assert first_key not in pool[0].authorized.read_text() and not (pool[0].paths.home / ".stix-agent").exists()
