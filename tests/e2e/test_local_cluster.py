"""End to end on the local cloud: the real Pulumi engine and real sshd nodes."""

from __future__ import annotations

import getpass
import os
import re
import signal
import time
from pathlib import Path

import pytest

from stix.components.local import sshd
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

TASK = """
name: {name}
num_nodes: {nodes}
resources:
  infra: local
workdir: {workdir}
envs:
  MSG: "a b 'c' $HOME"
setup: |
  echo "setup-$SKYPILOT_NODE_RANK" >> "$HOME/order.log"
  echo "SETUPWHO=$SKYPILOT_USER"
  {setup_extra}
run: |
  echo "run-$SKYPILOT_NODE_RANK" >> "$HOME/order.log"
  echo "RANK=$SKYPILOT_NODE_RANK TWIN=$STIX_NODE_RANK N=$SKYPILOT_NUM_NODES IPS=$(echo "$SKYPILOT_NODE_IPS" | tr '\\n' ,) DATA=$(cat data.txt)"
  echo "MSG=$MSG"
  echo "WHO=$SKYPILOT_USER/$STIX_USER"
  echo "ORDER=$(tr '\\n' ' ' < "$HOME/order.log")"
"""


def write_task(tmp_path: Path, name: str, nodes: int = 2, setup_extra: str = "true") -> Path:
    workdir = tmp_path / "code"
    workdir.mkdir(exist_ok=True)
    (workdir / "data.txt").write_text("synced")
    path = tmp_path / f"{name}.yaml"
    path.write_text(TASK.format(name=name, nodes=nodes, workdir=workdir, setup_extra=setup_extra))
    return path


def lines_of(output: str, rank: int) -> list[str]:
    role = "head" if rank == 0 else f"worker{rank}"
    prefix = f"({role}, rank={rank}) "
    return [line[len(prefix):] for line in output.splitlines() if line.startswith(prefix)]


def field(lines: list[str], key: str) -> str:
    for line in lines:
        for part in re.findall(rf"(?<![A-Z_]){key}=(\S*)", line):
            return part
    raise AssertionError(f"{key} not in {lines}")


def node_dirs(home: Path, cluster: str) -> list[Path]:
    return sorted((home / "clusters" / cluster / "nodes").glob("*"))


def test_two_node_cluster_up_rerun_destroy(stix, stix_home, tmp_path, engine):
    task = write_task(tmp_path, "e2e-two")
    first = stix("up", "-y", str(task))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Plan: 3 to create" in first.stdout

    ips = set()
    for rank in (0, 1):
        lines = lines_of(first.stdout, rank)
        assert field(lines, "RANK") == str(rank) and field(lines, "TWIN") == str(rank)
        assert field(lines, "N") == "2"
        node_ips = field(lines, "IPS").strip(",").split(",")
        assert len(node_ips) == 2 and len(set(node_ips)) == 2
        ips.add(tuple(node_ips))
        assert field(lines, "DATA") == "synced"
        assert f"MSG=a b 'c' $HOME" in lines
        assert field(lines, "SETUPWHO") == getpass.getuser() and field(lines, "WHO") == f"{getpass.getuser()}/{getpass.getuser()}"
        assert f"ORDER=setup-{rank} run-{rank} " in lines
    assert len(ips) == 1, "every node sees the same IP list"
    assert len(node_dirs(stix_home, "e2e-two")) == 2
    assert "e2e-two" in stix("status").stdout and " UP " in stix("status").stdout

    again = stix("up", "-y", str(task))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No infrastructure changes (3 unchanged)." in again.stdout
    assert "ORDER=setup-0 run-0 setup-0 run-0 " in lines_of(again.stdout, 0)

    gone = stix("destroy", "-y", "e2e-two")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert "3 to delete" in gone.stdout
    assert not sshd.processes_under(stix_home)
    assert not (stix_home / "clusters" / "e2e-two").exists()
    assert stix("status").stdout.strip() == "No clusters."


