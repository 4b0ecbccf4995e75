"""`stix exec` of several tasks (flows.exec_many): the admin policy sees each task before the cluster is reached,
and a batch whose tasks cannot share a workdir is refused in one line."""

from __future__ import annotations

import pytest

from stix.errors import ClusterNotFound, PolicyViolations, UsageError
from tests.unit.test_admin_policy import REJECT_ALL, env, mutating, policy_file, session, task  # noqa: F401


def test_the_policy_runs_on_every_task_of_a_batch_before_the_cluster_is_reached(env):  # noqa: F811
    from stix.flows import ExecBatch, exec_many

    name = mutating(env, "assert options is None; task.update_envs({'SEEN': task.name})")
    (env / "config.yaml").write_text(f"admin_policy: {name}\n")
    run, notes = session(env)
    first, second = task(), task()
    second.name = "eval"
    with pytest.raises(ClusterNotFound):
        exec_many(run, ExecBatch("c1", (first, second)))
    assert notes == ["Admin policy changed envs.SEEN: None -> train", "Admin policy changed envs.SEEN: None -> eval"]

    (env / "config.yaml").write_text(f"admin_policy: {policy_file(env, REJECT_ALL)}\n")
    with pytest.raises(PolicyViolations) as caught:
        exec_many(session(env)[0], ExecBatch("c1", (task(), task())))
    assert caught.value.violations[0].resource == "c1"


def test_a_batch_with_two_workdirs_is_refused_before_anything_is_submitted(env, tmp_path, monkeypatch):  # noqa: F811
    from stix import flows
    from stix.spec import ClusterInfo, NodeInfo

    node = NodeInfo("c-0", 0, "127.0.0.1", 2222, "u", "ssh-ed25519 AAAA", "/h0", cpus=2.0)
    monkeypatch.setattr(flows.cluster_jobs, "load_info", lambda home, cluster: ClusterInfo("c1", "local", (node,), "/k"))
    monkeypatch.setattr(flows.cluster_jobs, "connect_head", lambda info, *_: pytest.fail("nothing may be submitted"))
    one, two = task(), task()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one.workdir, two.workdir = str(tmp_path / "a"), str(tmp_path / "b")
    with pytest.raises(UsageError, match="the tasks have 2 different workdirs"):
        flows.exec_many(session(env)[0], flows.ExecBatch("c1", (one, two)))
    with pytest.raises(UsageError, match="nothing to run"):
        flows.exec_many(session(env)[0], flows.ExecBatch("c1", ()))
