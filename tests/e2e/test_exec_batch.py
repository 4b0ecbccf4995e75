"""End to end: many jobs per round trip (`stix exec` of several task files, the SDK's exec of a list), and an exec
with nothing to sync that reaches the head alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.polling import wait_for

pytestmark = pytest.mark.e2e

CLUSTER = "e2e-batch"


@pytest.fixture
def cluster(stix, stix_home, tmp_path, engine, monkeypatch):
    task = tmp_path / "cluster.yaml"
    task.write_text(f"name: {CLUSTER}\nnum_nodes: 2\nresources:\n  infra: local\n")
    up = stix("up", "-y", str(task))
    assert up.returncode == 0, up.stdout + up.stderr
    monkeypatch.chdir(stix.workdir)  # in-process flows: outside the repository (a stix project)
    yield json.loads((stix_home / "clusters" / CLUSTER / "info.json").read_text())
    assert stix("destroy", "-y", CLUSTER).returncode == 0


def rows() -> dict[int, dict]:
    from stix import cluster_jobs
    from stix.home import StixHome

    with cluster_jobs.head_connection(StixHome.from_env(), CLUSTER) as head:
        return {row["id"]: row for row in cluster_jobs.queue(head)}


def task_file(tmp_path: Path, name: str, run: str, nodes: int = 1) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nnum_nodes: {nodes}\nresources:\n  cpus: 0.1\nrun: {json.dumps(run)}\n")
    return str(path)


def test_exec_of_several_task_files_queues_them_together_and_follows_each(stix, cluster, tmp_path):
    files = [task_file(tmp_path, "one", "echo one on $SKYPILOT_NUM_NODES"),
             task_file(tmp_path, "two", "echo two on rank $SKYPILOT_NODE_RANK", nodes=2),
             task_file(tmp_path, "three", "echo three; exit 3"),
             task_file(tmp_path, "four", "echo four")]
    done = stix("exec", CLUSTER, *files)
    assert done.returncode == 3, done.stdout + done.stderr  # the first failed job's status
    out = done.stdout
    assert "Jobs 1, 2, 3, 4 submitted to e2e-batch" in out
    for line in ("(head, rank=0) one on 1", "(head, rank=0) two on rank 0", "(worker1, rank=1) two on rank 1",
                 "(head, rank=0) three", "(head, rank=0) four"):
        assert line in out, out
    assert out.index("one on 1") < out.index("two on rank 0") < out.index("three") < out.index("four")
    got = rows()
    assert [(got[i]["name"], got[i]["status"]) for i in (1, 2, 3, 4)] == [
        ("one", "SUCCEEDED"), ("two", "SUCCEEDED"), ("three", "FAILED"), ("four", "SUCCEEDED")]

    detached = stix("exec", "-d", CLUSTER, *files[:2])
    assert detached.returncode == 0, detached.stderr
    assert "Jobs 5, 6 submitted to e2e-batch" in detached.stdout
    wait_for(lambda: {rows()[i]["status"] for i in (5, 6)} == {"SUCCEEDED"}, what="the detached batch to succeed")

    # Words that are not all task files are one command, joined as `sky exec` joins them.
    joined = stix("exec", CLUSTER, "echo", "joined", "words")
    assert joined.returncode == 0 and "(head, rank=0) joined words" in joined.stdout, joined.stdout + joined.stderr

    # A batch is all or nothing: one task the cluster cannot run queues none of them.
    too_big = task_file(tmp_path, "big", "true", nodes=3)
    refused = stix("exec", "-d", CLUSTER, files[0], too_big)
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines() == [
        "stix: error: num_nodes 3 is more than cluster e2e-batch's 2 nodes"], refused.stderr
    assert max(rows()) == 7  # the joined command's job; nothing of the refused batch


def spy_connections(monkeypatch) -> tuple[list[int], list[str]]:
    """Record the rank of every paramiko connection opened, and every command run over the head connection."""
    from stix import cluster_jobs
    from stix.ssh import runner

    ranks: list[int] = []
    commands: list[str] = []
    real_init = runner.NodeConnection.__init__

    def init(self, node, *args, **kwargs):
        ranks.append(node.rank)
        real_init(self, node, *args, **kwargs)

    monkeypatch.setattr(runner.NodeConnection, "__init__", init)
    real_connect = cluster_jobs.connect_head

    class Counted:
        def __init__(self, head):
            self.head, self.node = head, head.node

        def run(self, command, *args, **kwargs):
            commands.append(command)
            return self.head.run(command, *args, **kwargs)

    def connect_head(info, *args):
        from contextlib import contextmanager

        @contextmanager
        def counted():
            with real_connect(info, *args) as head:
                yield Counted(head)

        return counted()

    monkeypatch.setattr(cluster_jobs, "connect_head", connect_head)
    return ranks, commands


def test_exec_with_nothing_to_sync_reaches_the_head_alone(cluster, tmp_path, monkeypatch):
    """A two-node job without a workdir: the client connects to no worker (the head's agent starts rank 1 over
    its own ssh); with a workdir, the client syncs it to both nodes first."""
    from stix import flows, sdk
    from stix.session import Session

    ranks, _ = spy_connections(monkeypatch)
    session = Session(sdk._home(), lambda event: None, None)
    task = sdk.Task(run="echo rank $SKYPILOT_NODE_RANK", num_nodes=2)
    result = flows.exec_(session, flows.ExecRequest(CLUSTER, task, detach=True))
    wait_for(lambda: rows()[result.job_id]["status"] == "SUCCEEDED", what="the two-node job to succeed")
    assert 1 not in ranks, f"exec opened a connection to a worker: ranks {ranks}"

    ranks.clear()
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "data.txt").write_text("synced\n")
    synced = sdk.Task(run="cat data.txt", num_nodes=2, workdir=str(workdir))
    result = flows.exec_(session, flows.ExecRequest(CLUSTER, synced, detach=True))
    wait_for(lambda: rows()[result.job_id]["status"] == "SUCCEEDED", what="the synced job to succeed")
    assert sorted(set(ranks)) == [0, 1], ranks


def test_the_sdk_submits_a_list_of_tasks_in_one_round_trip(cluster, tmp_path, monkeypatch, capsys):
    import stix as sky

    _, commands = spy_connections(monkeypatch)
    path = task_file(tmp_path, "from-file", "echo from a file")
    ids, handle = sky.get(sky.exec([sky.Task(name="obj", run="echo from a Task"), "echo from a command", path],
                                   CLUSTER, detach_run=True, envs={"GREETING": "hi"}))
    assert handle.cluster_name == CLUSTER
    assert len(ids) == 3 and ids == sorted(ids)
    assert sum(" submit" in command for command in commands) == 1, commands
    wait_for(lambda: {rows()[i]["status"] for i in ids} == {"SUCCEEDED"}, what="the three jobs to succeed")
    assert [rows()[i]["name"] for i in ids] == ["obj", None, "from-file"]

    capsys.readouterr()
    followed, _ = sky.get(sky.exec(["echo first $GREETING", "echo second"], CLUSTER, envs={"GREETING": "hi"}))
    out = capsys.readouterr().out
    assert "first hi" in out and "second" in out and out.index("first hi") < out.index("second")
    assert {rows()[i]["status"] for i in followed} == {"SUCCEEDED"}
