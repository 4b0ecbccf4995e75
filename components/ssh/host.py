"""PoolHost: one machine of an SSH node pool as a Pulumi dynamic resource.

Nothing is provisioned: the machine is the user's. Creating the resource logs in
once with the user's key (host key pinned), claims the host for the cluster
(refused if another cluster holds it) and authorizes the cluster's own key;
deleting it stops stix's agent and jobs there and removes stix's directory
(only if this cluster holds the host), and takes the cluster key back out of
authorized_keys. read() reports a machine that cannot be reached as stopped, so
a refresh shows it.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from stix.agent.node_agent import REMOTE_DIR
from stix.components.ssh import remote
from stix.errors import HostKeyMismatch, PoolError, PoolHostBusy, SSHError

IDENTITY_KEYS = ("ip", "port", "user", "authorized_key")


def _connect(props: dict[str, Any]):
    """Log in with the user's key, the host key pinned (the project's one SSH client: stix.ssh.runner)."""
    from stix.ssh.runner import NodeConnection  # paramiko: loaded only when the provider acts

    # The engine hands numbers back as floats.
    return NodeConnection.to_host(props["ip"], int(props["port"]), props["user"], props["host_key"],
                                  props["identity_file"])


def _script(conn, action: str, props: dict[str, Any]) -> str:
    """Run the remote script (components/ssh/remote.py); its last output line, or a one-line error."""
    out: list[str] = []
    status = conn.run("python3 -", out.append, timeout=120,
                      stdin=remote.script(action, props.get("cluster") or "", props["authorized_key"]))
    last = out[-1].strip() if out else ""
    if status == remote.REFUSED_EXIT:
        raise PoolHostBusy(f"pool host {conn.node.name}: {last.removeprefix('stix: ')}")
    if status != 0:
        raise PoolError(f"pool host {conn.node.name}: {action} failed (exit {status}): {last[-300:]}")
    return last


def fingerprint(public_key: str) -> str:
    """As `ssh-keygen -lf` prints it."""
    blob = base64.b64decode(public_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _leftover(props: dict[str, Any], why: str) -> None:
    """The destroy flow cannot hear from a provider's delete: leave it a line in the cluster's directory."""
    notes = props.get("notes_file")
    if not notes:
        return
    fields = props["authorized_key"].split()
    which = f"the line ending in {fields[2]!r}" if len(fields) > 2 else "that key's line"
    line = (f"host {props['ip']}:{int(props['port'])} {why}: cluster key "
            f"{fingerprint(props['authorized_key'])} is still in ~{props['user']}/.ssh/authorized_keys there; "
            f"remove {which}, and ~/{REMOTE_DIR}")
    path = Path(notes)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        handle.write(line + "\n")


class PoolHostProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        conn = _connect(props)
        try:
            home = _script(conn, "create", props)
        finally:
            conn.close()
        return CreateResult(f"{props['user']}@{props['ip']}:{props['port']}", {**props, "home": home, "state": "running"})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        state = "running"
        try:
            _connect(props).close()
        except SSHError:
            state = "stopped"
        outs = {**props, "state": state}
        return ReadResult(id_, outs, {k: v for k, v in outs.items() if k != "home"})

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in (*IDENTITY_KEYS, "host_key", "identity_file", "state") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[k for k in changed if k in IDENTITY_KEYS],
                          delete_before_replace=True)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        conn = _connect(news)
        try:
            home = _script(conn, "create", news)
        finally:
            conn.close()
        return UpdateResult({**news, "home": home, "state": "running"})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Stops stix's jobs and agent and removes its directory only where this cluster holds the host; the
        cluster key always comes out. An unreachable host cannot be cleaned: destroy still succeeds, and says so."""
        try:
            conn = _connect(props)
        except HostKeyMismatch:  # never log in to a host that may be an impostor
            _leftover(props, "refused: its host key does not match the pinned one")
            return
        except SSHError:
            _leftover(props, "unreachable")
            return
        try:
            _script(conn, "delete", props)
        finally:
            conn.close()


class PoolHost(Resource, module="ssh", name="PoolHost"):
    home: pulumi.Output[str]

    def __init__(self, name: str, *, ip: str, port: int, user: str, host_key: str, identity_file: str,
                 authorized_key: str, cluster: str, notes_file: str,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        """notes_file: where delete records a host it could not reach (stix.pools.take_leftovers reads it)."""
        props = {"ip": ip, "port": port, "user": user, "host_key": host_key, "identity_file": identity_file,
                 "authorized_key": authorized_key, "cluster": cluster, "notes_file": notes_file,
                 "state": "running", "home": None}
        super().__init__(PoolHostProvider(), name, props, opts)
