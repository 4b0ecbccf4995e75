"""End to end: `workdir: {url, ref}` served by a real `git daemon` on loopback, cloned on real sshd nodes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from tests.polling import wait_for
from tests.git_repos import commit, git_in as _git, two_branches_and_a_tag

pytestmark = pytest.mark.e2e

TASK = """
name: {name}
num_nodes: 2
resources:
  infra: local
workdir:
  url: {url}
  {ref_line}
run: |
  echo "VERSION=$(cat version.txt) AT=$(pwd)"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(git:// URL, the repository behind it): main (version.txt main-1, tag v1) and dev (dev-1)."""
    base = tmp_path / "served"
    repo = base / "origin"
    two_branches_and_a_tag(repo)
    port = free_port()
    daemon = subprocess.Popen(["git", "daemon", "--export-all", f"--base-path={base}", "--listen=127.0.0.1",
                               f"--port={port}", "--reuseaddr", "--informative-errors", str(base)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    url = f"git://127.0.0.1:{port}/origin"
    try:
        wait_for(lambda: daemon.poll() is not None or subprocess.run(
            ["git", "ls-remote", url], capture_output=True, timeout=10).returncode == 0, 30, "git daemon to serve")
        assert daemon.poll() is None, "git daemon exited"
        yield url, repo
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)  # the daemon and the children it forked per connection
        daemon.wait(timeout=30)


def write_task(tmp_path: Path, name: str, url: str, ref: str | None) -> Path:
    path = tmp_path / f"{name}-{ref or 'default'}.yaml"
    path.write_text(TASK.format(name=name, url=url, ref_line=f"ref: {ref}" if ref else ""))
    return path


def versions(output: str) -> dict[int, str]:
    out = {}
    for rank, role in ((0, "head"), (1, "worker1")):
        prefix = f"({role}, rank={rank}) VERSION="
        found = [line[len(prefix):].split()[0] for line in output.splitlines() if line.startswith(prefix)]
        out[rank] = found[-1] if found else ""
    return out


def stack_files(home: Path, cluster: str) -> list[Path]:
    return [p for p in home.rglob(f"{cluster}.json*")]


def test_git_workdir_clones_on_every_node_follows_the_branch_and_exec(stix, stix_home, tmp_path, served, engine):
    url, repo = served
    task = write_task(tmp_path, "e2e-git", url, "dev")
    first = stix("up", "-y", str(task))
    try:
        assert first.returncode == 0, first.stdout + first.stderr
        assert versions(first.stdout) == {0: "dev-1", 1: "dev-1"}
        dev1 = _git(repo, "rev-parse", "dev")
        assert f"Workdir {url} at dev: commit {dev1[:12]} on 2 node(s)." in first.stdout + first.stderr
        assert "/sky_workdir" in first.stdout

        _git(repo, "checkout", "-q", "dev")
        commit(repo, "version.txt", "dev-2\n")  # the branch moves on the server
        second = stix("up", "-y", str(task))
        assert second.returncode == 0, second.stdout + second.stderr
        assert versions(second.stdout) == {0: "dev-2", 1: "dev-2"}
        assert "Workdir synced: 2 changed file(s) sent to 2 node(s)." in second.stdout  # one file on each node

        by_tag = stix("exec", "e2e-git", str(write_task(tmp_path, "e2e-git", url, "v1")))
        assert by_tag.returncode == 0, by_tag.stdout + by_tag.stderr
        assert versions(by_tag.stdout) == {0: "main-1", 1: "main-1"}

        # The same repository by another URL (its path: the local nodes share this machine's disk) is not the
        # clone the nodes hold: refused in one line naming the node, and the clone is left as it was.
        elsewhere = stix("exec", "e2e-git", str(write_task(tmp_path, "e2e-git", str(repo), "main")))
        assert elsewhere.returncode == 2, elsewhere.stdout + elsewhere.stderr
        error = elsewhere.stderr.strip()
        assert error.startswith("stix: error: workdir on e2e-git-") and len(error.splitlines()) == 1, error
        assert "is not a clone of the workdir's URL" in error
        head_workdir = stix_home / "clusters" / "e2e-git" / "nodes" / "e2e-git-head" / "home" / "sky_workdir"
        assert (head_workdir / "version.txt").read_text() == "main-1\n"
    finally:
        assert stix("destroy", "-y", "e2e-git").returncode == 0


@pytest.mark.parametrize("case", ["closed port", "unknown ref"])
def test_an_unreachable_url_or_unknown_ref_is_refused_before_anything_exists(stix, stix_home, tmp_path, served,
                                                                            engine, case):
    url, _ = served
    if case == "closed port":
        bad_url = f"git://127.0.0.1:{free_port()}/origin"
        task, field = write_task(tmp_path, "e2e-gitbad", bad_url, "dev"), "workdir.url"
    else:
        task, field = write_task(tmp_path, "e2e-gitbad", url, "no-such-branch"), "workdir.ref"
    for command in (("up", "-y"), ("preview",)):
        result = stix(*command, str(task))
        assert result.returncode == 2, result.stdout + result.stderr
        error = result.stderr.strip()
        assert error.startswith(f"stix: error: {field} ") and len(error.splitlines()) == 1, error
        assert "Traceback" not in result.stdout + result.stderr
    assert stix("status").stdout.strip() == "No clusters."
    assert not list(stix_home.glob("clusters/*/nodes/*"))
    assert not stack_files(stix_home, "e2e-gitbad")


def test_an_ssh_url_with_git_ssh_key_path(stix, stix_home, tmp_path, engine, monkeypatch):
    """The repository is served over ssh by the cluster's own head node (its sshd, its key): the key named by
    GIT_SSH_KEY_PATH is checked here with this machine's ssh and sent to the node (0600) for the clone."""
    from stix.agent.node_agent import known_hosts_line
    from stix.cluster_jobs import load_info
    from stix.home import StixHome

    repo = two_branches_and_a_tag(tmp_path / "by-ssh")
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("name: e2e-gitssh\nresources:\n  infra: local\n")
    up = stix("up", "-y", str(cluster))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        info = load_info(StixHome.from_env(), "e2e-gitssh")
        head = info.head
        known = tmp_path / "known_hosts"  # this machine's ssh checks the host strictly, against this file
        known.write_text(known_hosts_line(head.ip, head.port, head.host_public_key))
        url = f"ssh://{head.user}@{head.ip}:{head.port}{repo}"
        task = tmp_path / "by-ssh.yaml"
        task.write_text(TASK.format(name="e2e-gitssh", url=url, ref_line="ref: dev").replace("num_nodes: 2", ""))
        env = {"GIT_SSH_KEY_PATH": info.ssh_private_key_path, "GIT_SSH_COMMAND": f"ssh -o UserKnownHostsFile={known}"}
        ran = stix("exec", "e2e-gitssh", str(task), **env)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert versions(ran.stdout)[0] == "dev-1"
        sent = Path(head.home) / ".stix-git" / "id"
        assert sent.stat().st_mode & 0o777 == 0o600
        assert sent.read_bytes() == Path(info.ssh_private_key_path).read_bytes()
        assert "PRIVATE KEY" not in ran.stdout + ran.stderr

        unknown = stix("exec", "e2e-gitssh", str(task), GIT_SSH_KEY_PATH=str(tmp_path / "missing"),
                       GIT_SSH_COMMAND=env["GIT_SSH_COMMAND"])
        assert unknown.returncode == 2
        assert unknown.stderr.strip() == f"stix: error: GIT_SSH_KEY_PATH '{tmp_path / 'missing'}': no such file " \
                                         f"(the ssh key for workdir.url)"
    finally:
        assert stix("destroy", "-y", "e2e-gitssh").returncode == 0
