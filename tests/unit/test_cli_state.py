"""stix's own state files: written whole or not at all, a corrupt one reported as one line naming it, and the
index recording an apply that finished even when Ctrl-C or SIGTERM arrives as it does."""

import os
import signal
from types import SimpleNamespace

import pytest

from stix import index as idx
from stix.atomic import write_atomic
from stix.errors import Aborted, UsageError
from stix.home import StixHome
from stix.session import Session
from tests.unit.test_cli import one_line_error


def test_write_atomic_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "state" / "spec.json"
    write_atomic(path, '{"old": 1}')
    assert path.read_text() == '{"old": 1}' and (path.stat().st_mode & 0o777) == 0o600
    os.chmod(path, 0o640)

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, '{"new": 2}')
    monkeypatch.undo()
    assert path.read_text() == '{"old": 1}'
    assert [p.name for p in path.parent.iterdir()] == ["spec.json"], "no temporary file is left behind"
    write_atomic(path, b'{"new": 2}')
    assert path.read_text() == '{"new": 2}' and (path.stat().st_mode & 0o777) == 0o640


@pytest.mark.parametrize("text", ['{"cluster": "c", "cloud"', "", "[1, 2]", '{"cluster": "c"}'])
def test_a_corrupt_saved_plan_is_one_line_naming_the_file(stix, stix_home, text):
    spec = stix_home / "clusters" / "c" / "spec.json"
    spec.parent.mkdir(parents=True)
    spec.write_text(text)
    idx.ClusterIndex(StixHome.from_env().index_db).upsert("c", "local", 1, idx.UP, None)
    for command in ("stop", "start"):
        line = one_line_error(stix(command, "-y", "c"))
        assert line == (f"stix: error: {spec}: cluster c's saved plan is corrupt (truncated?); "
                        "`stix up TASK -c c` rewrites it")


@pytest.mark.parametrize("text", ['{"cluster_name": "c", "nodes": [', "", "[1, 2]", '{"nodes": 3}'])
def test_a_corrupt_node_list_is_one_line_naming_the_file(stix, stix_home, text):
    info = stix_home / "clusters" / "c" / "info.json"
    info.parent.mkdir(parents=True)
    info.write_text(text)
    idx.ClusterIndex(StixHome.from_env().index_db).upsert("c", "local", 1, idx.UP, None)
    for command in (("queue", "c"), ("exec", "c", "true")):
        line = one_line_error(stix(*command))
        assert line == (f"stix: error: {info}: cluster c's saved node list is corrupt (truncated?); "
                        "`stix up TASK -c c` rewrites it")


class InterruptedApply:
    """A stack whose apply succeeds while a signal arrives, as a Ctrl-C just as the engine finishes would."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.workspace = None

    def up(self, on_event=None, refresh=True, **policies):
        os.kill(os.getpid(), self.signum)
        return SimpleNamespace(outputs={"nodes": "..."})


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_as_apply_finishes_still_records_the_cluster_up(stix_home, tmp_path, monkeypatch, signum):
    from stix import cli, flows
    from stix.engine.changes import ChangeSet, ResourceChange
    from stix.models.task import Task

    monkeypatch.chdir(tmp_path)  # outside any stix project
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, cli._on_sigterm)
    try:
        spec = SimpleNamespace(cluster="c", cloud="local", num_nodes=1, to_json=lambda: '{"saved": true}',
                               instance_type="local", accelerator="", accelerator_count=0.0, use_spot=False, vcpus=1.0,
                               memory_gib=1.0, hourly_cost=0.0)
        monkeypatch.setattr(flows, "stack_at",
                            lambda session, target, candidate, pin=None, compiled=None: (InterruptedApply(signum), spec, None))
        monkeypatch.setattr(flows, "preview_stack",
                            lambda *a: ChangeSet([ResourceChange("create", "stix:local:Node", "c-head")]))
        monkeypatch.setattr(flows, "cluster_info", lambda *a: pytest.fail("nothing runs after an interrupted apply"))
        home = StixHome.from_env()
        session = Session(home)
        with pytest.raises(Aborted, match="interrupted after it finished"):
            flows.up(session, flows.LaunchRequest(Task(run="true"), "c", yes=True))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert session.index.get("c").status == idx.UP
    assert (home.cluster_dir("c") / "spec.json").read_text() == '{"saved": true}'
    assert [(h.name, h.ended_at) for h in session.index.history()] == [("c", None)]  # the cost report's record


BLOCKING_CLI = """
import os, sys, time
from pathlib import Path
from stix import cli
from stix.engine.calls import interrupts_deferred

