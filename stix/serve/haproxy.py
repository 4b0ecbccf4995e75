"""HAProxy, the local cloud's service load balancer: its config, and its runtime API over the admin socket.

Membership changes go through the runtime API, never a reload: a server is added in maintenance, then enabled;
one taken out is drained (no new requests), waited on until it serves none, then put in maintenance and
deleted. That is what makes adding and removing a replica drop no request. Every call is idempotent (a server
already there is not added twice, one already gone is not an error), since a restarted controller repeats them.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from typing import Optional, Sequence
from urllib.parse import quote

from stix.errors import PrerequisiteMissing, ProvisionError
from stix.serve.balancer import Backend

FRONTEND = "service"
BACKEND = "replicas"
HAPROXY_INSTALL_HINT = "install HAProxy: apt-get install -y haproxy (or your OS's haproxy package)"
CONNECT_TIMEOUT_S = 5
DEFAULT_STREAM_TIMEOUT_S = 3600.0
"""Client and server inactivity timeout when the service sets no stream_timeout (long: model responses stream)."""
SOCKET_RETRY_S = 10.0
DRAIN_TIMEOUT_S = 120.0
DEFAULT_CHECK_TIMEOUT_S = 10.0
"""How long HAProxy's own health check waits for an answer when the readiness probe sets no timeout (without
`timeout check` it would wait only its 1 s check interval, and pull a replica slow under load out)."""
POLICIES = {"round_robin": "roundrobin", "least_load": "leastconn", "instance_aware_least_load": "leastconn"}
"""instance_aware_least_load weighs each replica's load by its accelerator's QPS; the replicas of one service share
one accelerator here (a per-accelerator target_qps_per_replica is refused), so it is least_load."""
SERVER_OPTIONS = "pool-max-conn -1 pool-purge-delay 5s"
"""A server added at run time gets none of a config server's defaults: without these, HAProxy keeps no idle
connection to it and opens a new one for every request (a sixth of the throughput to a small replica)."""


def find_haproxy() -> str:
    found = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)), None)
    if not found:
        raise PrerequisiteMissing(f"haproxy not found: {HAPROXY_INSTALL_HINT}")
    return os.path.abspath(found)


@dataclass(frozen=True)
class HaproxyConfig:
    listen_host: str
    listen_port: int
    admin_socket: str
    policy: str = "round_robin"
    health_path: str = ""
    """GET this path as HAProxy's own health check; empty: a TCP connect check."""
    stream_timeout_s: float = 0.0
    tls_pem: str = ""
    """Certificate and key in one file (relative: to HAProxy's working directory): the frontend serves HTTPS."""
    check_timeout_s: float = 0.0
    """How long a health check waits for its answer (the readiness probe's timeout); 0: DEFAULT_CHECK_TIMEOUT_S."""


SAFE_PATH = re.compile(r"[A-Za-z0-9/._+@:,=-]+")
"""HAProxy expands $VARIABLES in addresses whatever the quoting: a path it is given holds none of that."""


def config_safe(path: str) -> bool:
    return bool(SAFE_PATH.fullmatch(path))


def _path_word(path: str) -> str:
    if not config_safe(path):
        raise ValueError(f"{path!r}: not a path HAProxy's config can hold as it is (letters, digits, /._+@:,=-)")
    return path


def _uri(path: str) -> str:
    """The readiness path as one config word: anything else percent-encoded (a path cannot add config lines)."""
    return quote(path if path.startswith("/") else f"/{path}", safe="/:@!&*+,;=-._~?%")


def _seconds(value: float) -> str:
    return f"{max(1, int(round(value * 1000)))}ms"


