"""LocalLoadBalancer: a service's HAProxy on 127.0.0.1, as a Pulumi dynamic resource.

HAProxy runs in the foreground (-db) in a session of its own, so it outlives the engine's provider process; its
output goes to the service's balancer log. Its port is chosen once (a free one, unless the spec names one) and
kept in its state directory, so a balancer recreated after drift answers where the old one did. read() reports
it gone when its process died or is another program now (drift: the next `up` starts it again). Its servers are
not inputs: the controller sets them through the runtime API (stix.serve.haproxy).
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

from stix import processes
from stix.errors import ProvisionError
from stix.serve import haproxy

if TYPE_CHECKING:
    from stix.serve.balancer import BalancerSpec

HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
PORT_FREED_S = 3.0
MAX_SOCKET_PATH = 90
"""A unix socket's path must fit sun_path (108 bytes; HAProxy takes 97, binding a temporary name beside it first);
longer ones, and ones HAProxy would read $VARIABLES in, go under the user's cache, hashed."""
INPUT_KEYS = ("service", "state_dir", "log", "listen_port", "policy", "health_path", "stream_timeout_s",
              "tls_certfile", "tls_keyfile", "health_timeout_s")


@dataclass(frozen=True)
class BalancerPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "haproxy.cfg"

    @property
    def port_file(self) -> Path:
        return self.root / "port"

    @property
    def pem(self) -> Path:
        return self.root / "tls.pem"

    @property
    def admin_socket(self) -> Path:
        here = self.root / "admin.sock"
        if len(str(here)) <= MAX_SOCKET_PATH and haproxy.config_safe(str(here)):
            return here
        from stix.home import cache_dir

        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:20]
        return cache_dir() / "serve" / f"{digest}.sock"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _freed(port: int, wait_s: float = PORT_FREED_S) -> bool:
    """Whether the port is free, or becomes so soon (the HAProxy that held it may still be ending)."""
    deadline = time.monotonic() + wait_s
    while not _port_free(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def choose_port(paths: BalancerPaths, wanted: int) -> int:
    """The spec's port; else the one this balancer had before (if still free); else a free one. Kept in the
    state directory."""
    if wanted:
        port = wanted
    else:
        try:
            port = int(paths.port_file.read_text().strip())
        except (OSError, ValueError):
            port = 0
        if not port or not _freed(port):
            port = _free_port()
    paths.port_file.write_text(f"{port}\n")
    return port


def _cmdline(pid: int) -> list[str]:
    try:
        return [part.decode(errors="replace") for part in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if part]
    except OSError:
        return []


def start_time(pid: int) -> int:
    fields = processes.stat_fields(pid)
    return int(fields[19]) if fields is not None else 0


def is_ours(pid: int, started: int, config: Path) -> bool:
    """Whether pid is still the HAProxy this resource started (alive, the same start time, our config)."""
    if not pid or not processes.alive(pid) or start_time(pid) != started:
        return False
    args = _cmdline(pid)
    return bool(args) and os.path.basename(args[0]) == "haproxy" and str(config) in args


def _tail(path: Path, limit: int = 600) -> str:
    try:
        return path.read_text(errors="replace")[-limit:].strip()
    except OSError:
        return ""


def _answers(admin_socket: Path, port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            pass
        haproxy.Runtime(str(admin_socket), retry_s=0).command("show info")
    except (OSError, ProvisionError):
        return False
    return True


def start(props: dict[str, Any]) -> dict[str, Any]:
    """Write the config and start HAProxy; wait until it listens and its admin socket answers."""
    binary = haproxy.find_haproxy()
    paths = BalancerPaths(Path(props["state_dir"]))
    paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(paths.root, 0o700)
    log = Path(props["log"])
    log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    port = choose_port(paths, int(props.get("listen_port") or 0))
    pem = ""
    if props.get("tls_certfile") and props.get("tls_keyfile"):
        fd = os.open(paths.pem, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(haproxy.pem_of(props["tls_certfile"], props["tls_keyfile"]))
        pem = paths.pem.name  # HAProxy runs in the state directory, whatever characters its path holds
    admin = paths.admin_socket
    admin.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    admin.unlink(missing_ok=True)
    paths.config.write_text(haproxy.render_config(haproxy.HaproxyConfig(
        HOST, port, str(admin), props.get("policy") or "round_robin", props.get("health_path") or "",
        float(props.get("stream_timeout_s") or 0.0), pem, float(props.get("health_timeout_s") or 0.0))))
    with open(log, "ab") as out:
        proc = subprocess.Popen([binary, "-db", "-f", str(paths.config)], stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, cwd=paths.root, start_new_session=True, close_fds=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers(admin, port):
        if proc.poll() is not None or time.monotonic() >= deadline:
            processes.terminate({proc.pid}, STOP_TIMEOUT_S)
            proc.poll()
            raise ProvisionError(f"HAProxy for service {props['service']} did not start on {HOST}:{port}: "
                                 f"{_tail(log) or 'no output'}")
        time.sleep(0.05)
    return {**props, "port": port, "endpoint": f"{HOST}:{port}", "admin_socket": str(admin), "pid": proc.pid,
            "started": start_time(proc.pid), "config": str(paths.config)}


def stop(props: dict[str, Any]) -> None:
    """End the HAProxy of this state directory (the recorded one, and any other started with its config)."""
    paths = BalancerPaths(Path(props["state_dir"]))
    pids = {pid for pid in _haproxies_of(paths.config)}
    processes.terminate(pids, STOP_TIMEOUT_S)
    for leftover in (paths.admin_socket, paths.pem):
        leftover.unlink(missing_ok=True)


def _haproxies_of(config: Path) -> set[int]:
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            pid = int(entry.name)
            args = _cmdline(pid)
            if args and os.path.basename(args[0]) == "haproxy" and str(config) in args and processes.alive(pid):
                found.add(pid)
    return found


class LocalLoadBalancerProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        stop(props)  # a balancer of this service that outlived its state
        outs = start(props)
        return CreateResult(outs["state_dir"], outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        config = Path(props.get("config") or BalancerPaths(Path(id_)).config)
        if not is_ours(int(props.get("pid") or 0), int(props.get("started") or 0), config):
            return ReadResult(None, {})
        return ReadResult(id_, props, {key: props.get(key) for key in INPUT_KEYS})

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in INPUT_KEYS if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        stop(props)


class LocalLoadBalancerResource(Resource, module="local", name="LoadBalancer"):
    endpoint: pulumi.Output[str]
    admin_socket: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: Optional[pulumi.ResourceOptions] = None) -> None:
        outputs = {"endpoint": None, "admin_socket": None, "port": None, "pid": None, "started": None, "config": None}
        super().__init__(LocalLoadBalancerProvider(), name, {**props, **outputs}, opts)


class LocalLoadBalancer(pulumi.ComponentResource):
    endpoint: pulumi.Output[str]
    outputs: dict[str, Any]

    def __init__(self, name: str, spec: "BalancerSpec", opts: Optional[pulumi.ResourceOptions] = None) -> None:
        """spec: its state_dir and log set (stix.serve.lb_stack fills them in)."""
        super().__init__("stix:local:LoadBalancer", name, None, opts)
        props = {"service": spec.service, "state_dir": spec.state_dir, "log": spec.log, "listen_port": spec.listen_port,
                 "policy": spec.policy, "health_path": spec.health_path,
                 "stream_timeout_s": spec.stream_timeout_s, "tls_certfile": spec.tls_certfile,
                 "tls_keyfile": spec.tls_keyfile, "health_timeout_s": spec.health_timeout_s}
        self.process = LocalLoadBalancerResource(f"{name}-haproxy", props, pulumi.ResourceOptions(parent=self))
        self.endpoint = self.process.endpoint
        self.outputs = {"admin_socket": self.process.admin_socket, "log": spec.log, "state_dir": spec.state_dir,
                        "health_checks": True, "drain_timeout_s": haproxy.drain_timeout(spec.stream_timeout_s)}
        self.register_outputs({"endpoint": self.endpoint})
