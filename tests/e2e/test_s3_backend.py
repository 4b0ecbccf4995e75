"""Team state on an S3-compatible backend (moto's server on loopback), including the stack lock."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.polling import wait_for

pytestmark = pytest.mark.e2e

BUCKET = "stix-state"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
TASK = """
name: team
num_nodes: 2
resources:
  infra: local
run: echo "rank $SKYPILOT_NODE_RANK on shared state"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3(tmp_path):
    """A real S3 API on loopback; yields (backend URL, boto3 client)."""
    import boto3

    port = free_port()
    log = open(tmp_path / "moto.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **CREDENTIALS})
    endpoint = f"http://127.0.0.1:{port}"
    try:
        def listening() -> bool:
            assert server.poll() is None, (tmp_path / "moto.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return True
            except OSError:
                return False

        wait_for(listening, timeout=30, what="the S3 server to listen", interval=0.1)
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_bucket(Bucket=BUCKET)
        yield f"s3://{BUCKET}?endpoint={endpoint}&use_path_style=true&region=us-east-1", client
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def lock_taken_by(proc, client) -> list[str]:
    """The stack's lock objects; fails at once, with its output, if `proc` (which should take the lock) exited."""
    assert proc.poll() is None, proc.stdout.read()
    return keys(client, ".pulumi/locks/")


def keys(client, prefix: str = "") -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def test_state_lives_in_the_bucket_and_a_second_up_fails_fast_on_the_lock(stix, stix_home, tmp_path, engine, s3):
    backend, client = s3
    env = {**CREDENTIALS, "STIX_BACKEND": backend}
    task = tmp_path / "team.yaml"
    task.write_text(TASK)

    first = stix("up", "-y", str(task), **env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert ".pulumi/stacks/stix/team.json" in keys(client)
    assert not (stix_home / "state" / ".pulumi" / "stacks").exists(), "nothing in stix's own file state"
    assert stix("drift", "team", **env).returncode == 0

    # A change makes the next up take the lock; freeze it while it holds the lock.
    task.write_text(TASK.replace("num_nodes: 2", "num_nodes: 3"))
    holder = stix.popen("up", "-y", str(task), **env)
    try:
        wait_for(lambda: lock_taken_by(holder, client), timeout=120, what="the first up to take the stack's lock")
        os.killpg(holder.pid, signal.SIGSTOP)
        started = time.monotonic()
        second = stix("up", "-y", str(task), **env)
        took = time.monotonic() - started
        status = stix("status")
    finally:
        os.killpg(holder.pid, signal.SIGCONT)
    assert second.returncode == 1
    assert "Traceback" not in second.stderr and len(second.stderr.strip().splitlines()) == 1, second.stderr
    assert "the cluster's stack is locked by another update (created by" in second.stderr
    assert "nothing was changed" in second.stderr and "`stix unlock team` frees it" in second.stderr
    assert took < 60, f"the second up waited {took:.1f}s instead of failing fast"
    assert "INIT" in status.stdout, "the running up's record stands: the refused one put back what it found"

    out, _ = holder.communicate(timeout=300)
    assert holder.returncode == 0, out
    assert "rank 2 on shared state" in out
    assert not keys(client, ".pulumi/locks/"), "the lock is released"
    clean = stix("drift", "team", **env)
    assert (clean.returncode, clean.stdout.strip()) == (0, "team: no drift"), "state is whole after the contention"

    # An up that dies holding the lock: the lock stays until `stix unlock`, then up settles the cluster.
    task.write_text(TASK)
    dying = stix.popen("up", "-y", str(task), **env)
    wait_for(lambda: lock_taken_by(dying, client), timeout=120, what="the dying up to take the stack's lock")
    os.killpg(dying.pid, signal.SIGKILL)
    dying.communicate(timeout=30)
    refused = stix("up", "-y", str(task), **env)
    assert refused.returncode == 1 and "`stix unlock team` frees it" in refused.stderr, refused.stderr
    assert stix("unlock", "team", **env).returncode == 2, "no terminal, no -y: it asks and refuses"
    freed = stix("unlock", "-y", "team", **env)
    assert freed.returncode == 0, freed.stdout + freed.stderr
    assert not keys(client, ".pulumi/locks/")
    settled = stix("up", "-y", str(task), **env)
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert "rank 1 on shared state" in settled.stdout and "rank 2" not in settled.stdout
    assert stix("drift", "team", **env).returncode == 0
    assert stix("destroy", "-y", "team", **env).returncode == 0
    assert ".pulumi/stacks/stix/team.json" not in keys(client)