def test_killed_node_is_drift_and_up_repairs_it(stix, stix_home, tmp_path, engine):
    task = write_task(tmp_path, "e2e-drift")
    assert stix("up", "-y", str(task)).returncode == 0
    worker = sshd.NodePaths(node_dirs(stix_home, "e2e-drift")[1])
    assert worker.root.name == "e2e-drift-worker1"
    os.kill(sshd.running_pid(worker), signal.SIGKILL)

    refreshed = stix("status", "--refresh")
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert "drift in e2e-drift: vms-node-1 (stix:local:Node): state: 'running' -> 'stopped'" in refreshed.stdout
    assert "DEGRADED" in refreshed.stdout

    repaired = stix("up", "-y", str(task))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "1 to update" in repaired.stdout
    assert field(lines_of(repaired.stdout, 1), "RANK") == "1"
    assert stix("destroy", "-y", "e2e-drift").returncode == 0


def test_removed_node_directory_is_reported_gone(stix, stix_home, tmp_path, engine):
    import shutil

    task = write_task(tmp_path, "e2e-gone", nodes=1)
    assert stix("up", "-y", str(task)).returncode == 0
    shutil.rmtree(node_dirs(stix_home, "e2e-gone")[0])
    refreshed = stix("status", "--refresh")
    assert "drift in e2e-gone: vms-node-0 (stix:local:Node): gone" in refreshed.stdout
    destroyed = stix("destroy", "-y", "e2e-gone")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert not sshd.processes_under(stix_home)


def test_failing_setup_stops_before_run_and_names_the_node(stix, tmp_path, engine):
    task = write_task(tmp_path, "e2e-setup", setup_extra='[ "$SKYPILOT_NODE_RANK" = 1 ] && exit 3 || true')
    result = stix("up", "-y", str(task))
    assert result.returncode == 3
    assert "stix: error: setup failed on e2e-setup-worker1 (exit 3)" in result.stderr
    assert "RANK=" not in result.stdout
    assert "Traceback" not in result.stderr
    assert stix("destroy", "-y", "e2e-setup").returncode == 0


def test_without_terminal_and_without_yes_it_refuses(stix, stix_home, tmp_path, engine):
    task = write_task(tmp_path, "e2e-ask")
    result = stix("up", str(task))
    assert result.returncode == 2
    assert "no terminal to ask; pass -y" in result.stderr
    assert not node_dirs(stix_home, "e2e-ask")
    assert stix("status").stdout.strip() == "No clusters."


def test_preview_changes_nothing(stix, stix_home, tmp_path, engine):
    task = write_task(tmp_path, "e2e-preview", nodes=3)
    result = stix("preview", str(task))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Plan: 4 to create (0 unchanged)." in result.stdout
    assert "vms-node-2" in result.stdout
    assert not node_dirs(stix_home, "e2e-preview")
    assert stix("status").stdout.strip() == "No clusters."


def test_ctrl_c_during_apply_leaves_a_cluster_destroy_can_clean(stix, stix_home, tmp_path, engine):
    task = write_task(tmp_path, "e2e-int", nodes=6)
    proc = stix.popen("up", "-y", str(task))
    wait_for(lambda: node_dirs(stix_home, "e2e-int"), timeout=120, what="the apply to create a node", interval=0.02)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, output
    assert "Traceback" not in output
    assert "stix destroy e2e-int" in output or "interrupted" in output

    listed = stix("status").stdout
    assert "e2e-int" in listed
    destroyed = stix("destroy", "-y", "e2e-int")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert not sshd.processes_under(stix_home)
    assert not (stix_home / "clusters" / "e2e-int").exists()


