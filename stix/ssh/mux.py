"""Reused SSH connections: OpenSSH's own client multiplexing (ControlMaster=auto, ControlPersist).

The first command to a node starts a master connection that stays for STIX_SSH_PERSIST idle seconds; later
commands (other stix processes included) run as sessions over it: no handshake, no paramiko import. OpenSSH
handles two concurrent first commands (one becomes the master, the other connects directly), stale sockets
(it unlinks them) and other users (the master checks the client's uid).

Pinning is as strict as the paramiko runner's: a known_hosts file per node holding only the pinned key,
StrictHostKeyChecking=yes, the cluster key only, and `-F /dev/null` so the user's ~/.ssh/config changes
nothing. Sockets live in a short per-user 0700 directory (sun_path is 108 bytes); each is named by a hash
of what it connects to, so a re-created node never reuses a master connected to the old one.
"""

from __future__ import annotations

import math
import os
import selectors
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Optional

from stix.errors import HostKeyMismatch, SSHError
from stix.spec import ClusterInfo, NodeInfo
from stix.ssh.settings import keepalive_settings, positive_seconds

REUSE_ENV = "STIX_SSH_REUSE"
"""0 turns reuse off: every command opens its own (paramiko) connection."""
PERSIST_ENV = "STIX_SSH_PERSIST"
"""Idle seconds a master connection stays open after its last session (default 300)."""
DEFAULT_PERSIST_S = 300.0
CONNECT_TIMEOUT_S = 15
CLOSE_TIMEOUT_S = 10.0
STALE_LOG_S = 24 * 3600
"""A client's ssh message file (log-*) older than this was left by a stix process that was killed: removed."""
MAX_SOCKET_PATH = 90
"""sun_path holds 108 bytes; OpenSSH adds 17 characters to the path while it creates the master."""
HOST_KEY_FAILURES = ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED",
                     "host key for", "No ED25519 host key is known", "No RSA host key is known",
                     "No ECDSA host key is known")


def ssh_binary() -> Optional[str]:
    return shutil.which("ssh")


def enabled() -> bool:
    """Whether commands go through reused OpenSSH connections (an `ssh` on PATH, and not STIX_SSH_REUSE=0)."""
    return not _reuse_off() and ssh_binary() is not None


def _reuse_off() -> bool:
    return os.environ.get(REUSE_ENV, "1").strip() == "0"


def socket_dir() -> Optional[Path]:
    """The per-user directory of master sockets, created 0700; None (reuse off) when it is not safely ours:
    not a real directory, another user's, or open to others."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    path = Path(runtime) / "stix-ssh" if runtime and os.path.isabs(runtime) else \
        Path(tempfile.gettempdir()) / f"stix-ssh-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return None
    from stix.agent.node_agent import safe_dir

    return path if safe_dir(info) else None


def socket_name(node: NodeInfo, key_path: str) -> str:
    """A hash of everything the connection is to and as: user, address, port, pinned host key, key file."""
    from stix.agent.node_agent import connection_hash

    return connection_hash(node.user, node.ip, node.port, node.host_public_key, os.path.abspath(key_path))[:32]


def persist_seconds(autostop_minutes: Optional[float] = None) -> int:
    """How long an idle master stays: STIX_SSH_PERSIST, but under half a cluster's autostop idle time, since
    the node agent counts the master's TCP connection as an SSH session (autostop waits for none)."""
    persist = positive_seconds(PERSIST_ENV, f"{DEFAULT_PERSIST_S:g}")
    if autostop_minutes is not None and autostop_minutes >= 0:
        persist = min(persist, autostop_minutes * 60 / 2)
    return max(1, int(persist))


