"""PoolHost: one machine of an SSH node pool as a Pulumi dynamic resource.

Nothing is provisioned: the machine is the user's. Creating the resource logs in
once with the user's key (host key pinned) and authorizes the cluster's own key;
deleting it stops stix's agent and jobs there, removes stix's directory, and
takes the cluster key back out of authorized_keys. read() reports a machine
that cannot be reached as stopped, so a refresh shows it.
"""

from __future__ import annotations

import shlex
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from stix.agent.node_agent import AGENT_FILE, DAEMON_PID_FILE, PIDS_DIR, REMOTE_DIR
from stix.errors import SSHError

IDENTITY_KEYS = ("ip", "port", "user", "authorized_key")


def _connect(props: dict[str, Any]):
    """Log in with the user's key, the host key pinned (the project's one SSH client: stix.ssh.runner)."""
    from stix.ssh.runner import NodeConnection  # paramiko: loaded only when the provider acts

    # The engine hands numbers back as floats.
    return NodeConnection.to_host(props["ip"], int(props["port"]), props["user"], props["host_key"],
                                  props["identity_file"])


def _run(conn, command: str) -> str:
    """The command's last output line; its exit status is checked."""
    out: list[str] = []
    if conn.run(command, out.append, timeout=60) != 0:
        raise RuntimeError(f"command failed on the pool host {conn.node.name}: {command.split(';')[0]}: "
                           f"{' '.join(out)[-300:]}")
    return out[-1].strip() if out else ""


def _authorize(key: str) -> str:
    quoted = shlex.quote(key.strip())
    return ("umask 077; mkdir -p \"$HOME/.ssh\"; touch \"$HOME/.ssh/authorized_keys\"; "
            f"grep -qxF {quoted} \"$HOME/.ssh/authorized_keys\" || echo {quoted} >> \"$HOME/.ssh/authorized_keys\"; "
            "echo \"$HOME\"")


def _revoke(key: str) -> str:
    quoted = shlex.quote(key.strip())
    # Stop stix's jobs and agent on this machine by their recorded ids (never by name: the machine is the
    # user's, and other clusters may share it), then remove what stix put there.
    return (f"d=\"$HOME/{REMOTE_DIR}\"; [ -f \"$d/{AGENT_FILE}\" ] && python3 \"$d/{AGENT_FILE}\" cancel --all >/dev/null 2>&1; "
            f"for f in \"$d\"/{PIDS_DIR}/*; do [ -f \"$f\" ] && kill -KILL -- -\"$(cat \"$f\")\" 2>/dev/null; done; "
            f"[ -f \"$d/{DAEMON_PID_FILE}\" ] && kill \"$(cat \"$d/{DAEMON_PID_FILE}\")\" 2>/dev/null; rm -rf \"$d\"; "
            "f=\"$HOME/.ssh/authorized_keys\"; [ -f \"$f\" ] || exit 0; "
            f"grep -vxF {quoted} \"$f\" > \"$f.stix\"; cat \"$f.stix\" > \"$f\"; rm -f \"$f.stix\"")


class PoolHostProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        conn = _connect(props)
        try:
            home = _run(conn, _authorize(props["authorized_key"]))
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
            home = _run(conn, _authorize(news["authorized_key"]))
        finally:
            conn.close()
        return UpdateResult({**news, "home": home, "state": "running"})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        try:
            conn = _connect(props)
        except SSHError:
            return  # unreachable: nothing of stix's can be removed there now
        try:
            _run(conn, _revoke(props["authorized_key"]))
        finally:
            conn.close()


class PoolHost(Resource, module="ssh", name="PoolHost"):
    home: pulumi.Output[str]

    def __init__(self, name: str, *, ip: str, port: int, user: str, host_key: str, identity_file: str,
                 authorized_key: str, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props = {"ip": ip, "port": port, "user": user, "host_key": host_key, "identity_file": identity_file,
                 "authorized_key": authorized_key, "state": "running", "home": None}
        super().__init__(PoolHostProvider(), name, props, opts)