def test_envs_secrets_and_required_values(stix, stix_home, tmp_path, engine):
    task = tmp_path / "e2e-env.yaml"
    task.write_text(
        "name: e2e-env\nresources:\n  infra: local\n"
        "envs:\n  FROM_TASK: task\n  REQUIRED: null\n  OVERRIDDEN: task\n"
        "secrets:\n  TOKEN: null\n"
        "run: |\n"
        "  echo \"VALUES=$FROM_TASK,$REQUIRED,$OVERRIDDEN,${#TOKEN}\"\n"
        "  for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done > \"$HOME/cmdlines.txt\"\n"
    )
    missing = stix("up", "-y", str(task))
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"stix: error: {task}:6:3: envs.REQUIRED: required but not set; pass --env REQUIRED=VALUE"

    env_file = tmp_path / "app.env"
    env_file.write_text("OVERRIDDEN=file\nREQUIRED=from-file\n")
    result = stix("up", "-y", str(task), "--env-file", str(env_file), "--env", "OVERRIDDEN=cli",
                  "--secret", "TOKEN", TOKEN="s3cr3t-value-123")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VALUES=task,from-file,cli,16" in lines_of(result.stdout, 0)
    assert "s3cr3t-value-123" not in result.stdout + result.stderr
    cmdlines = (stix_home / "clusters" / "e2e-env" / "nodes" / "e2e-env-head" / "home" / "cmdlines.txt").read_text()
    assert "s3cr3t-value-123" not in cmdlines, "a secret reached a process's argv on the node"
    assert stix("destroy", "-y", "e2e-env").returncode == 0


def test_python_sdk_launch_and_down(stix_home, tmp_path, engine, capfd):
    import stix as sdk

    task = sdk.Task(name="e2e-sdk", run='echo "SDK rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES"', num_nodes=2)
    task.set_resources(sdk.Resources(infra="local"))
    job_id, handle = sdk.get(sdk.launch(task))  # SkyPilot's: a request id that sky.get unwraps
    assert (job_id, handle.cluster_name, handle.launched_nodes) == (1, "e2e-sdk", 2)
    out = capfd.readouterr().out
    assert "(head, rank=0) SDK rank 0 of 2" in out and "(worker1, rank=1) SDK rank 1 of 2" in out
    assert [r.name for r in sdk.get(sdk.status())] == ["e2e-sdk"]
    assert sdk.get(sdk.exec("echo from-exec", "e2e-sdk"))[0] == 2
    assert [job["status"] for job in sdk.get(sdk.queue("e2e-sdk"))] == ["SUCCEEDED", "SUCCEEDED"]
    assert sdk.tail_logs("e2e-sdk", 2, follow=False) == 0
    assert "(head, rank=0) from-exec" in capfd.readouterr().out
    assert sdk.get(sdk.down("e2e-sdk")) is None
    assert sdk.get(sdk.status()) == []


def test_up_alone_repairs_a_killed_node(stix, stix_home, tmp_path, engine):
    task = write_task(tmp_path, "e2e-heal")
    assert stix("up", "-y", str(task)).returncode == 0
    worker = sshd.NodePaths(node_dirs(stix_home, "e2e-heal")[1])
    killed = sshd.running_pid(worker)
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    healed = stix("up", "-y", str(task))
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert "Plan: 1 to update (2 unchanged)." in healed.stdout
    assert sshd.running_pid(worker) not in (None, killed), "the worker's sshd runs again"
    assert field(lines_of(healed.stdout, 1), "RANK") == "1"
    after = stix("drift", "e2e-heal")
    assert (after.returncode, after.stdout.strip()) == (0, "e2e-heal: no drift"), after.stdout + after.stderr
    assert stix("destroy", "-y", "e2e-heal").returncode == 0


def test_ssh_to_cluster_and_worker_from_the_shell(stix, stix_home, tmp_path, engine):
    import subprocess

    user_home = tmp_path / "user"
    (user_home / ".ssh").mkdir(parents=True)
    (user_home / ".ssh" / "config").write_text("Host example\n  User someone\n")
    task = write_task(tmp_path, "e2e-ssh")
    assert stix("up", "-y", str(task), STIX_SSH_CONFIG=str(user_home / ".ssh" / "config")).returncode == 0
    config = user_home / ".ssh" / "config"
    text = config.read_text()
    assert text.startswith("# >>> stix: cluster hosts (managed by stix) >>>\nInclude ") and "Host example" in text
    for alias, rank in (("e2e-ssh", 0), ("e2e-ssh-worker1", 1)):
        out = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", alias, "echo $STIX_NODE_DIR"],
                             capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == str(node_dirs(stix_home, "e2e-ssh")[rank])
    assert stix("up", "-y", str(task), STIX_SSH_CONFIG=str(user_home / ".ssh" / "config")).returncode == 0
    assert config.read_text().count("Include ") == 1, "the include block is added once"
    assert stix("destroy", "-y", "e2e-ssh", STIX_SSH_CONFIG=str(user_home / ".ssh" / "config")).returncode == 0
    assert not (stix_home / "ssh" / "e2e-ssh.config").exists()