def ssh_options(node: NodeInfo, key_path: str, control_path: Path, known_hosts: Path, persist_s: int) -> list[str]:
    """ssh's argv up to the destination: pinned, key-only, batch, with keepalives and the control socket."""
    interval, count = keepalive_settings()
    options = {
        "ControlMaster": "auto", "ControlPath": str(control_path), "ControlPersist": str(persist_s),
        "StrictHostKeyChecking": "yes", "UserKnownHostsFile": str(known_hosts), "GlobalKnownHostsFile": "/dev/null",
        "UpdateHostKeys": "no", "CheckHostIP": "no",
        "IdentitiesOnly": "yes", "IdentityFile": os.path.abspath(key_path), "IdentityAgent": "none",
        "PasswordAuthentication": "no", "KbdInteractiveAuthentication": "no", "BatchMode": "yes",
        "ConnectTimeout": str(CONNECT_TIMEOUT_S), "ServerAliveInterval": str(max(1, math.ceil(interval))),
        "ServerAliveCountMax": str(count), "LogLevel": "ERROR", "ForwardAgent": "no", "ForwardX11": "no",
        "ClearAllForwardings": "yes", "RequestTTY": "no",
    }
    argv = ["-F", "/dev/null", "-T", "-l", node.user, "-p", str(node.port)]
    for key, value in options.items():
        argv += ["-o", f"{key}={value}"]
    return argv


class MuxConnection:
    """A HeadConnection (stix.cluster_jobs) over a reused OpenSSH connection: run() as NodeConnection.run."""

    def __init__(self, node: NodeInfo, key_path: str, directory: Path, persist_s: int, ssh: str) -> None:
        from stix.agent.node_agent import known_hosts_line

        self.node = node
        self.directory = directory
        self.persist_s = persist_s
        name = socket_name(node, key_path)
        self.control_path = directory / f"{name}.sock"
        known_hosts = directory / f"{name}.known"
        if not known_hosts.exists():  # named by a hash of the pinned key: what it holds never changes
            _write_private(known_hosts, known_hosts_line(node.ip, node.port, node.host_public_key))
        self.argv = [ssh, *ssh_options(node, key_path, self.control_path, known_hosts, persist_s)]

    def run(self, command: str, on_line: Optional[Callable[[str], None]] = None,
            timeout: Optional[float] = None, stdin: Optional[bytes] = None) -> int:
        """Run a command; stream combined output by line; return its exit status.

        stdin is sent and then closed (never argv). ssh's own messages go to a private file (-E), not to
        on_line; exit 255 with a message there is ssh failing (SSHError, HostKeyMismatch), without one the
        command's own status. `timeout` kills this client only: the master and its other sessions live on.
        """
        fd, name = tempfile.mkstemp(dir=self.directory, prefix="log-")  # a path: ssh closes inherited fds
        with os.fdopen(fd, "rb") as log:
            argv = [*self.argv, "-E", name, "--", self.node.ip, command]
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_ssh_environment(),
                                        cwd="/")
            except OSError as exc:
                os.unlink(name)
                raise SSHError(f"{self._where()}: cannot start ssh: {exc}") from None
            try:
                status = self._stream(proc, on_line, timeout, stdin)
            except BaseException:
                proc.kill()  # this client only; the master is another (daemon) process
                proc.wait()
                raise
            finally:
                os.unlink(name)  # the master ssh may leave behind keeps it open, nameless
            if status == 255 or status < 0:
                message = _last_message(log.read().decode(errors="replace"))
                if message or status < 0:
                    raise self._failure(message or f"ssh ended by signal {-status}")
            return status

    def _stream(self, proc: subprocess.Popen, on_line: Optional[Callable[[str], None]], timeout: Optional[float],
                stdin: Optional[bytes]) -> int:
        if stdin is not None:
            threading.Thread(target=_feed, args=(proc, stdin), daemon=True).start()
        deadline = None if timeout is None else time.monotonic() + timeout
        assert proc.stdout is not None
        pending = b""
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while True:
                wait_s = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not selector.select(wait_s):
                    raise SSHError(f"{self.node.name}: command timed out after {timeout:g}s")
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if on_line:
                        on_line(line.decode(errors="replace"))
        if pending and on_line:
            on_line(pending.decode(errors="replace"))
        proc.stdout.close()
        remaining = None if deadline is None else max(0.1, deadline - time.monotonic())
        try:
            return proc.wait(remaining)
        except subprocess.TimeoutExpired:
            raise SSHError(f"{self.node.name}: command timed out after {timeout:g}s") from None

    def _where(self) -> str:
        return f"{self.node.name} ({self.node.ip}:{self.node.port})"

    def _failure(self, message: str) -> SSHError:
        if any(marker.lower() in message.lower() for marker in HOST_KEY_FAILURES):
            return HostKeyMismatch(f"{self._where()}: host key does not match the pinned key; refusing to connect")
        return SSHError(f"{self._where()}: cannot connect: {message}")

    def cap_persist(self, autostop_minutes: float) -> None:
        """A master this connection opens from now on stays at most half of a just-armed autostop's idle time."""
        self.persist_s = min(self.persist_s, persist_seconds(autostop_minutes))
        self.argv = [f"ControlPersist={self.persist_s}" if arg.startswith("ControlPersist=") else arg
                     for arg in self.argv]

    def close(self) -> None:
        """Nothing to close: the master stays for the next command (close_masters ends it)."""


