"""Run the local cloud's object store: one SeaweedFS (`weed mini`) per stix home, detached, on 127.0.0.1.

Everything lives under <home>/objectstore/: data/, weed.log, state.json (the ports, chosen once so the URL
the nodes' rclone configs hold stays the same across restarts, and the pid while it runs), and s3.json,
SeaweedFS's identities file (mode 0600): the one place the access key and secret are kept. No key is ever
in argv, a log line or stack state; anonymous requests are refused.

`weed mini` was chosen over `weed server -s3`: both answer in 2-4 s with about 125 MB resident, but mini
takes its first write within about 1 s (server: up to 9 s, growing volumes) and stops in under 1 s (server:
about 15 s).
"""

from __future__ import annotations

import errno
import json
import os
import random
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from stix import processes
from stix.errors import ProvisionError
from stix.file_lock import exclusive
from stix.home import StixHome
from stix.objectstore import Endpoint

HOST = "127.0.0.1"
PORTS = ("s3", "s3.grpc", "master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc",
         "admin", "admin.grpc")
"""Every port `weed mini` listens on, each set explicitly (two homes' stores never collide on a default)."""
VOLUME_SIZE_MB = 64
"""Volumes grow to this size, never preallocated: an empty store takes well under 1 MB of disk."""
VOLUME_MAX = 256
PORT_FLOOR = 20000
PORT_SETTLE_S = 3.0
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class StorePaths:
    root: Path

    @classmethod
    def of(cls, home: StixHome) -> "StorePaths":
        return cls(home.root / "objectstore")

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "weed.log"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def identities(self) -> Path:
        return self.root / "s3.json"

    @property
    def lock(self) -> Path:
        return self.root / "lock"


def running(home: StixHome) -> Optional[Endpoint]:
    """The store's endpoint if its process runs (it may still be starting: ensure_running waits for it)."""
    paths = StorePaths.of(home)
    state = _read_state(paths)
    if _live_pid(paths, state) is None:
        return None
    return _endpoint(paths, state)


