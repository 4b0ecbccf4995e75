"""The local cloud's object store, for real: SeaweedFS started under a test's own stix home."""

import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from stix.errors import ProvisionError
from stix.home import StixHome
from stix.objectstore import s3, server


@pytest.fixture
def home(stix_home):
    return StixHome(stix_home)


def _cmdline(pid):
    return open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")


def test_start_answers_authenticated_and_refuses_anonymous(home):
    started = time.monotonic()
    endpoint = server.ensure_running(home)
    cold = time.monotonic() - started
    assert endpoint.url.startswith("http://127.0.0.1:")
    assert server.running(home) == endpoint
    assert cold < server.START_TIMEOUT_S
    # Anonymous requests: refused (listing buckets, creating one, reading an object).
    for method, path in (("GET", "/"), ("PUT", "/anonymous-bucket"), ("GET", "/anonymous-bucket/x")):
        request = urllib.request.Request(endpoint.url + path, method=method)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 403
    # Wrong secret: refused too; the right one lists buckets.
    wrong = s3.rclone(endpoint.__class__(endpoint.url, endpoint.access_key, "not-the-secret"), ["lsd", "stixlocal:"], 30)
    assert wrong.returncode != 0
    assert s3.rclone(endpoint, ["lsd", "stixlocal:"], 30).returncode == 0


def test_keys_are_in_a_0600_file_and_never_in_argv_or_the_log(home):
    endpoint = server.ensure_running(home)
    paths = server.StorePaths.of(home)
    assert stat.S_IMODE(paths.identities.stat().st_mode) == 0o600
    argv = b" ".join(_cmdline(server.store_pid(home)))
    assert endpoint.secret_key.encode() not in argv and endpoint.access_key.encode() not in argv
    for path in (paths.log, paths.state):
        text = path.read_text()
        assert endpoint.secret_key not in text and endpoint.access_key not in text


def test_binds_loopback_only_with_the_recorded_ports(home):
    server.ensure_running(home)
    state = json.loads(server.StorePaths.of(home).state.read_text())
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    pid = state["pid"]
    ours = [line.split()[3] for line in listening.splitlines() if f"pid={pid}," in line]
    assert ours and all(address.startswith("127.0.0.1:") for address in ours), ours
    assert {int(address.rsplit(":", 1)[1]) for address in ours} <= set(state["ports"].values())


def test_restart_keeps_url_and_data(home, tmp_path):
    endpoint = server.ensure_running(home)
    assert s3.rclone(endpoint, ["mkdir", "stixlocal:keep-me"], 30).returncode == 0
    payload = tmp_path / "ckpt.bin"
    payload.write_bytes(os.urandom(4096))
    assert s3.rclone(endpoint, ["copyto", str(payload), "stixlocal:keep-me/ckpt.bin"], 60).returncode == 0
    assert server.stop(home) is True
    assert server.running(home) is None
    again = server.ensure_running(home)
    assert again == endpoint
    back = tmp_path / "back.bin"
    assert s3.rclone(again, ["copyto", "stixlocal:keep-me/ckpt.bin", str(back)], 60).returncode == 0
    assert back.read_bytes() == payload.read_bytes()


def test_empty_store_is_small_on_disk(home):
    server.ensure_running(home)
    assert server.data_size(home) < 16 * 1024 * 1024


def test_concurrent_ensure_starts_one_server(home):
    code = ("import sys; from stix.home import StixHome; from stix.objectstore import server; "
            "print(server.ensure_running(StixHome.from_env()).url)")
    racers = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "STIX_HOME": str(home.root)}) for _ in range(3)]
    urls = set()
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err
        urls.add(out.strip())
    assert len(urls) == 1
    marker = f"-dir={server.StorePaths.of(home).data}".encode()
    stores = [pid for pid in os.listdir("/proc") if pid.isdigit() and _has(pid, marker)]
    assert stores == [str(server.store_pid(home))]


def _has(pid, marker):
    try:
        return marker in _cmdline(pid)
    except OSError:
        return False


def test_the_store_outlives_the_process_that_started_it(home):
    code = ("from stix.home import StixHome; from stix.objectstore import server; "
            "server.ensure_running(StixHome.from_env())")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env={**os.environ, "STIX_HOME": str(home.root)})
    assert server.running(home) is not None
    assert s3.rclone(server.running(home), ["lsd", "stixlocal:"], 30).returncode == 0


def test_recorded_port_taken_is_one_clear_error(home):
    server.ensure_running(home)
    server.stop(home)
    port = json.loads(server.StorePaths.of(home).state.read_text())["ports"]["s3"]
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the store's own closed sockets linger
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(ProvisionError, match=f"s3 port 127.0.0.1:{port}.*taken by another program"):
            server.ensure_running(home)
    assert server.running(home) is None


def test_stop_ends_the_process_and_is_idempotent(home):
    server.ensure_running(home)
    pid = server.store_pid(home)
    assert server.stop(home) is True
    from stix import processes

    assert not processes.alive(pid)
    assert server.stop(home) is False
    assert server.running(home) is None


def test_ports_are_distinct_and_below_the_ephemeral_range():
    ports = server._choose_ports()
    low = server._ephemeral_low()
    assert set(ports) == set(server.PORTS) and len(set(ports.values())) == len(server.PORTS)
    assert all(server.PORT_FLOOR <= port < low for port in ports.values())


def test_a_recorded_pid_that_is_not_the_store_reads_as_not_running(home):
    paths = server.StorePaths.of(home)
    paths.root.mkdir(parents=True)
    paths.state.write_text(json.dumps({"ports": server._choose_ports(), "pid": os.getpid()}))
    assert server.running(home) is None and server.store_pid(home) is None


def test_a_store_that_does_not_answer_in_time_is_one_error_with_the_log_and_is_ended(home, monkeypatch):
    monkeypatch.setattr(server, "START_TIMEOUT_S", 0.2)
    with pytest.raises(ProvisionError, match=r"did not answer within 0s; log .*weed\.log: ") as failed:
        server.ensure_running(home)
    assert "\n" not in str(failed.value)
    assert server.running(home) is None
    assert "pid" not in json.loads(server.StorePaths.of(home).state.read_text())
