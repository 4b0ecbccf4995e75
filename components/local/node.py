"""LocalNode: one local-cloud node as a Pulumi dynamic resource.

The provider is pickled into state by reference to this module, so importing
this module must have no side effects. Refresh and destroy run the provider
code stored in state.

read() is what makes drift visible: a node whose directory is gone reads as
deleted, a node whose sshd is not running reads back `state: stopped`, and
one whose sshd listens on another port reads back that `port`, as inputs, so
the refresh diff (taken against desired inputs) shows them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from stix.components.local import sshd
from stix.keys import generate_keypair, write_private_key

REPLACE_KEYS = ("cluster", "node_name", "root")
UPDATE_KEYS = ("authorized_key", "state", "port")
RUNNING = "running"
STOPPED = "stopped"


def _paths(props: dict[str, Any]) -> sshd.NodePaths:
    return sshd.NodePaths(Path(props["root"]) / props["node_name"])


def _outputs(props: dict[str, Any], ip: str, port: int, host_public_key: str, state: str) -> dict[str, Any]:
    paths = _paths(props)
    return {
        **{key: props[key] for key in (*REPLACE_KEYS, "rank", "authorized_key")},
        "state": state,
        "ip": ip,
        "port": port,
        "user": sshd.current_user(),
        "host_public_key": host_public_key,
        "home": str(paths.home),
        "dir": str(paths.root),
    }


def _inputs(props: dict[str, Any], state: str, port: int) -> dict[str, Any]:
    return {**{key: props[key] for key in (*REPLACE_KEYS, "rank", "authorized_key")}, "state": state, "port": port}


def _listen_address(paths: sshd.NodePaths) -> Optional[tuple[str, int]]:
    try:
        for line in paths.config.read_text().splitlines():
            if line.startswith("ListenAddress "):
                ip, port = line.split(" ", 1)[1].rsplit(":", 1)
                return ip, int(port)
    except OSError:
        return None
    return None


def _real_address(paths: sshd.NodePaths, pid: Optional[int]) -> Optional[tuple[str, int]]:
    """Where the node's sshd really listens (its sockets), else where its config says it would."""
    actual = sshd.listen_addresses(pid) if pid is not None else []
    return actual[0] if actual else _listen_address(paths)


def _start(paths: sshd.NodePaths, preferred: Optional[tuple[str, int]], port: int) -> tuple[str, int]:
    """Start sshd on port, at the preferred address if it is still free, else on a new one."""
    user = sshd.current_user()
    with sshd.address_lock():
        for attempt in range(3):
            if preferred and sshd.address_free(*preferred):
                ip, port = preferred
            else:
                ip = sshd.allocate_address(port)
            paths.config.write_text(sshd.render_config(paths, ip, port, user))
            try:
                sshd.start(paths, ip, port)
                return ip, port
            except sshd.AddressTaken:
                if attempt == 2:
                    raise
                preferred = None
    raise AssertionError("unreachable")


class LocalNodeProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        paths = _paths(props)
        if paths.root.exists():
            sshd.stop(paths)
            shutil.rmtree(paths.root)
        paths.home.mkdir(parents=True, mode=0o700)
        os.chmod(paths.root, 0o700)
        host = generate_keypair(comment=props["node_name"])
        write_private_key(paths.host_key, host.private_openssh)
        paths.authorized_keys.write_text(props["authorized_key"].strip() + "\n")
        try:
            ip, port = _start(paths, None, int(props.get("port") or sshd.BASE_PORT))
        except Exception:
            sshd.stop(paths)
            shutil.rmtree(paths.root, ignore_errors=True)
            raise
        return CreateResult(str(paths.root), _outputs(props, ip, port, host.public_openssh, RUNNING))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        paths = sshd.NodePaths(Path(id_))
        if not paths.config.exists() or not paths.host_key.exists():
            return ReadResult(None, {})
        pid = sshd.running_pid(paths)
        address = _real_address(paths, pid)
        alive = pid is not None and address is not None and sshd.listening(*address)
        state = RUNNING if alive else STOPPED
        ip, port = address if address else (props.get("ip", ""), props.get("port", 0))
        outs = {**props, "state": state, "ip": ip, "port": port}
        return ReadResult(id_, outs, _inputs(outs, state, port))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in (*REPLACE_KEYS, *UPDATE_KEYS, "rank") if olds.get(key) != news.get(key)]
        replaces = [key for key in changed if key in REPLACE_KEYS]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        paths = sshd.NodePaths(Path(id_))
        paths.authorized_keys.write_text(news["authorized_key"].strip() + "\n")
        port = int(news.get("port") or sshd.BASE_PORT)
        pid = sshd.running_pid(paths)
        address = _real_address(paths, pid) or ((olds["ip"], port) if olds.get("ip") else None)
        if news["state"] == RUNNING:
            if pid is not None and address is not None and address[1] != port:
                sshd.stop_listener(paths)  # moved behind stix's back: back to its port, sessions kept
                pid = None
            if pid is None:
                address = _start(paths, (address[0], port) if address else None, port)
        else:
            sshd.stop(paths)
        ip, port = address if address else ("", 0)
        host_public_key = olds.get("host_public_key", "")
        return UpdateResult(_outputs(news, ip, port, host_public_key, news["state"]))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        paths = sshd.NodePaths(Path(id_))
        sshd.stop(paths)
        shutil.rmtree(paths.root, ignore_errors=True)


class LocalNode(Resource, module="local", name="Node"):
    ip: pulumi.Output[str]
    port: pulumi.Output[int]
    user: pulumi.Output[str]
    host_public_key: pulumi.Output[str]
    home: pulumi.Output[str]
    state: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        cluster: str,
        node_name: str,
        rank: int,
        root: str,
        authorized_key: str,
        state: str = RUNNING,
        port: int = sshd.BASE_PORT,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        props = {
            "cluster": cluster,
            "node_name": node_name,
            "rank": rank,
            "root": root,
            "authorized_key": authorized_key,
            "state": state,
            "port": port,
            "ip": None,
            "user": None,
            "host_public_key": None,
            "home": None,
            "dir": None,
        }
        super().__init__(LocalNodeProvider(), name, props, opts)
