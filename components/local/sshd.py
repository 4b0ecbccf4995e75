"""Run one local-cloud node: a real OpenSSH sshd on its own loopback address.

A node is a directory holding the sshd config, the host key stix generated,
the authorized client key and a `home/` the node's commands run under. These
functions are plain process management, used by the node's dynamic provider
and testable without Pulumi.
"""

from __future__ import annotations

import errno
import getpass
import json
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

BASE_PORT = 2222
PORT_ENV = "STIX_LOCAL_SSH_PORT"
"""Set (to 22, say) to put every local node on that port, each on its own loopback addresses (public and private)."""
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
EXEC_SETTLE_S = 1.0
_PF_KTHREAD = 0x00200000  # /proc/PID/stat flags: a kernel thread
SSHD_INSTALL_HINT = "install OpenSSH's server: apt-get install -y openssh-server (or your OS's openssh-server package)"
from stix import processes
from stix.errors import AddressTaken, NodeProcessError
from stix.ssh_config import quoted

BIND_FAILED = "Cannot bind any address"


@dataclass(frozen=True)
class NodePaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "sshd_config"

    @property
    def host_key(self) -> Path:
        return self.root / "ssh_host_ed25519_key"

    @property
    def authorized_keys(self) -> Path:
        return self.root / "authorized_keys"

    @property
    def pid_file(self) -> Path:
        return self.root / "sshd.pid"

    @property
    def log(self) -> Path:
        return self.root / "sshd.log"

    @property
    def home(self) -> Path:
        return self.root / "home"


