"""Run commands on nodes over SSH (paramiko) with pinned host keys.

One connection per node is opened and reused for the whole stix command.
Every network call has a timeout; exit statuses are checked, never output.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Callable, Optional, TypeVar

import paramiko

from stix.errors import HostKeyMismatch, SSHError, UsageError
from stix.spec import ClusterInfo, NodeInfo
from stix.ssh.settings import keepalive_settings

CONNECT_TIMEOUT_S = 15.0
STDIN_SCRIPT = """bash -c 'IFS= read -r -d "" __stix_script; eval "$__stix_script"'"""
"""Reads a NUL-terminated script from stdin and runs it; the script's own commands then see EOF."""
PARALLEL_ENV = "STIX_SSH_PARALLEL"
DEFAULT_PARALLEL = 32
T = TypeVar("T")
LineSink = Callable[[NodeInfo, str], None]


def _no_delay_socket(node: NodeInfo) -> socket.socket:
    """The connection's TCP socket with Nagle's algorithm off (as OpenSSH's client has it): SSH sends a request as
    several small packets (channel open, exec, data, EOF), and with Nagle each one after the first waits for the
    peer's delayed ACK, 40 ms on Linux, in the handshake and in most commands."""
    sock = socket.create_connection((node.ip, node.port), timeout=CONNECT_TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class NodeConnection:
    def __init__(self, node: NodeInfo, key_path: str) -> None:
        self.node = node
        self.keepalive_s, count = keepalive_settings()
        self.dead_after_s = self.keepalive_s * count
        self.client = paramiko.SSHClient()
        key_type, key_data = node.host_public_key.split()[:2]
        host = node.ip if node.port == 22 else f"[{node.ip}]:{node.port}"
        self.client.get_host_keys().add(host, key_type, paramiko.PKey.from_type_string(key_type, _b64(key_data)))
        self.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            self.client.connect(
                node.ip, port=node.port, username=node.user,
                pkey=paramiko.PKey.from_path(key_path),
                timeout=CONNECT_TIMEOUT_S, banner_timeout=CONNECT_TIMEOUT_S, auth_timeout=CONNECT_TIMEOUT_S,
                look_for_keys=False, allow_agent=False, sock=_no_delay_socket(node),
            )
        except paramiko.BadHostKeyException:
            raise HostKeyMismatch(f"{node.name} ({node.ip}:{node.port}): host key does not match the pinned key; refusing to connect") from None
        except (paramiko.SSHException, OSError) as exc:
            raise SSHError(f"{node.name} ({node.ip}:{node.port}): cannot connect: {exc}") from None
        transport = self.client.get_transport()
        if transport is not None:  # every channel opened here (sessions, sftp) hears back within the bound
            transport.channel_timeout = min(CONNECT_TIMEOUT_S, self.dead_after_s)
        self._heard = time.monotonic()
        self._closed = threading.Event()
        threading.Thread(target=self._keepalive, name=f"keepalive-{node.name}", daemon=True).start()

    def _keepalive(self) -> None:
        """Ask the peer for a reply every interval; a reply (success or failure alike) proves it alive.

        paramiko's own set_keepalive asks for no reply, so it cannot tell a frozen peer from an idle one.
        """
        transport = self.client.get_transport()
        while transport is not None and not self._closed.wait(self.keepalive_s):
            if not transport.is_active():
                return
            transport.global_request("keepalive@openssh.com", wait=True)  # returns when answered or closed
            if transport.is_active():
                self._heard = time.monotonic()

    def _check_alive(self, last_data: float) -> None:
        silent = time.monotonic() - max(self._heard, last_data)
        if silent > self.dead_after_s:
            self.client.close()
            raise SSHError(f"{self.node.name} ({self.node.ip}:{self.node.port}): no reply for {silent:.0f}s "
                           f"(keepalive every {self.keepalive_s:g}s unanswered); the node is down or frozen")

    @classmethod
    def to_host(cls, ip: str, port: int, user: str, host_public_key: str, key_path: str) -> "NodeConnection":
        """A connection to a machine that is not a cluster node yet (an SSH pool host): no rank, home unknown."""
        node = NodeInfo(name=f"{user}@{ip}:{int(port)}", rank=0, ip=ip, port=int(port), user=user,
                        host_public_key=host_public_key, home="")
        return cls(node, key_path)

    def run(self, command: str, on_line: Optional[Callable[[str], None]] = None,
            timeout: Optional[float] = None, stdin: Optional[bytes] = None) -> int:
        """Run a command; stream combined output by line; return its exit status.

        With stdin, the data is sent and the input closed, so what the command
        reads there (a script carrying secrets, say) never appears in argv.
        """
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise SSHError(f"{self.node.name}: connection lost")
        try:
            channel = transport.open_session()
        except (paramiko.SSHException, OSError, EOFError) as exc:  # EOFError: the peer went as the session opened
            raise SSHError(f"{self.node.name}: cannot open a session: {exc or 'no reply'}") from None
        channel.set_combine_stderr(True)
        channel.settimeout(0.5)
        channel.exec_command(command)
        if stdin is not None:
            channel.sendall(stdin)
        channel.shutdown_write()
        deadline = None if timeout is None else time.monotonic() + timeout
        pending = b""
        last_data = time.monotonic()
        while True:
            try:
                chunk = channel.recv(65536)
            except socket.timeout:
                chunk = None
            if chunk:
                last_data = time.monotonic()
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if on_line:
                        on_line(line.decode(errors="replace"))
                continue
            if chunk == b"" or channel.exit_status_ready():
                if chunk == b"" or not channel.recv_ready():
                    break
            if deadline is not None and time.monotonic() > deadline:
                channel.close()
                raise SSHError(f"{self.node.name}: command timed out after {timeout:g}s")
            if not transport.is_active():
                raise SSHError(f"{self.node.name}: connection lost while running a command")
            self._check_alive(last_data)
        if pending and on_line:
            on_line(pending.decode(errors="replace"))
        while not channel.status_event.wait(0.5):  # set by the exit status, or by the channel closing without one
            if not transport.is_active():
                break
            self._check_alive(last_data)
        status = channel.exit_status
        channel.close()
        if status == -1 and not transport.is_active():
            raise SSHError(f"{self.node.name}: connection lost while running a command")
        return status

    def put_bytes(self, directory: str, name: str, data: bytes, mode: int) -> None:
        """Write one file (created with `mode`, so a key is never readable by others, even briefly)."""
        self.put_files(directory, [(name, data, mode)])

    def put_files(self, directory: str, files: list[tuple[str, bytes, int]]) -> None:
        """Write (name, data, mode) files into one directory over one SFTP session, each created with its mode
        and renamed into place; the directory is made only when it is not there."""
        sftp = self.client.open_sftp()
        sftp.get_channel().settimeout(CONNECT_TIMEOUT_S)
        try:
            try:
                sftp.stat(directory)
            except FileNotFoundError:
                _mkdirs(sftp, directory)
            for name, data, mode in files:
                path = f"{directory}/{name}"
                with sftp.open(path + ".tmp", "wb") as handle:
                    handle.chmod(mode)
                    handle.write(data)
                sftp.posix_rename(path + ".tmp", path)
        finally:
            sftp.close()

    def close(self) -> None:
        self._closed.set()
        self.client.close()


def parallel_limit() -> int:
    """How many nodes one command works on at once (connecting, syncing, running hooks): STIX_SSH_PARALLEL,
    default 32; a bigger cluster's nodes wait their turn, so a 64-node cluster never opens 64 at once."""
    raw = os.environ.get(PARALLEL_ENV, "").strip() or str(DEFAULT_PARALLEL)
    if not raw.isdigit() or not 0 < int(raw) <= 1024:
        raise UsageError(f"{PARALLEL_ENV}={raw!r}: not a whole number from 1 to 1024")
    return int(raw)


def _b64(data: str) -> bytes:
    import base64

    return base64.b64decode(data)


def _mkdirs(sftp: paramiko.SFTPClient, path: str) -> None:
    parts = path.strip("/").split("/")
    current = ""
    for part in parts:
        current += "/" + part
        try:
            sftp.stat(current)
        except FileNotFoundError:
            sftp.mkdir(current)


class ClusterConnections:
    """Connections to every node of a cluster, opened in parallel and reused."""

    def __init__(self, info: ClusterInfo) -> None:
        self.info = info
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(parallel_limit(), len(info.nodes))))
        futures = [self._pool.submit(NodeConnection, node, info.ssh_private_key_path) for node in info.nodes]
        opened, errors = [], []
        for future in futures:
            try:
                opened.append(future.result())
            except SSHError as exc:
                errors.append(exc)
        if errors:
            for conn in opened:
                conn.close()
            self._pool.shutdown(wait=False)
            raise errors[0]
        self.connections: list[NodeConnection] = opened

    def map(self, fn: Callable[[NodeInfo], T], nodes=None) -> list[T]:
        futures = [self._pool.submit(fn, node) for node in (nodes or self.info.nodes)]
        return [future.result() for future in futures]

    def run_scripts(self, script_for: Callable[[NodeInfo], str], sink: LineSink,
                    timeout: Optional[float] = None) -> list[int]:
        """Run a per-node bash script on every node in parallel, the script sent on stdin.

        The first node that cannot finish (lost, frozen, out of time) raises at once, not after the others.
        """
        pairs = list(zip(self.info.nodes, self.connections))
        futures = [
            self._pool.submit(conn.run, STDIN_SCRIPT, functools.partial(sink, node),
                              timeout, script_for(node).encode() + b"\0")
            for node, conn in pairs
        ]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future.done() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        return [future.result() for future in futures]

    def close(self) -> None:
        for conn in self.connections:
            conn.close()
        self._pool.shutdown(wait=False)

    def __enter__(self) -> "ClusterConnections":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