@cli.app.command("block")
def block(deferred: bool = False) -> None:
    finish = Path(os.environ["FINISH_FILE"])
    deadline = time.monotonic() + 60
    def note(event):
        print(event.text, flush=True)
    def wait():
        print("ready", flush=True)
        while not finish.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    if deferred:
        with interrupts_deferred(note, "c", "apply"):
            wait()
    else:
        wait()

sys.argv = ["stix", *sys.argv[1:]]
cli.main()
"""


def _blocking(tmp_path, *args):
    import subprocess
    import sys

    env = {**os.environ, "FINISH_FILE": str(tmp_path / "finish"), "NO_COLOR": "1"}
    return subprocess.Popen([sys.executable, "-c", BLOCKING_CLI, "block", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def test_sigterm_is_handled_as_ctrl_c(tmp_path):
    proc = _blocking(tmp_path)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert err.strip() == "stix: terminated"


def test_sigterm_during_apply_waits_for_the_engine(tmp_path):
    proc = _blocking(tmp_path, "--deferred")
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.stdout.readline().startswith("Interrupted: waiting for the engine to stop the apply safely")
    assert proc.poll() is None, "stix must not stop while the engine applies"
    (tmp_path / "finish").touch()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert err.strip() == "stix: error: apply interrupted after it finished; cluster c is as shown by `stix status`"


def test_exec_of_a_command_sends_its_secrets_and_envs_to_every_rank(stix_home, tmp_path, monkeypatch):
    """`stix exec C 'cmd' --secret K=V`: the flow submits the secret in each rank's environment."""
    import contextlib

    from typer.testing import CliRunner

    from stix import cli, cluster_jobs, hooks
    from stix.spec import ClusterInfo, NodeInfo
    from stix.ssh import runner

    nodes = tuple(NodeInfo(f"c-{r}", r, "127.0.0.1", 2222, "u", "ssh-ed25519 AAAA", f"/h{r}", cpus=2.0)
                  for r in range(2))
    info = ClusterInfo("c", "local", nodes, "/k")
    submitted = {}

    class Conns:
        def __init__(self, info):
            self.info, self.connections = info, [object()]

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def submit(head, name, script, ranks, cpus, gpus):
        submitted.update(script=script, ranks=ranks)
        return 7

    monkeypatch.setattr(cluster_jobs, "load_info", lambda home, cluster: info)
    monkeypatch.setattr(cluster_jobs, "submit", submit)
    monkeypatch.setattr(runner, "ClusterConnections", Conns)
    monkeypatch.setattr(cluster_jobs, "connect_head", lambda info, *_: contextlib.nullcontext(object()))
    monkeypatch.setattr(hooks, "sync_workdir", lambda conns, workdir, *rest: [])
    monkeypatch.setenv("FROM_SHELL", "shell-secret")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli.app, ["exec", "-d", "c", "echo $TOKEN", "--secret", "TOKEN=t0k3n",
                                          "--secret", "FROM_SHELL", "--env", "MODE=fast"])
    assert result.exit_code == 0, result.output
    assert submitted["script"] == "echo $TOKEN"
    env = submitted["ranks"][0]["env"]
    assert (env["TOKEN"], env["FROM_SHELL"], env["MODE"]) == ("t0k3n", "shell-secret", "fast")
    assert "t0k3n" not in result.output
