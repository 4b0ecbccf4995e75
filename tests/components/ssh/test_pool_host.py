"""The SSH pool host's dynamic provider, called directly against a real sshd standing in for a user's machine."""

from __future__ import annotations

import json
import os
import pickle
import resource
import subprocess
import sys
from pathlib import Path

import dill
import pytest

from stix.agent.node_agent import AGENT_FILE, DAEMON_PID_FILE, PIDS_DIR, REMOTE_DIR
from stix.components.local import sshd
from stix.components.ssh import remote
from stix.components.ssh.host import PoolHostProvider, fingerprint
from stix.components.ssh.remote import HOLDER_FILE
from stix.errors import PoolError, PoolHostBusy, SSHError
from stix.pools import take_leftovers
from stix.keys import ensure_cluster_key, generate_keypair
from tests.pool_machine import PoolMachine
from tests.polling import wait_for


@pytest.fixture
def machine(stix_home):
    user_key = stix_home / "user" / "id_ed25519"
    user_public = ensure_cluster_key(user_key, "user")
    cluster_public = ensure_cluster_key(stix_home / "cluster" / "id_ed25519", "cluster")
    m = PoolMachine(stix_home / "machines" / "m0", user_public)
    props = {"ip": m.ip, "port": float(m.port), "user": sshd.current_user(), "host_key": m.host_key,
             "identity_file": str(user_key), "authorized_key": cluster_public, "cluster": "cluster",
             "notes_file": str(stix_home / "clusters" / "cluster" / "pool-unreachable.txt"), "state": "running",
             "home": None}
    yield m, props
    m.stop()


def test_create_authorizes_the_cluster_key_and_delete_takes_it_and_the_agent_back(machine):
    m, props = machine
    provider = PoolHostProvider()
    created = provider.create(props)
    assert created.id == f"{props['user']}@{m.ip}:{props['port']}"
    assert created.outs["home"] == str(m.paths.home) and created.outs["state"] == "running"
    authorized = m.authorized.read_text().splitlines()
    assert props["authorized_key"] in authorized and len(authorized) == 2
    provider.create(props)
    assert len(m.authorized.read_text().splitlines()) == 2, "authorizing twice adds the key once"

    agent = m.paths.home / REMOTE_DIR
    assert json.loads((agent / HOLDER_FILE).read_text()) == {"cluster": "cluster", "key": props["authorized_key"]}
    assert (agent / HOLDER_FILE).stat().st_mode & 0o777 == 0o600
    (agent / PIDS_DIR).mkdir(parents=True)
    (agent / DAEMON_PID_FILE).write_text("999999999")
    assert provider.read(created.id, created.outs).outs["state"] == "running"
    provider.delete(created.id, created.outs)
    assert not agent.exists()
    assert m.authorized.read_text().splitlines() == [authorized[0]], "the user's own key stays"
    assert sshd.running_pid(m.paths), "the user's machine keeps running"


def test_the_host_key_is_pinned(machine):
    m, props = machine
    impostor = generate_keypair("impostor").public_openssh
    with pytest.raises(SSHError, match="host key does not match"):
        PoolHostProvider().create({**props, "host_key": impostor})
    assert props["authorized_key"] not in m.authorized.read_text()
    with pytest.raises(SSHError, match="host key does not match"):
        PoolHostProvider().update("id", props, {**props, "host_key": impostor})
    PoolHostProvider().delete("id", {**props, "host_key": impostor})  # destroy goes on, and says why
    [line] = take_leftovers(Path(props["notes_file"]).parent)
    assert line.startswith(f"host {m.ip}:{m.port} refused: its host key does not match the pinned one: cluster key ")


def test_an_unreachable_host_reads_as_stopped_and_its_delete_leaves_a_note_for_destroy(machine):
    m, props = machine
    m.stop()
    provider = PoolHostProvider()
    assert provider.read("id", props).outs["state"] == "stopped"
    provider.delete("id", props)  # unreachable: nothing to take back, and no error, but destroy will say so
    [line] = take_leftovers(Path(props["notes_file"]).parent)
    assert line == (f"host {m.ip}:{m.port} unreachable: cluster key {fingerprint(props['authorized_key'])} is still "
                    f"in ~{props['user']}/.ssh/authorized_keys there; remove the line ending in 'stix-cluster', "
                    f"and ~/{REMOTE_DIR}")
    assert take_leftovers(Path(props["notes_file"]).parent) == [], "said once"