def test_up_arms_autostop_from_the_task_or_the_command_line(stix, tmp_path, engine):
    task = tmp_path / "e2e-auto.yaml"
    task.write_text("name: e2e-auto\nresources:\n  infra: local\n  autostop:\n    idle_minutes: 90\n    down: true\nrun: echo ok\n")
    assert stix("up", "-y", str(task)).returncode == 0
    row = next(line for line in stix("status").stdout.splitlines() if "e2e-auto" in line)
    assert "90m (down)" in row
    assert stix("up", "-y", str(task), "-i", "30").returncode == 0
    row = next(line for line in stix("status").stdout.splitlines() if "e2e-auto" in line)
    assert "30m" in row and "down" not in row
    assert stix("destroy", "-y", "e2e-auto").returncode == 0


def test_local_file_mounts_reach_every_node(stix, stix_home, tmp_path, engine):
    data = tmp_path / "dataset"
    (data / "part").mkdir(parents=True)
    (data / "part" / "a.txt").write_text("A\n")
    (data / "skip.log").write_text("ignored\n")
    (data / ".gitignore").write_text("*.log\n")
    settings = tmp_path / "settings.txt"
    settings.write_text("lr=0.1\n")
    task = tmp_path / "e2e-mounts.yaml"
    task.write_text(
        "name: e2e-mounts\nnum_nodes: 2\nresources:\n  infra: local\n"
        f"file_mounts:\n  ~/data: {data}\n  ~/cfg/settings.txt: {settings}\n  scratch: {data}/part\n"
        "run: cat ~/data/part/a.txt ~/cfg/settings.txt ~/scratch/a.txt; ls ~/data\n"
    )
    first = stix("up", "-y", str(task))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "file_mounts synced: 8 changed file(s) sent to 2 node(s)." in first.stdout
    for rank in (0, 1):
        assert lines_of(first.stdout, rank)[:3] == ["A", "lr=0.1", "A"]
        assert "skip.log" not in lines_of(first.stdout, rank)
    again = stix("up", "-y", str(task))
    assert "file_mounts synced: 0 changed file(s)" in again.stdout
    assert stix("destroy", "-y", "e2e-mounts").returncode == 0


def test_absolute_file_mount_destination_is_refused_on_the_local_cloud(stix, tmp_path, engine):
    task = tmp_path / "abs.yaml"
    task.write_text(f"resources:\n  infra: local\nfile_mounts:\n  /data: {tmp_path}\nrun: echo\n")
    result = stix("up", "-y", str(task))
    assert result.returncode == 2
    assert "file_mounts destination '/data' on the local cloud" in result.stderr


