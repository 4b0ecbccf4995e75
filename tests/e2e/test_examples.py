"""Every example in examples/ runs for real: the CLI as a user types it (from the repository root), the real
engine, real sshd nodes on the local cloud, the local object store; each test asserts the outcome the example
promises (in its logs, over HTTP, in a bucket) and tears everything down."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ENGINE_CACHE, REPO
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

EXAMPLES = REPO / "examples"
UP_S = 300.0


def example(name: str) -> str:
    return str(EXAMPLES / f"{name}.yaml")


def lines_of(output: str, rank: int) -> list[str]:
    role = "head" if rank == 0 else f"worker{rank}"
    prefix = f"({role}, rank={rank}) "
    return [line[len(prefix):] for line in output.splitlines() if line.startswith(prefix)]


def ran(result) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def down(stix, cluster: str) -> None:
    """The success path's teardown, asserted; a test's `finally` uses plain_down, so a failure before it is the
    error the test reports."""
    assert stix("down", "-y", cluster, cwd=REPO).returncode == 0
    assert "No clusters." in stix("status").stdout


def plain_down(stix, cluster: str) -> None:
    stix("down", "-y", cluster, cwd=REPO)


def delete_buckets(stix, *names: str) -> None:
    result = stix("storage", "delete", "-y", *names)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hello(stix, engine):
    try:
        out = ran(stix("up", "-y", example("hello"), cwd=REPO, timeout=UP_S))
        for rank in (0, 1):
            mine = lines_of(out, rank)
            assert f"hello from stix: rank {rank} of 2" in mine and "setup ran before run" in mine, out
        down(stix, "hello")
    finally:
        plain_down(stix, "hello")


def test_checkpoints(stix, engine):
    """The relaunch that resumes from the bucket is tests/e2e/test_storage.py's; bucket-mount reads a bucket
    from a second cluster. Here: the example as written, and its bucket outliving the cluster."""
    try:
        first = ran(stix("up", "-y", example("checkpoints"), cwd=REPO, timeout=UP_S))
        assert "rank 0 saved checkpoint 1" in lines_of(first, 0), first
        assert "rank 1 sees checkpoints: model-1.bin step " in lines_of(first, 1), first
        assert "name: hello" in lines_of(first, 1), "the COPY-ed config reached the node"
        down(stix, "checkpoints")
        listed = {row["name"]: row for row in json.loads(ran(stix("storage", "ls", "--format", "json")))}
        assert listed["stix-example-checkpoints"]["clusters"] == [], listed
    finally:
        plain_down(stix, "checkpoints")
        delete_buckets(stix, "stix-example-checkpoints", "stix-example-config")


READER = """name: reader
resources:
  infra: local
file_mounts:
  ~/results:
    name: stix-example-bucket-results
    mode: MOUNT
