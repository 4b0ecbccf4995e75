"""End to end: a multi-node cluster whose nodes listen on port 22, as on every cloud.

Each local node gets its own loopback addresses on port 22 (STIX_LOCAL_SSH_PORT=22), a public one
(stix connects there) and a private one (the head must use it, as a cloud's rules allow only that),
so the head's known_hosts must use OpenSSH's bare `ip key` form for its workers, or rank 1 and cancel fail.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from stix.agent.node_agent import KNOWN_HOSTS_FILE, REMOTE_DIR
from stix import ssh_config as sshd_config
from stix.components.local import sshd
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

CLUSTER = "e2e-p22"



def test_two_node_job_cancel_and_autostop_on_port_22(stix, stix_home, tmp_path, engine):
    assert os.geteuid() == 0, "port 22 needs root: run the e2e suite as root (CI does)"
    assert ("0.0.0.0", 22) not in sshd.wildcard_listeners(), "a server listens on 0.0.0.0:22 here"
    env = {sshd.PORT_ENV: "22"}
    task = tmp_path / "p22.yaml"
    task.write_text(f"name: {CLUSTER}\nnum_nodes: 2\nresources:\n  infra: local\n"
                    "run: echo \"rank=$SKYPILOT_NODE_RANK host=$(hostname)\"\n")
    try:
        up = stix("up", "-y", str(task), **env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "(worker1, rank=1) rank=1" in up.stdout, up.stdout
        root = stix_home / "clusters" / CLUSTER
        nodes = json.loads((root / "info.json").read_text())["nodes"]
        assert [n["port"] for n in nodes] == [22, 22] and len({n["ip"] for n in nodes}) == 2
        assert all(n["private_ip"] != n["ip"] for n in nodes), "cloud-like nodes: a private address of their own"
        head_known = root / "nodes" / f"{CLUSTER}-head" / "home" / REMOTE_DIR / KNOWN_HOSTS_FILE
        pinned = [line.split()[0] for line in head_known.read_text().splitlines()]
        assert pinned == [n["private_ip"] for n in nodes], "port 22: bare private address, no [ip]:22"

        job = tmp_path / "long.yaml"
        job.write_text(f"name: long\nnum_nodes: 2\nrun: {json.dumps('sleep 300 & sleep 301; wait')}\n")
        assert stix("exec", "-d", CLUSTER, str(job), **env).returncode == 0

        def sleepers() -> list[int]:
            return [pid for pid in sshd.processes_under(root) if sshd._cmdline(pid) in (["sleep", "300"], ["sleep", "301"])]

        wait_for(lambda: len(sleepers()) == 4, 30, "the job's processes on both nodes")
        cancelled = stix("cancel", CLUSTER, "2", **env)
        assert cancelled.returncode == 0 and cancelled.stdout.strip() == "cancelled: 2", cancelled.stdout + cancelled.stderr
        wait_for(lambda: not sleepers(), 20, "the cancel to reach the worker")
        worker_log = (root / "nodes" / f"{CLUSTER}-worker1" / "sshd.log").read_text()
        assert f" on {nodes[1]['private_ip']} port 22" in worker_log, "the head reaches the worker's private address"

        config = stix_home.parent / "user-ssh" / "config"
        out = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", f"{CLUSTER}-worker1", "echo $STIX_NODE_DIR"],
                             capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert out.returncode == 0 and out.stdout.strip().endswith(f"{CLUSTER}-worker1"), out.stderr

        assert stix("autostop", CLUSTER, "-i", "0.05", **env).returncode == 0
        wait_for(lambda: not sshd.processes_under(root), 60, "autostop to stop the worker and the head")
    finally:
        assert stix("destroy", "-y", CLUSTER, **env).returncode == 0
    assert sshd_config.BEGIN not in (stix_home.parent / "user-ssh" / "config").read_text(), \
        "the Include block goes with the last cluster"