def find_sshd() -> str:
    found = shutil.which("sshd") or next(
        (p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise NodeProcessError(f"sshd not found: {SSHD_INSTALL_HINT}")
    return os.path.abspath(found)


def render_config(paths: NodePaths, ip: str, port: int, user: str, private_ip: str = "") -> str:
    """The node listens on ip (public) and, if given, on private_ip too: the address its cluster reaches it on."""
    return "\n".join(
        [
            f"ListenAddress {ip}:{port}",
            *([f"ListenAddress {private_ip}:{port}"] if private_ip and private_ip != ip else []),
            # VERBOSE logs the address each connection came in on ("Connection from A port P on B port Q").
            "LogLevel VERBOSE",
            f"HostKey {quoted(str(paths.host_key))}",
            f"PidFile {quoted(str(paths.pid_file))}",
            f"AuthorizedKeysFile {quoted(str(paths.authorized_keys), tokens=True)}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            f"AllowUsers {user}",
            "UsePAM no",
            # Node directories may sit under group-writable parents (/tmp in tests).
            "StrictModes no",
            "MaxSessions 64",
            "MaxStartups 64:30:128",
            "PrintMotd no",
            "Subsystem sftp internal-sftp",
            # Every process a session starts carries the node's directory, so
            # deleting the node can find and stop them all.
            f"SetEnv {quoted(f'HOME={paths.home}')} {quoted(f'STIX_NODE_DIR={paths.root}')}",
            "",
        ]
    )


@contextmanager
def address_lock() -> Iterator[None]:
    """Serialise address allocation across this user's stix processes.

    The lock lives in the user's own cache (a shared /tmp file could be pre-created or held by another
    user); another user's nodes are seen when their address is taken, and start() then fails cleanly.
    """
    from stix.home import cache_dir

    from stix.file_lock import exclusive

    lock_path = cache_dir() / "local-cloud.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with exclusive(lock_path):
        yield


STARTING_FILE = "local-cloud-starting.json"


def starting() -> frozenset[str]:
    """Addresses some node's sshd is being started on (by a live process, within the start timeout): taken,
    though nothing listens there yet. Read under address_lock()."""
    try:
        entries = json.loads(_starting_path().read_text())
    except (OSError, ValueError):
        return frozenset()
    now = time.time()
    return frozenset(ip for ip, (pid, since) in entries.items()
                     if now - since < START_TIMEOUT_S + 5 and _alive(pid)) if isinstance(entries, dict) else frozenset()


def mark_starting(addresses: Iterable[str], done: bool = False) -> None:
    """Record (or, done, forget) addresses this process starts an sshd on; under address_lock(). So the lock is
    held only while an address is chosen, not while sshd starts: a big cluster's nodes start in parallel."""
    from stix.atomic import write_atomic

    path = _starting_path()
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        entries = {}
    now = time.time()
    kept = {ip: entry for ip, entry in (entries.items() if isinstance(entries, dict) else ())
            if isinstance(entry, list) and len(entry) == 2 and now - entry[1] < START_TIMEOUT_S + 5 and _alive(entry[0])}
    for ip in addresses:
        if done:
            kept.pop(ip, None)
        else:
            kept[ip] = [os.getpid(), now]
    write_atomic(path, json.dumps(kept))


def _starting_path() -> Path:
    from stix.home import cache_dir

    return cache_dir() / STARTING_FILE


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except PermissionError:
        return True
    except (OSError, ValueError, TypeError):
        return False
    return True


def configured_port() -> int:
    """The port new nodes listen on: STIX_LOCAL_SSH_PORT, else BASE_PORT."""
    from stix.errors import UsageError

    raw = os.environ.get(PORT_ENV, "").strip()
    if not raw:
        return BASE_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise UsageError(f"{PORT_ENV}={raw!r}: not a port number (1-65535)")
    return int(raw)


def cloud_like() -> bool:
    """With STIX_LOCAL_SSH_PORT set, nodes also get a private address of their own, as cloud VMs do."""
    return bool(os.environ.get(PORT_ENV, "").strip())


def address_free(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As sshd binds (SO_REUSEADDR): connections of a stopped sshd in TIME_WAIT do not hold the address.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                return False
            if exc.errno == errno.EACCES:
                raise NodeProcessError(f"cannot listen on port {port}: ports below 1024 need root "
                                       f"(or CAP_NET_BIND_SERVICE); unset {PORT_ENV} to use port {BASE_PORT}") from None
            raise
    return True


def candidate_addresses() -> Iterator[str]:
    for third in range(0, 4):
        for fourth in range(2, 255):
            yield f"127.0.{third}.{fourth}"


def allocate_address(port: int = BASE_PORT, taken: frozenset[str] = frozenset()) -> str:
    for ip in candidate_addresses():
        if ip not in taken and address_free(ip, port):
            return ip
    if ("0.0.0.0", port) in wildcard_listeners():
        raise NodeProcessError(f"port {port} is taken on every address: a server (the system's sshd?) listens on "
                               f"0.0.0.0:{port}; make it listen on specific addresses, or unset {PORT_ENV}")
    raise NodeProcessError(f"no free loopback address for port {port} in 127.0.0.2-127.0.3.254")


def _tcp_listeners() -> list[tuple[str, int, str]]:
    """(ip, port, socket inode) of every IPv4 TCP socket listening on this machine, any owner's."""
    try:
        rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return []
    found = []
    for row in rows:
        fields = row.split()
        if len(fields) > 9 and fields[3] == "0A":  # 0A: LISTEN
            address, port = fields[1].split(":")
            found.append((socket.inet_ntoa(bytes.fromhex(address)[::-1]), int(port, 16), fields[9]))
    return found


def wildcard_listeners() -> set[tuple[str, int]]:
    """(0.0.0.0, port) for every IPv4 TCP socket listening on all addresses, any owner's."""
    return {(ip, port) for ip, port, _ in _tcp_listeners() if ip == "0.0.0.0"}


def current_user() -> str:
    return getpass.getuser()


def read_pid(paths: NodePaths) -> Optional[int]:
    try:
        return int(paths.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _proc_bytes(pid: int, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return b""


def _cmdline(pid: int) -> list[str]:
    return [part.decode(errors="replace") for part in _proc_bytes(pid, "cmdline").split(b"\0") if part]


_stat_fields = processes.stat_fields


def _is_zombie(pid: int) -> bool:
    return not processes.alive(pid)


def running_pid(paths: NodePaths) -> Optional[int]:
    """The pid of this node's sshd if it is alive and really is this node's sshd."""
    pid = read_pid(paths)
    if pid is None or _is_zombie(pid) or not _owned(pid):
        return None
    # sshd rewrites its title to one string ("sshd: /usr/sbin/sshd -f CONFIG ..."), so match text.
    if f"-f {paths.config}" not in " ".join(_cmdline(pid)):
        return None
    return pid


def listen_addresses(pid: int) -> list[tuple[str, int]]:
    """The IPv4 TCP addresses a process really listens on (from /proc), whatever its config file says."""
    inodes = set()
    try:
        for fd in os.scandir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(fd.path)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
    except OSError:
        return []
    return sorted((ip, port) for ip, port, inode in _tcp_listeners() if inode in inodes)


def listening(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=0.5) as sock:
            sock.settimeout(1.0)
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def start(paths: NodePaths, ip: str, port: int) -> int:
    """Start the node's sshd (it daemonises) and wait until it answers with an SSH banner."""
    sshd = find_sshd()
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    paths.pid_file.unlink(missing_ok=True)
    result = subprocess.run(
        [sshd, "-f", str(paths.config), "-E", str(paths.log)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=START_TIMEOUT_S,
    )
    if result.returncode != 0:
        detail = (result.stdout.decode(errors="replace") + _tail(paths.log)).strip()
        raise NodeProcessError(f"sshd for {paths.root} failed to start: {detail}")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        pid = running_pid(paths)
        if pid is not None and listening(ip, port):
            return pid
        if BIND_FAILED in _tail(paths.log):
            raise AddressTaken(f"sshd for {paths.root} cannot listen on {ip}:{port}: taken since it was checked")
        time.sleep(0.01)
    raise NodeProcessError(f"sshd for {paths.root} did not answer on {ip}:{port} within {START_TIMEOUT_S:.0f}s: {_tail(paths.log)}")


def _tail(path: Path, limit: int = 400) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def _owned(pid: int) -> bool:
    try:
        return os.stat(f"/proc/{pid}").st_uid == os.getuid()
    except OSError:
        return False


def _parent_map() -> dict[int, int]:
    """Parent of every process: a node's sshd is this user's, but the child serving a connection that has not
    logged in yet runs as the sshd user, and stopping the node must stop it too."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                parents[int(entry.name)] = int(fields[1])
    return parents


def _in_execve(pid: int) -> bool:
    """A live user process whose arguments and environment read empty is inside execve: the kernel has
    swapped in the new image but not yet laid out its arguments. It settles within moments."""
    if _proc_bytes(pid, "cmdline") or _proc_bytes(pid, "environ"):
        return False
    fields = _stat_fields(pid)  # zombies and kernel threads read empty for good
    return fields is not None and fields[0] != "Z" and not int(fields[6]) & _PF_KTHREAD


def _belongs_to(pid: int, root: Path) -> bool:
    """Whether a process is a node sshd configured under root, or was started by a session of one."""
    deadline = time.monotonic() + EXEC_SETTLE_S
    while _in_execve(pid) and time.monotonic() < deadline:
        time.sleep(0.005)
    if f"-f {root}/" in " ".join(_cmdline(pid)):
        return True
    prefix = f"STIX_NODE_DIR={root}".encode()
    return any(item == prefix or item.startswith(prefix + b"/") for item in _proc_bytes(pid, "environ").split(b"\0"))


def processes_under(root: Path) -> set[int]:
    """Every node process rooted at root (a node directory or a cluster's), with descendants.

    Works from /proc alone, so it finds processes whose directory was removed.
    """
    parents = _parent_map()
    # Only this user's processes are matched (another user's node is never ours); their descendants all are.
    found = {pid for pid in parents if _owned(pid) and _belongs_to(pid, root)}
    changed = True
    while changed:
        children = {pid for pid, ppid in parents.items() if ppid in found and pid not in found}
        found |= children
        changed = bool(children)
    found.discard(os.getpid())
    return found


def stop(paths: NodePaths, removing: bool = False) -> None:
    """Stop the node's sshd and everything its sessions started (FUSE mounts under it lazily unmounted first,
    so their rclone processes can end; its container stopped, or removed when the node is); wait until they
    are gone."""
    from stix.components.local import fuse
    from stix.components.local.containers import end_container

    end_container(paths.home, remove=removing)

    left = fuse.unmount_all(paths.root)
    if left:  # removing the node's directory would walk into the mount and delete the bucket's objects
        raise NodeProcessError(f"cannot unmount {', '.join(map(str, left))}; unmount it (fusermount3 -u -z), "
                               f"then retry")
    kill_all(processes_under(paths.root))
    paths.pid_file.unlink(missing_ok=True)


def stop_listener(paths: NodePaths) -> None:
    """Stop only the node's listening sshd; sessions it already forked (and their jobs) live on."""
    pid = running_pid(paths)
    if pid is not None:
        kill_all({pid})
    paths.pid_file.unlink(missing_ok=True)


def kill_all(pids: set[int]) -> None:
    processes.terminate(pids, STOP_TIMEOUT_S)


def kill_now(pids: set[int]) -> None:
    """SIGKILL at once, no grace (a machine taken away); wait until they are gone."""
    processes.kill_now(pids, STOP_TIMEOUT_S)