run: echo "summary $(cat ~/results/summary.txt)"
"""


def test_bucket_mount(stix, engine, tmp_path):
    try:
        out = ran(stix("up", "-y", example("bucket-mount"), cwd=REPO, timeout=UP_S))
        assert "to local://stix-example-bucket-data: 4 file(s) sent" in out, out
        assert "rank 0 counted 17 words" in lines_of(out, 0) and "rank 1 counted 14 words" in lines_of(out, 1), out
        assert "total words: 31" in lines_of(out, 0), out
        down(stix, "bucket-mount")
        listed = {row["name"]: row for row in json.loads(ran(stix("storage", "ls", "--format", "json")))}
        assert {"stix-example-bucket-data", "stix-example-bucket-results"} <= set(listed), listed
        assert listed["stix-example-bucket-results"]["clusters"] == [], "the results outlive their cluster"
        # A second cluster mounts the output bucket and reads what the first one wrote.
        (tmp_path / "reader.yaml").write_text(READER)
        assert "summary 31" in lines_of(ran(stix("up", "-y", str(tmp_path / "reader.yaml"), timeout=UP_S)), 0)
        down(stix, "reader")
    finally:
        for cluster in ("bucket-mount", "reader"):
            plain_down(stix, cluster)
        delete_buckets(stix, "stix-example-bucket-data", "stix-example-bucket-results")


def fetch(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


def test_http_service(stix, engine):
    try:
        ran(stix("up", "-y", "-d", example("http-service"), cwd=REPO, timeout=UP_S))
        address = ran(stix("endpoints", "http-service", "8080")).strip()
        match = re.fullmatch(r"8080: (127\.0\.0\.\d+:8080)", address)
        assert match, address
        body = wait_for(lambda: fetch(f"http://{match.group(1)}/"), timeout=60, interval=0.2,
                        what="the service to answer on its endpoint")
        assert body["message"] == "hello from stix" and body["node_rank"] == 0, body
        assert fetch(f"http://{match.group(1)}/health") == {"status": "ok"}
        down(stix, "http-service")
    finally:
        plain_down(stix, "http-service")


def prepared_venv(name: str, *packages: str) -> Path:
    """A virtualenv with `packages`, made once under the stix cache and shared by every node (they share this
    machine's filesystem): uv installs it (hardlinks from its cache when warm), so an example's own
    `pip install` finds everything already satisfied. Returns its path."""
    venv = Path(ENGINE_CACHE) / "examples" / name
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be making the same one
        done = venv / ".stix-complete"
        if not done.exists():
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
            uv = Path(sys.executable).with_name("uv")
            install = [str(uv), "pip", "install", "-q", "--python", str(venv / "bin" / "python")] if uv.exists() \
                else [str(venv / "bin" / "pip"), "install", "-q"]
            subprocess.run([*install, *packages], check=True, timeout=900, env={
                **os.environ, "UV_LINK_MODE": "hardlink", "UV_CACHE_DIR": str(venv.parent / "uv-cache"),
                **({"UV_FIND_LINKS": os.environ["PIP_FIND_LINKS"]}
                   if os.path.isdir(os.environ.get("PIP_FIND_LINKS", "")) else {}),
                **({"SSL_CERT_FILE": os.environ["PIP_CERT"]} if os.environ.get("PIP_CERT") else {})})
            done.write_text(" ".join(packages))
            print(f"{name}: installed {' '.join(packages)} in {time.monotonic() - started:.0f}s")
    return venv


def test_pytorch_ddp(stix, engine):
    venv = prepared_venv("torch", "torch", "numpy")
    try:
        out = ran(stix("up", "-y", example("pytorch-ddp"), "--env", f"TORCH_VENV={venv}", cwd=REPO, timeout=UP_S))
        head, worker = lines_of(out, 0), lines_of(out, 1)
        assert any(line.startswith("rank 0 of 2 on 0/cpu") for line in head), out
        assert any(line.startswith("rank 1 of 2 on 1/cpu") for line in worker), out
        steps = [re.fullmatch(r"step (\d+) world_size 2 loss ([\d.]+)", line) for line in head]
        losses = [float(m.group(2)) for m in steps if m]
        assert len(losses) == 5 and losses[-1] < losses[0], head
        down(stix, "pytorch-ddp")
    finally:
        plain_down(stix, "pytorch-ddp")


def test_ray_cluster(stix, engine):
    venv = prepared_venv("ray", "ray")
    try:
        out = ran(stix("up", "-y", example("ray-cluster"), "--env", f"RAY_VENV={venv}", cwd=REPO, timeout=UP_S))
        head = lines_of(out, 0)
        assert "ray nodes: 2" in head, out
        ips = next(line for line in out.splitlines() if "tasks ran on:" in line).split(": ", 1)[1].split()
        assert len(set(ips)) == 2 and all(ip.startswith("127.0.0.") for ip in ips), out
        down(stix, "ray-cluster")
        assert not ray_processes_of(venv), "Ray outlived the run"
    finally:
        plain_down(stix, "ray-cluster")


def ray_processes_of(venv: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(venv).encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids


def test_managed_checkpoint(stix, stix_home, engine):
    from stix.home import StixHome
    from stix.managed import store as st
    from tests.controller_exit import until_controller_exits
    from tests.e2e.test_managed_jobs import kill_node

    home, quick_exit = StixHome(stix_home), {"STIX_CONTROLLER_IDLE_EXIT": "1"}
    jobs = st.JobStore(home)

    def logs() -> list[str]:
        return [jobs.log_path(1, a.index, a.attempt).read_text() for a in jobs.attempts(1)]

    def controller_log() -> str:
        return jobs.controller_log.read_text()[-2000:] if jobs.controller_log.exists() else ""

    try:
        ran(stix("jobs", "launch", "-d", "-y", example("managed-checkpoint"), cwd=REPO, **quick_exit))
        wait_for(lambda: any("step 3 saved" in log for log in logs()), timeout=UP_S, interval=0.2,
                 what="the job's third checkpoint")
        kill_node(home, jobs.get(1).tasks[0].cluster)  # the node is preempted
        wait_for(lambda: jobs.get(1).status in st.TERMINAL, timeout=UP_S, interval=0.5, what="the job to end")
        row = json.loads(ran(stix("jobs", "queue", "--all", "--format", "json")))[0]
        assert (row["job_status"], row["recovery_count"]) == ("SUCCEEDED", 1), (row, logs(), controller_log())
        first, second = logs()
        saved = [int(n) for n in re.findall(r"\bstep (\d+) saved$", first, re.M)]
        resumed_at = re.search(r"resumed from step (\d+)$", second, re.M)
        assert resumed_at, second
        resumed = int(resumed_at.group(1))
        assert "starting from step 0" in first and 1 <= resumed <= saved[-1], (first, second)
        assert re.findall(r"\bstep (\d+) saved$", second, re.M) == [str(n) for n in range(resumed + 1, 13)], second
        assert "training done at step 12" in second
    finally:
        until_controller_exits(home, timeout=120)
        delete_buckets(stix, "stix-example-managed-checkpoints")


COVERED = {"hello", "checkpoints", "http-service", "pytorch-ddp", "ray-cluster", "managed-checkpoint", "bucket-mount",
           "http-serve"}
"""http-serve runs end to end in tests/e2e/test_serve.py."""


def test_every_example_has_a_test():
    assert {path.stem for path in EXAMPLES.glob("*.yaml")} == COVERED


@pytest.mark.parametrize("name", sorted(COVERED))
def test_every_example_validates(stix, name):
    result = stix("validate", example(name), cwd=REPO)
    assert result.returncode == 0 and result.stdout.strip() == f"{example(name)}: OK", result.stdout + result.stderr