def render_config(config: HaproxyConfig) -> str:
    if config.policy not in POLICIES:
        raise ValueError(f"load_balancing_policy {config.policy!r}: not one of {', '.join(POLICIES)}")
    stream = config.stream_timeout_s or DEFAULT_STREAM_TIMEOUT_S
    bind = f"bind {config.listen_host}:{config.listen_port}"
    if config.tls_pem:
        bind += f" ssl crt {_path_word(config.tls_pem)}"
    check = ([f"option httpchk GET {_uri(config.health_path)}", "http-check expect status 200-399"]
             if config.health_path else [])
    lines = [
        "global",
        f"    stats socket {_path_word(config.admin_socket)} mode 600 level admin",
        "    log stdout format raw daemon",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option dontlognull",
        f"    timeout connect {CONNECT_TIMEOUT_S}s",
        f"    timeout client {_seconds(stream)}",
        f"    timeout server {_seconds(stream)}",
        "    timeout http-request 30s",
        "    timeout queue 30s",
        f"    timeout check {_seconds(config.check_timeout_s or DEFAULT_CHECK_TIMEOUT_S)}",
        # A second line of defence only: the controller's readiness probe decides who is a server.
        "    option redispatch",
        "    retries 3",
        "",
        f"frontend {FRONTEND}",
        f"    {bind}",
        f"    default_backend {BACKEND}",
        "",
        f"backend {BACKEND}",
        f"    balance {POLICIES[config.policy]}",
        *(f"    {line}" for line in check),
        "",
    ]
    return "\n".join(lines)


# --- the runtime API ---------------------------------------------------------------------------

MAINT_FLAGS = 0x01 | 0x02 | 0x04 | 0x20
"""srv_admin_state bits: maintenance forced, inherited, from the config, or from DNS resolution."""
DRAIN_FLAGS = 0x08 | 0x10


@dataclass(frozen=True)
class ServerState:
    name: str
    address: str
    port: int
    admin_maint: bool
    draining: bool
    current_sessions: int


class Runtime:
    """HAProxy's runtime API on its admin socket (one command per connection)."""

    def __init__(self, admin_socket: str, retry_s: float = SOCKET_RETRY_S) -> None:
        self.admin_socket = admin_socket
        self.retry_s = retry_s

    def command(self, line: str) -> str:
        """Send one command; its answer. A socket that refuses (HAProxy starting) is retried until retry_s."""
        deadline = time.monotonic() + self.retry_s
        while True:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    sock.settimeout(10.0)
                    sock.connect(self.admin_socket)
                    sock.sendall(line.encode() + b"\n")
                    chunks = []
                    while True:
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        chunks.append(chunk)
                return b"".join(chunks).decode(errors="replace")
            except (ConnectionRefusedError, FileNotFoundError, ConnectionResetError, socket.timeout) as exc:
                if time.monotonic() >= deadline:
                    raise ProvisionError(f"HAProxy's admin socket {self.admin_socket} does not answer: {exc}") \
                        from None
                time.sleep(0.1)
            except OSError as exc:  # not a socket, not ours: waiting changes nothing
                raise ProvisionError(f"HAProxy's admin socket {self.admin_socket}: {exc}") from None

    def _checked(self, line: str, ok: Sequence[str] = ()) -> str:
        answer = self.command(line).strip()
        if answer and not any(word in answer for word in ok):
            raise ProvisionError(f"HAProxy refused `{line}`: {answer.splitlines()[0]}")
        return answer

    def stats(self) -> list[dict[str, str]]:
        """`show stat` as rows (pxname, svname, scur, req_tot, status, ...)."""
        text = self.command("show stat")
        text = text[2:] if text.startswith("# ") else text
        return [row for row in csv.DictReader(io.StringIO(text)) if row.get("pxname")]

    def servers(self, backend: str = BACKEND) -> dict[str, ServerState]:
        """The backend's servers and their states (`show servers state`)."""
        text = self.command(f"show servers state {backend}")
        lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
        header: list[str] = []
        for line in text.splitlines():
            if line.startswith("# be_id"):
                header = line[2:].split()
        sessions = {row["svname"]: int(row.get("scur") or 0) for row in self.stats() if row["pxname"] == backend}
        found = {}
        for line in lines[1:] if lines and lines[0].strip().isdigit() else lines:
            fields = dict(zip(header, line.split()))
            if "srv_name" not in fields:
                continue
            admin = int(fields.get("srv_admin_state", "0"))
            name = fields["srv_name"]
            found[name] = ServerState(name, fields.get("srv_addr", ""), int(fields.get("srv_port", "0")),
                                      bool(admin & MAINT_FLAGS), bool(admin & DRAIN_FLAGS),
                                      sessions.get(name, 0))
        return found

    def add_server(self, backend: Backend, check: bool = True, group: str = BACKEND) -> None:
        """Add and enable a server; one already there with this address is (re-)enabled, with another replaced."""
        known = self.servers(group).get(backend.name)
        if known is not None and (known.address, known.port) != (backend.host, backend.port):
            self.remove_server(backend.name, group=group)
            known = None
        if known is None:
            self._checked(f"add server {group}/{backend.name} {backend.host}:{backend.port} {SERVER_OPTIONS}"
                          + (" check inter 1s" if check else ""), ok=("New server registered", "Already exists"))
            if check:
                self._checked(f"enable health {group}/{backend.name}")
        self._checked(f"set server {group}/{backend.name} state ready")

    def drain(self, name: str, group: str = BACKEND) -> None:
        self._checked(f"set server {group}/{name} state drain", ok=("No such server",))

    def wait_idle(self, name: str, timeout_s: float = DRAIN_TIMEOUT_S, group: str = BACKEND) -> bool:
        """Until the server serves no request (its current sessions are 0); whether it did in time."""
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.servers(group).get(name)
            if state is None or state.current_sessions == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def remove_server(self, name: str, timeout_s: float = DRAIN_TIMEOUT_S, group: str = BACKEND,
                      drain_s: Optional[float] = None) -> None:
        """Drain, wait (drain_s, default timeout_s) for its requests to finish, then delete; a server already gone
        is fine."""
        if name not in self.servers(group):
            return
        self.drain(name, group)
        if not self.wait_idle(name, timeout_s if drain_s is None else drain_s, group):  # a stream too long: end it
            self._checked(f"shutdown sessions server {group}/{name}", ok=("No such server",))
        self._checked(f"set server {group}/{name} state maint", ok=("No such server",))
        deadline = time.monotonic() + timeout_s
        while True:
            answer = self.command(f"del server {group}/{name}").strip()
            if not answer or "Server deleted" in answer or "No such server" in answer:
                return
            if time.monotonic() >= deadline:
                raise ProvisionError(f"HAProxy refused to delete server {name}: {answer.splitlines()[0]}")
            time.sleep(0.05)  # idle connections to it are still being closed

    def requests_total(self) -> int:
        """HTTP requests the frontend has received since HAProxy started."""
        for row in self.stats():
            if row["pxname"] == FRONTEND and row["svname"] == "FRONTEND":
                return int(row.get("req_tot") or 0)
        return 0