def _feed(proc: subprocess.Popen, data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except OSError:  # the command ended without reading it all
        pass


def _last_message(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return " ".join(lines[-3:])[-400:]


SSH_ENVIRONMENT = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "STIX_NODE_DIR")
"""What ssh (and the master it leaves running) is given of stix's environment: no credentials, no agent socket.
STIX_NODE_DIR stays: a master started on a local-cloud node is one of that node's processes."""


def _ssh_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in SSH_ENVIRONMENT if name in os.environ}


def _write_private(path: Path, text: str) -> None:
    """Write a 0600 file atomically (a concurrent command may be reading the old one)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def connect(node: NodeInfo, key_path: str, autostop_minutes: Optional[float] = None) -> Optional[MuxConnection]:
    """A reused connection to the node, or None where reuse is off or unsafe (the caller connects directly)."""
    ssh = None if _reuse_off() else ssh_binary()
    if ssh is None:
        return None
    directory = socket_dir()
    if directory is None or len(str(directory)) + 38 > MAX_SOCKET_PATH:
        return None
    sweep_stale_logs(directory)
    return MuxConnection(node, key_path, directory, persist_seconds(autostop_minutes), ssh)


_swept: set[Path] = set()


def sweep_stale_logs(directory: Path, now: Optional[float] = None) -> None:
    """Remove message files a killed stix process left (once per directory and process). Safe for a command
    that still runs: it and its ssh read and write the file through descriptors they hold."""
    if directory in _swept:
        return
    _swept.add(directory)
    cutoff = (time.time() if now is None else now) - STALE_LOG_S
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.name.startswith("log-") and entry.is_file(follow_symlinks=False) and \
                    entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
        except OSError:
            pass


def close_masters(info: ClusterInfo, graceful: bool = False) -> list[str]:
    """End the master connections to the cluster's nodes (`ssh -O exit`); the names of nodes that had one.
    graceful: `ssh -O stop` instead; the master takes no new sessions (the next command opens a new master) and
    ends when the sessions it carries end, so a command still running over it, in another terminal, goes on.
    Best-effort and bounded: a node that is already gone leaves at most a stale socket, which ssh unlinks."""
    ssh = ssh_binary()
    directory = socket_dir() if ssh else None
    if ssh is None or directory is None:
        return []
    closed = []
    for node in info.nodes:
        name = socket_name(node, info.ssh_private_key_path)
        control = directory / f"{name}.sock"
        if not control.exists():
            continue
        argv = [ssh, "-F", "/dev/null", "-o", f"ControlPath={control}", "-o", "LogLevel=QUIET",
                "-O", "stop" if graceful else "exit", "--", node.ip]
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  timeout=CLOSE_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            closed.append(node.name)
        control.unlink(missing_ok=True)
        if not graceful:  # the node is going away; a stopped master's sessions may still read it
            (directory / f"{name}.known").unlink(missing_ok=True)
    return closed