def ensure_running(home: StixHome) -> Endpoint:
    """Start the store if it is not running (one start however many callers race), and return its endpoint
    once it answers an authenticated ListBuckets."""
    paths = StorePaths.of(home)
    paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with exclusive(paths.lock):
        state = _read_state(paths)
        if _live_pid(paths, state) is not None:
            return _endpoint(paths, state)
        from stix.objectstore.build import find_weed

        weed = find_weed(provide=False)
        _ensure_identities(paths)
        ports = state.get("ports") or _choose_ports()
        _check_free(paths, ports)
        paths.data.mkdir(exist_ok=True, mode=0o700)
        endpoint = _endpoint(paths, {"ports": ports})
        with open(paths.log, "ab") as log:
            process = subprocess.Popen(
                [str(weed), "mini", *command_flags(paths, ports)], cwd=paths.data, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        state = {"ports": ports, "pid": process.pid}
        _write_state(paths, state)
        try:
            _wait_healthy(paths, endpoint, process)
        except BaseException:
            _end(process.pid)
            _write_state(paths, {"ports": ports})
            raise
        return endpoint


def stop(home: StixHome) -> bool:
    """Stop the store (its data stays); whether one was running."""
    paths = StorePaths.of(home)
    if not paths.root.exists():
        return False
    with exclusive(paths.lock):
        state = _read_state(paths)
        pid = _live_pid(paths, state)
        if pid is not None:
            _end(pid)
        if "pid" in state:
            _write_state(paths, {"ports": state.get("ports")})
        return pid is not None


def data_size(home: StixHome) -> int:
    """Bytes the store's data directory takes on disk."""
    total = 0
    for dirpath, _dirs, files in os.walk(StorePaths.of(home).data):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total


def store_pid(home: StixHome) -> Optional[int]:
    paths = StorePaths.of(home)
    return _live_pid(paths, _read_state(paths))


def command_flags(paths: StorePaths, ports: dict[str, int]) -> list[str]:
    """`weed mini`'s flags: loopback only, every port set, the identities file, small volumes, no extras."""
    return [
        f"-dir={paths.data}", f"-ip={HOST}", f"-ip.bind={HOST}",
        *(f"-{_port_flag(name)}={ports[name]}" for name in PORTS),
        f"-s3.config={paths.identities}",
        f"-filer.localSocket={paths.root / 'filer.sock'}", f"-s3.localSocket={paths.root / 's3.sock'}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-admin.port.legacy=0", "-admin.ui=false", "-webdav=false",
        "-master.telemetry=false", f"-master.volumeSizeLimitMB={VOLUME_SIZE_MB}", f"-volume.max={VOLUME_MAX}",
    ]


def _port_flag(name: str) -> str:
    """PORTS' names as `weed mini` spells their flags: s3 -> s3.port, s3.grpc -> s3.port.grpc."""
    service, _, grpc = name.partition(".")
    return f"{service}.port" + (f".{grpc}" if grpc else "")


# --- credentials -----------------------------------------------------------------------------


def _ensure_identities(paths: StorePaths) -> None:
    """SeaweedFS's identities file, made once per home with mode 0600: one admin identity, stix's."""
    if paths.identities.exists():
        return
    access = "STIX" + secrets.token_hex(8).upper()
    secret = secrets.token_urlsafe(30)
    body = {"identities": [{"name": "stix", "credentials": [{"accessKey": access, "secretKey": secret}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
    fd = os.open(paths.identities, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(body, handle)


def _keys(paths: StorePaths) -> tuple[str, str]:
    try:
        credential = json.loads(paths.identities.read_text())["identities"][0]["credentials"][0]
        return credential["accessKey"], credential["secretKey"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        raise ProvisionError(f"the object store's identities file {paths.identities} is missing or unreadable; "
                             f"stop the store (stix store stop) and remove it to make new keys") from None


def _endpoint(paths: StorePaths, state: dict) -> Endpoint:
    access, secret = _keys(paths)
    return Endpoint(f"http://{HOST}:{state['ports']['s3']}", access, secret)


# --- state and ports ---------------------------------------------------------------------------


def _read_state(paths: StorePaths) -> dict:
    try:
        state = json.loads(paths.state.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(paths: StorePaths, state: dict) -> None:
    tmp = paths.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, paths.state)


def _live_pid(paths: StorePaths, state: dict) -> Optional[int]:
    """The recorded pid, if that process is alive and is this home's store."""
    pid = state.get("pid")
    if not isinstance(pid, int) or not processes.alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    return pid if f"-dir={paths.data}".encode() in cmdline else None


def _choose_ports() -> dict[str, int]:
    """Free ports below the kernel's ephemeral range: a port from that range may be taken, between two runs
    of the store, as the local end of some program's outgoing connection, and the URL must stay the same."""
    low = _ephemeral_low()
    rng = random.SystemRandom()
    chosen: dict[str, int] = {}
    for name in PORTS:
        for _ in range(200):
            port = rng.randrange(PORT_FLOOR, low)
            if port not in chosen.values() and _free(port):
                chosen[name] = port
                break
        else:
            raise ProvisionError(f"no free port for the object store in {PORT_FLOOR}-{low - 1} on {HOST}")
    return chosen


def _ephemeral_low() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return low if low > PORT_FLOOR + 1000 else 32768


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the store binds: TIME_WAIT does not count
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                return False
            raise
    return True


def _check_free(paths: StorePaths, ports: dict[str, int]) -> None:
    """Every recorded port free; one still held by the store's own closing connections frees within moments."""
    for name in PORTS:
        port = ports.get(name)
        if not isinstance(port, int):
            raise ProvisionError(f"{paths.state} records no {name} port; stop the store and remove the file "
                                 f"to choose new ports")
        deadline = time.monotonic() + PORT_SETTLE_S
        while not _free(port):
            if time.monotonic() >= deadline:
                raise ProvisionError(
                    f"the object store's {name} port {HOST}:{port} (recorded in {paths.state}) is taken by another "
                    f"program; free it, or remove {paths.state} to choose new ports (clusters using the store's "
                    f"buckets then need a relaunch)")
            time.sleep(0.1)


# --- start and stop ----------------------------------------------------------------------------


def _wait_healthy(paths: StorePaths, endpoint: Endpoint, process: subprocess.Popen) -> None:
    """Until an authenticated ListBuckets answers, within START_TIMEOUT_S."""
    from stix.objectstore import s3

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ProvisionError(f"the object store exited at start (status {process.returncode}); "
                                 f"log {paths.log}: {_tail(paths.log)}")
        if _answers(endpoint.url):
            done = s3.rclone(endpoint, ["lsd", f"{s3.REMOTE}:"], timeout=PROBE_TIMEOUT_S * 5)
            if done.returncode == 0:
                return
        time.sleep(0.1)
    raise ProvisionError(f"the object store did not answer within {START_TIMEOUT_S:.0f}s; log {paths.log}: "
                         f"{_tail(paths.log)}")


def _answers(url: str) -> bool:
    """Any HTTP answer from the S3 port (anonymous: refused) means the gateway is up."""
    try:
        with urllib.request.urlopen(url + "/", timeout=PROBE_TIMEOUT_S):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _end(pid: int) -> None:
    processes.terminate({pid}, STOP_GRACE_S)
    try:
        os.waitpid(pid, os.WNOHANG)  # our own child: reap it
    except ChildProcessError:
        pass
    if processes.alive(pid):
        processes.kill_now({pid}, STOP_GRACE_S)


def _tail(path: Path, limit: int = 300) -> str:
    try:
        text = path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())