def test_the_provider_pickles_by_reference():
    """Pulumi stores the provider with dill; a reference to this module keeps state small and importable."""
    data = dill.dumps(PoolHostProvider(), protocol=pickle.DEFAULT_PROTOCOL, recurse=True)
    assert b"stix.components.ssh.host" in data and b"paramiko" not in data
    assert isinstance(dill.loads(data), PoolHostProvider)


def _keys(m) -> bytes:
    return m.authorized.read_bytes()


def test_a_user_file_without_a_final_newline_keeps_its_last_line(machine):
    m, props = machine
    user = _keys(m).rstrip(b"\n")
    m.authorized.write_bytes(user)  # `echo >>` would glue the cluster key onto the user's key
    provider = PoolHostProvider()
    created = provider.create(props)
    assert _keys(m) == user + b"\n" + props["authorized_key"].encode() + b"\n"
    provider.delete(created.id, created.outs)
    assert _keys(m) == user + b"\n"


def test_crlf_odd_bytes_mode_and_a_symlink_are_kept(machine):
    m, props = machine
    real = m.paths.home / "dotfiles" / "keys"
    real.parent.mkdir()
    user = _keys(m).rstrip(b"\n") + b"\r\n# caf\xe9 \xff odd bytes\r\n" + props["authorized_key"].encode() + b" x\r\n"
    real.write_bytes(user)
    real.chmod(0o640)
    m.authorized.unlink()
    m.authorized.symlink_to(real)
    provider = PoolHostProvider()
    created = provider.create(props)
    assert m.authorized.is_symlink(), "the link stays a link; its target is edited"
    assert real.read_bytes() == user + props["authorized_key"].encode() + b"\n"
    assert real.stat().st_mode & 0o777 == 0o640
    assert stix_temp_files(real.parent) == [] and stix_temp_files(m.authorized.parent) == []
    provider.delete(created.id, created.outs)
    assert real.read_bytes() == user, "only our exact line goes: a line that merely starts with our key stays"
    assert real.stat().st_mode & 0o777 == 0o640


def stix_temp_files(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".stix-")]


