import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stix.agent.node_agent import CONTAINER_FILE, REMOTE_DIR
from stix.containers import NO_RUNTIME_EXIT, docker_image, node_container, prepare_script, vm_image
from stix.hooks import shell_command

# A stand-in for docker/podman on PATH: records its argv, and for `exec` the values of the variables passed by
# name (-e KEY), then runs the command in the -w directory, as the runtime would inside the container.
FAKE_RUNTIME = """#!/bin/bash
echo "ARGV $*" >> "$FAKE_LOG"
case "$1" in
  info) exit "${FAKE_INFO_EXIT:-0}" ;;
  start) exit "${FAKE_START_EXIT:-0}" ;;
  image) exit 1 ;;
  inspect) exit 1 ;;
  exec) shift
        while [ "$1" = -e ]; do echo "ENV $2=${!2-unset}" >> "$FAKE_LOG"; shift 2; done
        [ "$1" = -w ] && cd "$2" && shift 2
        echo "CONTAINER $1" >> "$FAKE_LOG"; shift
        [ -n "$FAKE_DETACHED" ] || exec "$@"
        setsid "$@" & wait $! ;;  # as docker's: killing the exec client leaves the process in the container
  *) exit 0 ;;
esac
"""


def fake_runtime(tmp_path: Path, *names: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in names:
        (bin_dir / name).write_text(FAKE_RUNTIME)
        (bin_dir / name).chmod(0o755)
    tools = tmp_path / "tools"  # what the scripts use, and no real docker or podman this machine may have
    tools.mkdir(exist_ok=True)
    for tool in ("bash", "mkdir", "rm", "printf", "cat", "mv", "setsid", "sleep"):
        if not (tools / tool).exists():
            (tools / tool).symlink_to(shutil.which(tool))
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": f"{bin_dir}:{tools}", "HOME": str(home), "FAKE_LOG": str(tmp_path / "runtime.log")}


def log(tmp_path: Path) -> str:
    path = tmp_path / "runtime.log"
    return path.read_text() if path.exists() else ""


def test_docker_prefix_selects_a_container_not_a_vm_image():
    assert docker_image("docker:ubuntu:22.04") == "ubuntu:22.04"
    assert docker_image("ami-0123") is None and docker_image({"us-east-1": "docker:x"}) is None
    assert docker_image("docker:") is None
    assert vm_image("docker:ubuntu:22.04", "aws") == "", "docker: boots the cloud's default image"
    assert vm_image("ami-0123", "aws") == "ami-0123"
    assert vm_image("docker:ubuntu:22.04", "kubernetes") == "docker:ubuntu:22.04", "a pod is the image"
    assert node_container("docker:ubuntu:22.04", "gcp") == "ubuntu:22.04"
    assert node_container("docker:ubuntu:22.04", "kubernetes") is None
    assert node_container("ami-0123", "aws") is None


def test_a_docker_image_is_runnable_on_the_local_cloud_and_a_vm_image_is_not():
    from stix.compile import unsupported_fields
    from stix.models.task import Task

    docker = Task.model_validate({"resources": {"infra": "local", "image_id": "docker:ubuntu"}, "run": "true"})
    assert unsupported_fields(docker, "local") == [] and unsupported_fields(docker) == []
    vm = Task.model_validate({"resources": {"infra": "local", "image_id": "ami-0123"}, "run": "true"})
    assert unsupported_fields(vm, "local") == ["resources.image_id on the local cloud"]


def test_setup_runs_in_the_nodes_container_with_env_passed_by_name(tmp_path):
    env = fake_runtime(tmp_path, "podman")
    record = Path(env["HOME"]) / REMOTE_DIR / CONTAINER_FILE
    record.parent.mkdir(parents=True)
    record.write_text("podman stix-c-head\n")
    cwd = tmp_path / "work dir"
    secret = "s3cr3t 'v' $HOME"
    command = shell_command('printf "%s|%s|%s" "$SECRET" "$SKYPILOT_NODE_RANK" "$PWD"',
                            {"SECRET": secret, "SKYPILOT_NODE_RANK": "0"}, str(cwd))
    out = subprocess.run(["/bin/bash", "-c", command], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"{secret}|0|{cwd}"
    calls = log(tmp_path)
    assert "ARGV start stix-c-head" in calls and "CONTAINER stix-c-head" in calls
    assert f"ENV SECRET={secret}" in calls and "ENV CUDA_VISIBLE_DEVICES=unset" in calls
    argv = [line for line in calls.splitlines() if line.startswith("ARGV exec")]
    assert argv and "s3cr3t" not in argv[0] and f"-w {cwd} stix-c-head bash -c" in argv[0]


def test_without_a_container_the_command_runs_on_the_node(tmp_path):
    env = fake_runtime(tmp_path, "podman")
    out = subprocess.run(["/bin/bash", "-c", shell_command('echo "on $X"', {"X": "host"}, str(tmp_path / "w"))],
                         capture_output=True, text=True, env=env)
    assert out.stdout == "on host\n" and log(tmp_path) == ""


def test_a_container_that_cannot_start_fails_the_command(tmp_path):
    env = {**fake_runtime(tmp_path, "docker"), "FAKE_START_EXIT": "1"}
    record = Path(env["HOME"]) / REMOTE_DIR / CONTAINER_FILE
    record.parent.mkdir(parents=True)
    record.write_text("docker stix-c-head\n")
    out = subprocess.run(["/bin/bash", "-c", shell_command("echo ran", {}, str(tmp_path / "w"))],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 125 and "ran" not in out.stdout
    assert out.stderr.strip() == "stix: the node's container could not be started"


def run_prepare(tmp_path: Path, env: dict[str, str], image) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/bash", "-c", prepare_script(image, "stix-c-head")], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("runtimes, info_exit", [((), "0"), (("docker",), "1")])
def test_a_node_without_a_working_runtime_is_refused(tmp_path, runtimes, info_exit):
    env = {**fake_runtime(tmp_path, *runtimes), "FAKE_INFO_EXIT": info_exit}  # a docker client without a daemon
    assert run_prepare(tmp_path, env, "ubuntu:22.04").returncode == NO_RUNTIME_EXIT
    assert "pull" not in log(tmp_path)


def test_prepare_pulls_starts_host_networked_with_the_home_and_records_the_container(tmp_path):
    env = fake_runtime(tmp_path, "podman")
    done = run_prepare(tmp_path, env, "ubuntu:22.04")
    assert done.returncode == 0, done.stderr
    calls = log(tmp_path)
    home = env["HOME"]
    assert "ARGV pull ubuntu:22.04" in calls
    assert (f"ARGV run -d --name stix-c-head --net=host -v {home}:{home} -e HOME={home} -w {home} "
            "--entrypoint sleep ubuntu:22.04 infinity") in calls
    record = Path(home) / REMOTE_DIR / CONTAINER_FILE
    assert record.read_text() == "podman stix-c-head\n"


def test_the_agent_runs_a_jobs_ranks_through_the_container_wrapper(tmp_path, monkeypatch):
    from stix.agent import node_agent as na

    env = fake_runtime(tmp_path, "docker")
    record = Path(env["HOME"]) / REMOTE_DIR / CONTAINER_FILE
    record.parent.mkdir(parents=True)
    record.write_text("docker stix-c-head\n")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(na, "ROOT", tmp_path / "agent")
    node = {"rank": 0, "name": "c-head", "ip": "127.0.0.1", "port": 22, "user": "u", "home": env["HOME"], "gpus": 0,
            "cpus": 2}
    na.ROOT.mkdir()
    (na.ROOT / na.CLUSTER_FILE).write_text(
        '{"cluster": "c", "cloud": "local", "key": "", "known_hosts": "", "nodes": [%s]}' % __import__("json").dumps(node))
    job = na.enqueue({"name": "j", "script": 'echo "in $PWD with $TOKEN"', "cpus": 1, "gpus": 0,
                      "ranks": [{"env": {"TOKEN": "t0k"}, "cwd": str(tmp_path / "w")}]})
    scheduler = na.Scheduler()
    scheduler.schedule()
    from tests.polling import wait_for

    wait_for(lambda: scheduler.reap() or job not in scheduler.running, 30, "the job to end")
    row = dict(scheduler.conn.execute("SELECT status, detail FROM jobs WHERE id = ?", (job,)).fetchone())
    assert row["status"] == na.SUCCEEDED, row
    assert (na.job_dir(job) / na.rank_log(0)).read_text() == f"in {tmp_path / 'w'} with t0k\n"
    assert "CONTAINER stix-c-head" in log(tmp_path) and "ENV TOKEN=t0k" in log(tmp_path)
    assert os.environ["HOME"] == env["HOME"]


def test_the_refusal_is_one_line_naming_the_field_the_nodes_and_the_way_out():
    from stix.containers import refusal
    from stix.errors import PrerequisiteMissing

    assert refusal("ubuntu", "dev", [("dev-head", 0, []), ("dev-worker1", 0, [])]) is None
    bare = refusal("ubuntu", "dev", [("dev-head", NO_RUNTIME_EXIT, []), ("dev-worker1", 0, [])])
    assert isinstance(bare, PrerequisiteMissing) and "\n" not in str(bare)
    assert str(bare).startswith("resources.image_id docker:ubuntu: the nodes have neither docker nor podman (dev-head); ")
    assert "cluster dev is up: `stix destroy dev` removes it" in str(bare)
    pull = refusal("ubuntu", "dev", [("dev-head", 125, ["Trying to pull...", "Error: no such host", ""])])
    assert "the container could not start on dev-head (exit 125: Error: no such host)" in str(pull)


@pytest.mark.parametrize("image_id, ami", [("docker:nvcr.io/nvidia/pytorch:24.01-py3", ""), ("ami-0abc", "ami-0abc")])
def test_compile_hands_the_cloud_its_default_image_for_a_docker_image(tmp_path, image_id, ami):
    from stix.catalog.load import load_catalog
    from stix.compile import compile_spec
    from stix.home import StixHome
    from stix.inputs import cluster_inputs
    from stix.models.task import Task
    from stix.optimizer import HostLimits, optimize

    task = Task.model_validate({"resources": {"infra": "aws/us-east-1", "cpus": "2+", "image_id": image_id}})
    chosen = optimize(task.resources, 1, load_catalog(), ["aws"], host=HostLimits(2, 8)).chosen
    inputs = cluster_inputs(StixHome(tmp_path / "home"), "c", chosen, 1, ("198.51.100.7/32",))
    assert compile_spec(task, "c", chosen, inputs).image_id == ami


def test_cancelling_a_job_kills_its_processes_in_the_container(tmp_path, monkeypatch):
    """The host's process group holds only the runtime's exec client; the job in the container has its own."""
    import argparse
    import json

    from stix.agent import node_agent as na
    from tests.polling import wait_for

    env = fake_runtime(tmp_path, "docker")
    record = Path(env["HOME"]) / REMOTE_DIR / CONTAINER_FILE
    record.parent.mkdir(parents=True)
    record.write_text("docker stix-c-head\n")
    for key, value in {**env, "FAKE_DETACHED": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(na, "ROOT", tmp_path / "agent")
    node = {"rank": 0, "name": "c-head", "ip": "127.0.0.1", "port": 22, "user": "u", "home": env["HOME"], "gpus": 0,
            "cpus": 2}
    na.ROOT.mkdir()
    (na.ROOT / na.CLUSTER_FILE).write_text(json.dumps(
        {"cluster": "c", "cloud": "local", "key": "", "known_hosts": "", "nodes": [node]}))
    sleeper = tmp_path / "sleeper"
    job = na.enqueue({"name": "j", "script": f"sleep 300 & echo $! > {sleeper}; wait", "cpus": 1, "gpus": 0,
                      "ranks": [{"env": {}, "cwd": str(tmp_path / "w")}]})
    scheduler = na.Scheduler()
    scheduler.schedule()
    wait_for(lambda: sleeper.exists() and sleeper.read_text().strip(), 30, "the job to start its sleep")
    pid = int(sleeper.read_text())
    cpids = Path(env["HOME"]) / REMOTE_DIR / na.CPIDS_DIR
    try:
        assert [p.name for p in cpids.iterdir()] == [f"{job}-0"], "the rank's group in the container is recorded"
        na.cmd_cancel(argparse.Namespace(all=False, jobs=[job]))
        alive = lambda: Path(f"/proc/{pid}").exists() and b") Z" not in Path(f"/proc/{pid}/stat").read_bytes()
        wait_for(lambda: not alive(), 10, "the job's sleep in the container to be killed")
        wait_for(lambda: not list(cpids.iterdir()), 10, "the record to go")
    finally:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
