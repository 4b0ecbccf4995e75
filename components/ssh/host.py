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

IDENTITY_KEYS = ("ip", "port", "user", "authorized_key")


def _connect(props: dict[str, Any], key_path: str):
    import paramiko

    client = paramiko.SSHClient()
    key_type, key_data = props["host_key"].split()[:2]
    port = int(props["port"])  # the engine hands numbers back as floats
    host = props["ip"] if port == 22 else f"[{props['ip']}]:{port}"
    import base64

    client.get_host_keys().add(host, key_type, paramiko.PKey.from_type_string(key_type, base64.b64decode(key_data)))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(props["ip"], port=int(props["port"]), username=props["user"], pkey=paramiko.PKey.from_path(key_path),
                   timeout=15, banner_timeout=15, auth_timeout=15, look_for_keys=False, allow_agent=False)
    return client


def _run(client, command: str) -> str:
    _, stdout, _ = client.exec_command(command, timeout=60)
    out = stdout.read().decode(errors="replace")
    if stdout.channel.recv_exit_status() != 0:
        raise RuntimeError(f"command failed on the pool host: {command.split(';')[0]}")
    return out.strip()


def _authorize(key: str) -> str:
    quoted = shlex.quote(key.strip())
    return ("umask 077; mkdir -p \"$HOME/.ssh\"; touch \"$HOME/.ssh/authorized_keys\"; "
            f"grep -qxF {quoted} \"$HOME/.ssh/authorized_keys\" || echo {quoted} >> \"$HOME/.ssh/authorized_keys\"; "
            "echo \"$HOME\"")


def _revoke(key: str) -> str:
    quoted = shlex.quote(key.strip())
    # Stop stix's jobs and agent on this machine by their recorded ids (never by name: the machine is the
    # user's, and other clusters may share it), then remove what stix put there.
    return ("d=\"$HOME/.stix-agent\"; [ -f \"$d/node_agent.py\" ] && python3 \"$d/node_agent.py\" cancel --all >/dev/null 2>&1; "
            "for f in \"$d\"/pids/*; do [ -f \"$f\" ] && kill -KILL -- -\"$(cat \"$f\")\" 2>/dev/null; done; "
            "[ -f \"$d/daemon.pid\" ] && kill \"$(cat \"$d/daemon.pid\")\" 2>/dev/null; rm -rf \"$d\"; "
            "f=\"$HOME/.ssh/authorized_keys\"; [ -f \"$f\" ] || exit 0; "
            f"grep -vxF {quoted} \"$f\" > \"$f.stix\"; cat \"$f.stix\" > \"$f\"; rm -f \"$f.stix\"")


class PoolHostProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        client = _connect(props, props["identity_file"])
        try:
            home = _run(client, _authorize(props["authorized_key"]))
        finally:
            client.close()
        return CreateResult(f"{props['user']}@{props['ip']}:{props['port']}", {**props, "home": home, "state": "running"})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        state = "running"
        try:
            client = _connect(props, props["identity_file"])
            client.close()
        except Exception:
            state = "stopped"
        outs = {**props, "state": state}
        return ReadResult(id_, outs, {k: v for k, v in outs.items() if k != "home"})

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in (*IDENTITY_KEYS, "host_key", "identity_file", "state") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[k for k in changed if k in IDENTITY_KEYS],
                          delete_before_replace=True)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        client = _connect(news, news["identity_file"])
        try:
            home = _run(client, _authorize(news["authorized_key"]))
        finally:
            client.close()
        return UpdateResult({**news, "home": home, "state": "running"})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        try:
            client = _connect(props, props["identity_file"])
        except Exception:
            return  # unreachable: nothing of stix's can be removed there now
        try:
            _run(client, _revoke(props["authorized_key"]))
        finally:
            client.close()


class PoolHost(Resource, module="ssh", name="PoolHost"):
    home: pulumi.Output[str]

    def __init__(self, name: str, *, ip: str, port: int, user: str, host_key: str, identity_file: str,
                 authorized_key: str, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props = {"ip": ip, "port": port, "user": user, "host_key": host_key, "identity_file": identity_file,
                 "authorized_key": authorized_key, "state": "running", "home": None}
        super().__init__(PoolHostProvider(), name, props, opts)
