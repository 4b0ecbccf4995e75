"""End to end: image_id docker:IMAGE runs setup and run in a real podman container on each local node.

There is no registry here: the image is imported from a tarball of this machine's own bash, sleep and cat
(with their libraries), plus a marker file only the image has. scripts/setup.sh installs podman (and runc, and
the limits this sandbox's kernel allows) when --test is given.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from stix.components.local import sshd
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

IMAGE = "localhost/stix-e2e-rootfs:1"
MARKER = "/etc/stix-e2e-image"


def build_image(tmp_path: Path) -> None:
    """A tiny local image: bash, sleep and cat with their shared libraries, and MARKER."""
    root = tmp_path / "rootfs"
    for tool in ("bash", "sleep", "cat", "mkdir"):
        binary = Path(shutil.which(tool) or tool).resolve()
        libs = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout.split()
        for path in [binary, Path("/bin") / tool, *(Path(p) for p in libs if p.startswith("/"))]:
            target = root / str(path).lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and not target.exists():
                shutil.copy2(path.resolve(), target)
    (root / MARKER.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (root / MARKER.lstrip("/")).write_text("inside\n")
    tarball = tmp_path / "rootfs.tar"
    with tarfile.open(tarball, "w") as tar:
        tar.add(root, arcname=".")
    subprocess.run(["podman", "import", str(tarball), IMAGE], check=True, capture_output=True, timeout=120)


@pytest.fixture
def image(tmp_path):
    assert shutil.which("podman"), "scripts/setup.sh --test installs podman"
    build_image(tmp_path)
    names: list[str] = []
    yield names
    for name in names:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, timeout=120)


def test_setup_and_run_execute_in_the_docker_image_on_every_node(stix, stix_home, tmp_path, engine, image):
    task = tmp_path / "ctr.yaml"
    task.write_text(
        f"name: e2e-ctr\nnum_nodes: 2\nresources:\n  infra: local\n  image_id: docker:{IMAGE}\n"
        "envs:\n  GREETING: \"hi 'there'\"\n"
        f"setup: |\n  echo \"setup $(cat {MARKER}) $SKYPILOT_NODE_RANK\" > ~/setup-$SKYPILOT_NODE_RANK.txt\n"
        f"run: |\n  echo \"run $(cat {MARKER}) rank=$SKYPILOT_NODE_RANK user=$SKYPILOT_USER $GREETING\"\n"
        "  cat ~/setup-$SKYPILOT_NODE_RANK.txt\n")
    image.extend(["stix-e2e-ctr-head", "stix-e2e-ctr-worker1"])
    assert not Path(MARKER).exists(), "the marker must exist only inside the image"
    up = stix("up", "-y", str(task), timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    for rank, role in ((0, "head"), (1, "worker1")):
        assert f"({role}, rank={rank}) run inside rank={rank} user=" in up.stdout, up.stdout
        assert "hi 'there'" in up.stdout
        assert f"({role}, rank={rank}) setup inside {rank}" in up.stdout, "setup ran in the container, home mounted"
    exec_ = stix("exec", "e2e-ctr", f"cat {MARKER}")
    assert exec_.returncode == 0 and "(head, rank=0) inside" in exec_.stdout, exec_.stdout + exec_.stderr
    assert stix("stop", "-y", "e2e-ctr").returncode == 0
    assert [running(name) for name in image] == ["false", "false"], "a stopped node's container is stopped"
    started = stix("start", "-y", "e2e-ctr", timeout=300)
    assert started.returncode == 0, started.stdout + started.stderr
    again = stix("exec", "e2e-ctr", f"cat {MARKER}")
    assert again.returncode == 0 and "(head, rank=0) inside" in again.stdout, again.stdout + again.stderr
    assert stix("destroy", "-y", "e2e-ctr").returncode == 0
    assert not sshd.processes_under(stix_home)
    assert [running(name) for name in image] == [None, None], "a removed node's container is removed"


def running(name: str):
    """podman's State.Running of the container ('true'/'false'), None when there is no such container."""
    done = subprocess.run(["podman", "inspect", "-f", "{{.State.Running}}", name], capture_output=True, text=True,
                          timeout=60)
    return done.stdout.strip() if done.returncode == 0 else None


def test_cancel_kills_the_jobs_processes_inside_the_container_on_every_node(stix, stix_home, tmp_path, engine, image):
    """The host's process group of a rank holds only podman's exec client: the job in the container must die too."""
    task = tmp_path / "ckill.yaml"
    task.write_text(f"name: e2e-ckill\nnum_nodes: 2\nresources:\n  infra: local\n  image_id: docker:{IMAGE}\n"
                    "run: 'true'\n")
    image.extend(["stix-e2e-ckill-head", "stix-e2e-ckill-worker1"])
    up = stix("up", "-y", str(task), timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    long = tmp_path / "long.yaml"
    long.write_text(f"num_nodes: 2\nresources:\n  infra: local\n  image_id: docker:{IMAGE}\nrun: sleep 7391\n")
    submitted = stix("exec", "-d", "e2e-ckill", str(long))
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr

    def in_container(name: str) -> bool:
        top = subprocess.run(["podman", "top", name, "args"], capture_output=True, text=True, timeout=60)
        return "sleep 7391" in top.stdout

    def sleepers() -> list[str]:  # the container's processes are the host's too
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and (entry / "cmdline").read_bytes() == b"sleep\0" + b"7391\0":
                    found.append(entry.name)
            except OSError:
                pass
        return found

    wait_for(lambda: all(in_container(name) for name in image), timeout=60, what="the job in both containers")
    assert len(sleepers()) == 2
    cancelled = stix("cancel", "e2e-ckill", "2")
    assert cancelled.returncode == 0 and cancelled.stdout.strip() == "cancelled: 2", cancelled.stdout + cancelled.stderr
    wait_for(lambda: not sleepers(), timeout=30, what="the job's processes in the containers to be killed")
    assert not any(in_container(name) for name in image)
    assert stix("destroy", "-y", "e2e-ckill").returncode == 0
    assert [running(name) for name in image] == [None, None]


def test_an_up_without_an_image_forgets_the_container_an_earlier_up_recorded(stix, stix_home, tmp_path, engine):
    """No podman needed: a record left on the head (as an up with docker:IMAGE writes) is removed by the next `up`
    without one, so the run executes on the node itself (with the record, it would go to that container)."""
    import json

    from stix.agent.node_agent import CONTAINER_FILE, REMOTE_DIR

    task = tmp_path / "bare.yaml"
    task.write_text("name: e2e-bare\nresources:\n  infra: local\nrun: echo on the node\n")
    first = stix("up", "-y", str(task), timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    info = json.loads((stix_home / "clusters" / "e2e-bare" / "info.json").read_text())
    record = Path(info["nodes"][0]["home"]) / REMOTE_DIR / CONTAINER_FILE
    record.write_text("podman stix-e2e-bare-head\n")
    again = stix("up", "-y", str(task), timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(head, rank=0) on the node" in again.stdout
    assert not record.exists(), "the record an earlier up left was not removed"
    assert stix("destroy", "-y", "e2e-bare").returncode == 0
    assert not sshd.processes_under(stix_home)
