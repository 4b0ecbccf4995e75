"""SkyPilot's verbs end to end on the local cloud (real engine, real sshd): inline commands, re-launches with
--no-setup and --fast, -d, and `down` of a glob. One cluster serves the re-launch checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from stix import index as idx
from stix.components.local import sshd
from stix.home import StixHome
from tests.e2e.test_local_cluster import field, lines_of, node_dirs
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

TASK = """
num_nodes: 2
resources:
  infra: local
setup: echo "setup-$SKYPILOT_NODE_RANK" >> {log}
run: echo "RUN=$SKYPILOT_NODE_RANK"
"""


def ok(result) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def clusters(home: Path) -> list[str]:
    return sorted(record.name for record in idx.ClusterIndex(StixHome(home).index_db).all())


def test_inline_launch_relaunch_no_setup_fast_detach_and_down_by_glob(stix, stix_home, tmp_path, engine):
    first = ok(stix("launch", "-y", "-c", "lv-dev", "--infra", "local", "--num-nodes", "2",
                    "echo RANK=$SKYPILOT_NODE_RANK"))
    assert [field(lines_of(first, rank), "RANK") for rank in (0, 1)] == ["0", "1"]
    assert len(node_dirs(stix_home, "lv-dev")) == 2
    again = ok(stix("launch", "-y", "-c", "lv-dev", "echo AGAIN=$SKYPILOT_NUM_NODES"))  # no flags: the cluster as it is
    assert "No infrastructure changes" in again and field(lines_of(again, 1), "AGAIN") == "2"
    one = ok(stix("exec", "lv-dev", "echo N=$SKYPILOT_NUM_NODES"))
    assert field(lines_of(one, 0), "N") == "1" and not lines_of(one, 1)
    both = ok(stix("exec", "lv-dev", "--num-nodes", "2", "echo N=$SKYPILOT_NUM_NODES"))  # exec's flags size the job
    assert field(lines_of(both, 0), "N") == "2" and field(lines_of(both, 1), "N") == "2"

    log = tmp_path / "setup.log"
    task = tmp_path / "task.yaml"
    task.write_text(TASK.format(log=log))
    with_setup = ok(stix("launch", "-y", "-c", "lv-dev", str(task)))  # the same cluster: nothing to apply
    assert "No infrastructure changes" in with_setup
    assert sorted(log.read_text().split()) == ["setup-0", "setup-1"]

    no_setup = ok(stix("launch", "-y", "-c", "lv-dev", "--no-setup", str(task)))
    assert "Skipping setup (--no-setup)." in no_setup and field(lines_of(no_setup, 1), "RUN") == "1"
    assert sorted(log.read_text().split()) == ["setup-0", "setup-1"]

    fast = ok(stix("launch", "-c", "lv-dev", "--fast", str(task)))  # no -y: nothing is asked, nothing previewed
    assert "Cluster lv-dev is UP and unchanged: skipping the preview and setup (--fast)." in fast
    assert "No infrastructure changes" not in fast and "Plan:" not in fast
    assert field(lines_of(fast, 0), "RUN") == "0" and field(lines_of(fast, 1), "RUN") == "1"
    assert sorted(log.read_text().split()) == ["setup-0", "setup-1"]

    changed = ok(stix("launch", "-y", "-c", "lv-dev", "--fast", "--num-nodes", "1", "--down", "-i", "60",
                      "--no-setup", str(task)))  # a change goes the long way, even with --fast
    assert "skipping the preview" not in changed and "1 to delete" in changed
    assert len(node_dirs(stix_home, "lv-dev")) == 1

    go, finished = tmp_path / "go", tmp_path / "finished"
    detached = stix("launch", "-c", "lv-dev", "--fast", "-d",
                    f"for i in $(seq 600); do [ -f {go} ] && break; sleep 0.1; done; touch {finished}")
    assert detached.returncode == 0 and "submitted to lv-dev" in detached.stdout, detached.stdout + detached.stderr
    assert not finished.exists()  # returned while the job waits
    go.touch()
    wait_for(finished.exists, timeout=60, what="the detached job to finish")

    for name in ("lv-p-a", "lv-p-b"):  # no entrypoint: a cluster with nothing to run
        assert f"Cluster {name} is up." in ok(stix("launch", "-y", "-c", name, "--infra", "local"))
    assert clusters(stix_home) == ["lv-dev", "lv-p-a", "lv-p-b"]
    assert ok(stix("launch", "-c", "lv-p-b", "--fast", "--down", "echo bye"))  # --down alone: autodown once idle
    wait_for(lambda: not node_dirs(stix_home, "lv-p-b"), timeout=90, what="lv-p-b to tear itself down")
    down = ok(stix("down", "lv-p-*", "-y"))
    assert "Cluster lv-p-a destroyed." in down and "Cluster lv-p-b destroyed." in down
    assert clusters(stix_home) == ["lv-dev"] and node_dirs(stix_home, "lv-dev")
    assert not node_dirs(stix_home, "lv-p-a") and not node_dirs(stix_home, "lv-p-b")
    assert sshd.processes_under(stix_home / "clusters" / "lv-dev")

    ok(stix("down", "-y", "lv-dev"))
    assert clusters(stix_home) == [] and not sshd.processes_under(stix_home)


def test_launch_without_a_name_generates_one(stix, stix_home, engine):
    import re

    out = ok(stix("launch", "-y", "--infra", "local", "echo hello"))
    match = re.fullmatch(r"Cluster name: (stix-[0-9a-f]{4}(-[a-z0-9-]+)?) \(generated; -c NAME picks one\)",
                         out.splitlines()[0])
    assert match and "hello" in out, out
    assert clusters(stix_home) == [match.group(1)]
    ok(stix("down", "-y", match.group(1)))