def test_drift_exit_codes_and_formats(stix, stix_home, tmp_path, engine):
    import json
    import shutil

    task = write_task(tmp_path, "e2e-drift2")
    assert stix("up", "-y", str(task)).returncode == 0
    clean = stix("drift", "e2e-drift2")
    assert (clean.returncode, clean.stdout.strip()) == (0, "e2e-drift2: no drift")
    worker, head = node_dirs(stix_home, "e2e-drift2")[1], node_dirs(stix_home, "e2e-drift2")[0]
    os.kill(sshd.running_pid(sshd.NodePaths(worker)), signal.SIGKILL)
    sshd.stop(sshd.NodePaths(head))
    shutil.rmtree(head)
    drifted = stix("drift", "--all", "--format", "json")
    assert drifted.returncode == 2
    resources = {r["name"]: r for r in json.loads(drifted.stdout)["clusters"][0]["resources"]}
    assert resources["vms-node-1"]["properties"] == [{"name": "state", "recorded": "running", "real": "stopped"}]
    assert resources["vms-node-0"]["op"] == "delete"
    again = stix("drift", "e2e-drift2")
    assert again.returncode == 2, "drift changes neither state nor resources"
    from stix.home import StixHome
    from stix.index import ClusterIndex

    check = ClusterIndex(StixHome(stix_home).index_db).drift_checks()["e2e-drift2"]
    assert check.drifted == 2, "the last check is kept for the dashboard: two resources drifted"
    assert stix("drift", "missing-cluster").returncode == 1
    plan = stix("preview", str(task), "--format", "json")
    assert plan.returncode == 0
    summary = json.loads(plan.stdout)["summary"]
    assert (summary["create"], summary["update"]) == (1, 1)
    assert stix("destroy", "-y", "e2e-drift2").returncode == 0


def test_a_team_passphrase_from_the_environment_unlocks_state(stix, tmp_path, engine):
    task = write_task(tmp_path, "e2e-pass", nodes=1)
    team = {"PULUMI_CONFIG_PASSPHRASE": "team-secret-1"}
    assert stix("up", "-y", str(task), **team).returncode == 0
    assert stix("drift", "e2e-pass", **team).returncode == 0
    wrong = stix("drift", "e2e-pass", PULUMI_CONFIG_PASSPHRASE="not-the-team-secret")
    assert wrong.returncode == 1 and "passphrase" in wrong.stderr.lower()
    assert stix("destroy", "-y", "e2e-pass", **team).returncode == 0


def test_sshd_moved_to_another_port_is_drift_and_up_moves_it_back(stix, stix_home, tmp_path, engine):
    import json

    task = write_task(tmp_path, "e2e-port", nodes=1)
    assert stix("up", "-y", str(task)).returncode == 0
    node = sshd.NodePaths(node_dirs(stix_home, "e2e-port")[0])
    (ip, port), = sshd.listen_addresses(sshd.running_pid(node))
    sshd.stop_listener(node)  # someone restarts the node's sshd elsewhere, by hand
    node.config.write_text(sshd.render_config(node, ip, port + 1, sshd.current_user()))
    sshd.start(node, ip, port + 1)

    drifted = stix("drift", "e2e-port", "--format", "json")
    assert drifted.returncode == 2, drifted.stdout + drifted.stderr
    resource, = json.loads(drifted.stdout)["clusters"][0]["resources"]
    assert {"name": "port", "recorded": port, "real": port + 1} in resource["properties"]
    repaired = stix("up", "-y", str(task))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    (_, repaired_port), = sshd.listen_addresses(sshd.running_pid(node))  # same ip unless another node took it meanwhile
    assert repaired_port == port
    assert stix("drift", "e2e-port").returncode == 0, "state records where it listens now"
    assert stix("destroy", "-y", "e2e-port").returncode == 0


# --- faults during setup: each must end `up` naming the node, within a bound ---

SLOW_SETUP = 'if [ "$SKYPILOT_NODE_RANK" = 1 ]; then touch "$HOME/in-setup"; sleep 120; fi'


def _up_until_worker_in_setup(stix, stix_home, tmp_path, name: str, **env: str):
    import subprocess

    task = write_task(tmp_path, name, setup_extra=SLOW_SETUP)
    proc = stix.popen("up", "-y", str(task), **env)
    worker = stix_home / "clusters" / name / "nodes" / f"{name}-worker1"
    deadline = time.monotonic() + 180
    while not (worker / "home" / "in-setup").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"setup never started on the worker: {proc.communicate(timeout=30)[0]}")
        time.sleep(0.1)
    return proc, sshd.NodePaths(worker), subprocess


def _outcome(proc, started: float) -> tuple[int, str, float]:
    output, _ = proc.communicate(timeout=120)
    return proc.returncode, output, time.monotonic() - started