def test_a_failing_write_leaves_the_file_untouched_and_fails_loudly(machine):
    """The old removal (`grep -v > tmp; cat tmp > f`) truncated the user's file when the temp write failed."""
    m, props = machine
    user = _keys(m) + b"# " + b"x" * 200 + b"\n" + props["authorized_key"].encode() + b"\n"
    m.authorized.write_bytes(user)
    limit = 64  # any write past 64 bytes fails (EFBIG): root ignores directory permissions, this it cannot
    env = {**os.environ, "HOME": str(m.paths.home)}
    result = subprocess.run([sys.executable, "-"], input=remote.script("delete", "cluster", props["authorized_key"]),
                            env=env, capture_output=True, timeout=60,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    assert result.returncode != 0 and b"stix: OSError: [Errno 27] File too large" in result.stdout, result
    assert _keys(m) == user and stix_temp_files(m.authorized.parent) == []
    limit = 200  # room for the holder record, not for the new authorized_keys: the claim is undone
    result = subprocess.run([sys.executable, "-"], input=remote.script("create", "other", "ssh-ed25519 AAAAC3 other"),
                            env=env, capture_output=True, timeout=60,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    assert result.returncode != 0 and b"File too large" in result.stdout, result
    assert _keys(m) == user and not (m.paths.home / REMOTE_DIR).exists()

    (m.paths.home / REMOTE_DIR).write_text("")  # not a directory: create fails, naming the host, changing nothing
    with pytest.raises(PoolError, match=rf"pool host {props['user']}@{m.ip}:{m.port}: create failed \(exit 1\): "
                                        r"stix: NotADirectoryError"):
        PoolHostProvider().create(props)
    assert _keys(m) == user


def test_a_host_held_by_another_cluster_is_refused_and_its_delete_spares_the_holder(machine, stix_home):
    m, props = machine
    other_key = ensure_cluster_key(stix_home / "other" / "id_ed25519", "other")
    other = {**props, "cluster": "other", "authorized_key": other_key}
    provider = PoolHostProvider()
    held = provider.create(other)
    agent = m.paths.home / REMOTE_DIR
    (agent / "job-of-other").write_text("keep me")
    with pytest.raises(PoolHostBusy, match=rf"pool host {props['user']}@{m.ip}:{m.port}: held by stix cluster "
                                           r"'other' .*remove ~/\.stix-agent on that host"):
        provider.create(props)
    assert props["authorized_key"] not in m.authorized.read_text(), "refused before authorizing"

    provider.delete("id", props)  # e.g. a replaced or half-created resource of the refused cluster
    assert (agent / "job-of-other").read_text() == "keep me" and other_key in m.authorized.read_text()
    provider.delete(held.id, held.outs)
    assert not agent.exists() and other_key not in m.authorized.read_text()
    provider.create(props)  # free again


def test_delete_kills_only_processes_that_are_still_stix_jobs(machine):
    m, props = machine
    provider = PoolHostProvider()
    created = provider.create(props)
    pids = m.paths.home / REMOTE_DIR / PIDS_DIR
    pids.mkdir(parents=True)
    job = subprocess.Popen(["sleep", "300"], start_new_session=True, env={**os.environ, "STIX_TASK_ID": "t"})
    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True)  # a reused pid: not stix's
    (pids / "1").write_text(str(job.pid))
    (pids / "2").write_text(str(stranger.pid))
    agent = m.paths.home / REMOTE_DIR / AGENT_FILE  # a stand-in daemon that also ignores `cancel --all`
    agent.write_text("import sys, time\nif sys.argv[1:] == ['daemon']:\n    time.sleep(300)\n")
    daemon = subprocess.Popen([sys.executable, str(agent), "daemon"], start_new_session=True)
    daemon_pid = m.paths.home / REMOTE_DIR / DAEMON_PID_FILE
    try:
        daemon_pid.write_text(str(stranger.pid))
        provider.delete(created.id, created.outs)
        wait_for(lambda: job.poll() is not None, timeout=10, what="the stix job to be killed")
        assert stranger.poll() is None, "a process that is not stix's is left alone"
        assert daemon.poll() is None, "a daemon pid file naming another process spares the real daemon too"

        created = provider.create(props)
        pids.mkdir(parents=True)
        agent.write_text("import sys, time\nif sys.argv[1:] == ['daemon']:\n    time.sleep(300)\n")
        daemon_pid.write_text(str(daemon.pid))
        provider.delete(created.id, created.outs)
        wait_for(lambda: daemon.poll() is not None, timeout=10, what="the agent's own daemon to be stopped")
        assert stranger.poll() is None
    finally:
        for p in (job, stranger, daemon):
            p.kill()
            p.wait()


def test_no_auto_add_host_key_policy_anywhere():
    root = Path(__file__).resolve().parents[3]
    found = [str(p) for d in ("stix", "components") for p in (root / d).rglob("*.py") if "AutoAddPolicy" in p.read_text()]
    assert found == []


def test_of_clusters_claiming_a_host_at_once_exactly_one_wins(machine):
    m, _ = machine
    env = {**os.environ, "HOME": str(m.paths.home)}
    racers = [subprocess.Popen([sys.executable, "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
              for _ in range(8)]
    for i, racer in enumerate(racers):  # all started first, then all fed: they claim as close together as can be
        assert racer.stdin is not None
        racer.stdin.write(remote.script("create", f"c{i}", f"ssh-ed25519 AAAAC3{i} stix-c{i}"))
        racer.stdin.close()
    codes = sorted(racer.wait(timeout=60) for racer in racers)
    assert codes == [0] + [remote.REFUSED_EXIT] * 7, codes
    winner = json.loads((m.paths.home / REMOTE_DIR / HOLDER_FILE).read_text())
    assert sum(line.endswith(f"stix-{winner['cluster']}") for line in m.authorized.read_text().splitlines()) == 1
    assert sum(" stix-c" in line for line in m.authorized.read_text().splitlines()) == 1


@pytest.mark.parametrize("record, expected", [("podman stix-cluster-head", "podman rm -f -t 0 stix-cluster-head"),
                                              ("docker stix-cluster-head", "docker rm -f stix-cluster-head"),
                                              ("evil stix-cluster-head", None), ("garbled", None)])
def test_delete_removes_the_clusters_container(machine, tmp_path, record, expected):
    """The container file is the only record of the container: it goes only after the container does."""
    from stix.agent.node_agent import CONTAINER_FILE

    m, props = machine
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    for runtime in ("docker", "podman", "evil"):
        fake = bin_dir / runtime
        fake.write_text(f'#!/bin/bash\necho "{runtime} $*" >> {calls}\n')
        fake.chmod(0o755)
    env = {**os.environ, "HOME": str(m.paths.home), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    run = [sys.executable, "-"]
    assert subprocess.run(run, input=remote.script("create", "cluster", props["authorized_key"]), env=env,
                          capture_output=True, timeout=60).returncode == 0
    (m.paths.home / REMOTE_DIR / CONTAINER_FILE).write_text(record + "\n")
    result = subprocess.run(run, input=remote.script("delete", "cluster", props["authorized_key"]), env=env,
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result
    assert not (m.paths.home / REMOTE_DIR).exists()
    assert (calls.read_text().splitlines() if calls.exists() else []) == ([expected] if expected else [])