class HaproxyBalancer:
    """The Balancer of a running HAProxy (stix.serve.balancer.Balancer), driven through its admin socket."""

    def __init__(self, admin_socket: str, health_checks: bool = True, drain_timeout_s: Optional[float] = None) -> None:
        self.runtime = Runtime(admin_socket)
        self.health_checks = health_checks
        self.drain_timeout_s = drain_timeout_s or DRAIN_TIMEOUT_S

    def set_backends(self, backends: Sequence[Backend]) -> None:
        wanted = {backend.name: backend for backend in backends}
        for backend in wanted.values():  # new servers first, so the old ones' traffic has somewhere to go
            self.runtime.add_server(backend, check=self.health_checks)
        gone = [name for name in self.runtime.servers() if name not in wanted]
        for name in gone:  # all drained at once, so their waits for the requests they serve overlap
            self.runtime.drain(name)
        deadline = time.monotonic() + self.drain_timeout_s
        for name in gone:
            self.runtime.remove_server(name, self.drain_timeout_s, drain_s=max(0.0, deadline - time.monotonic()))

    def backends(self) -> list[str]:
        return sorted(self.runtime.servers())

    def requests_total(self) -> int:
        return self.runtime.requests_total()


def pem_of(certfile: str, keyfile: str) -> bytes:
    """HAProxy's `crt` file: the certificate (chain) then its key."""
    try:
        with open(certfile, "rb") as handle:
            cert = handle.read()
        with open(keyfile, "rb") as handle:
            key = handle.read()
    except OSError as exc:
        raise ProvisionError(f"service TLS: cannot read {exc.filename}: {exc.strerror}") from None
    return cert.rstrip(b"\n") + b"\n" + key.rstrip(b"\n") + b"\n"


def drain_timeout(stream_timeout_s: Optional[float]) -> float:
    """How long a server taken out may keep serving the requests it has: at least the service's stream timeout."""
    return max(DRAIN_TIMEOUT_S, stream_timeout_s or 0.0)