def test_setup_over_its_time_limit_fails_naming_the_node(stix, stix_home, tmp_path, engine):
    proc, _, _ = _up_until_worker_in_setup(stix, stix_home, tmp_path, "e2e-slow", STIX_SETUP_TIMEOUT="4")
    try:
        code, output, waited = _outcome(proc, time.monotonic())
        print(f"setup time limit 4s: up failed {waited:.1f}s after the worker's setup began")
        assert code != 0 and "e2e-slow-worker1" in output and "time limit 4s" in output, output
        assert waited < 4 + 10
    finally:
        assert stix("destroy", "-y", "e2e-slow").returncode == 0


def test_a_worker_sshd_killed_mid_setup_fails_setup_naming_it(stix, stix_home, tmp_path, engine):
    proc, worker, _ = _up_until_worker_in_setup(stix, stix_home, tmp_path, "e2e-kill", STIX_SETUP_TIMEOUT="60")
    try:
        daemons = {pid for pid in sshd.processes_under(worker.root) if sshd._cmdline(pid)[:1] != ["sleep"]
                   and " ".join(sshd._cmdline(pid)).startswith("sshd")}
        assert daemons, "the worker's sshd and its session"
        for pid in daemons:
            os.kill(pid, signal.SIGKILL)
        code, output, waited = _outcome(proc, time.monotonic())
        print(f"worker sshd killed mid-setup: up failed after {waited:.1f}s")
        assert code != 0 and "setup failed: e2e-kill-worker1" in output, output
        assert waited < 60, "well within the setup time limit"
    finally:
        assert stix("destroy", "-y", "e2e-kill").returncode == 0


def test_a_frozen_worker_is_reported_within_the_keepalive_bound(stix, stix_home, tmp_path, engine):
    proc, worker, _ = _up_until_worker_in_setup(stix, stix_home, tmp_path, "e2e-frozen", STIX_SETUP_TIMEOUT="600",
                                                STIX_SSH_KEEPALIVE="1", STIX_SSH_KEEPALIVE_COUNT="3")
    frozen = sshd.processes_under(worker.root)
    try:
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        code, output, waited = _outcome(proc, time.monotonic())
        print(f"worker frozen mid-setup: up failed after {waited:.1f}s (keepalive bound 3s)")
        assert code != 0 and "e2e-frozen-worker1" in output and "no reply" in output, output
        assert waited < 3 + 5
    finally:
        for pid in frozen:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        assert stix("destroy", "-y", "e2e-frozen").returncode == 0


def test_autostop_runs_the_tasks_hook_on_the_head_before_stopping(stix, stix_home, tmp_path, engine):
    from stix.agent.node_agent import HOOK_LOG_FILE, REMOTE_DIR

    task = tmp_path / "e2e-hook.yaml"
    task.write_text("name: e2e-hook\nresources:\n  infra: local\n  autostop:\n    idle_minutes: 90\n    hook_timeout: 60\n"
                    "    hook: |\n      echo \"saved $((6 * 7))\" > ~/hook-out.txt\n      echo hook-to-log\n      exit 5\n"
                    "run: echo ok\n")
    up = stix("up", "-y", str(task), "-i", "0.1")  # -i wins over idle_minutes; the task's hook still runs
    assert up.returncode == 0, up.stdout + up.stderr
    root = stix_home / "clusters" / "e2e-hook"
    wait_for(lambda: not sshd.processes_under(root), 60, "autostop to stop the idle cluster")
    home = root / "nodes" / "e2e-hook-head" / "home"
    assert (home / "hook-out.txt").read_text() == "saved 42\n", "the hook ran on the head before the stop"
    log = (home / REMOTE_DIR / HOOK_LOG_FILE).read_text()
    assert "hook-to-log" in log and "the hook exited 5" in log, log
    refreshed = stix("status", "--refresh")
    assert " STOPPED " in next(line for line in refreshed.stdout.splitlines() if "e2e-hook" in line and "│" in line)
    assert stix("destroy", "-y", "e2e-hook").returncode == 0
