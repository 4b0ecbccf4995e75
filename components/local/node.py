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

from stix.components.local import faults, sshd
from stix.keys import generate_keypair, write_private_key

REPLACE_KEYS = ("cluster", "node_name", "root", "private_address")
UPDATE_KEYS = ("authorized_key", "state", "port")
PLACE_KEYS = ("region", "zone")
"""Where the node was placed: recorded, never diffed (a node made before zones existed keeps its place)."""
RUNNING = "running"
STOPPED = "stopped"


def _paths(props: dict[str, Any]) -> sshd.NodePaths:
    return sshd.NodePaths(Path(props["root"]) / props["node_name"])


def _outputs(props: dict[str, Any], ip: str, port: int, host_public_key: str, state: str,
             private_ip: str = "") -> dict[str, Any]:
    paths = _paths(props)
    return {
        **{key: props.get(key) for key in (*REPLACE_KEYS, *PLACE_KEYS, "rank", "authorized_key")},
        "state": state,
        "ip": ip,
        "private_ip": private_ip or ip,
        "port": port,
        "user": sshd.current_user(),
        "host_public_key": host_public_key,
        "home": str(paths.home),
        "dir": str(paths.root),
    }


def _inputs(props: dict[str, Any], state: str, port: int) -> dict[str, Any]:
    return {**{key: props.get(key) for key in (*REPLACE_KEYS, *PLACE_KEYS, "rank", "authorized_key")}, "state": state,
            "port": port}


def _listen_addresses(paths: sshd.NodePaths) -> list[tuple[str, int]]:
    """The config's ListenAddress lines: the public address first, then the private one if any."""
    found = []
    try:
        for line in paths.config.read_text().splitlines():
            if line.startswith("ListenAddress "):
                ip, port = line.split(" ", 1)[1].rsplit(":", 1)
                found.append((ip, int(port)))
    except OSError:
        return []
    return found


def _listen_address(paths: sshd.NodePaths) -> Optional[tuple[str, int]]:
    configured = _listen_addresses(paths)
    return configured[0] if configured else None


def _real_address(paths: sshd.NodePaths, pid: Optional[int]) -> Optional[tuple[str, int]]:
    """Where the node's sshd really listens (its sockets), else where its config says it would."""
    actual = sshd.listen_addresses(pid) if pid is not None else []
    configured = _listen_address(paths)
    public = [address for address in actual if configured and address[0] == configured[0]]
    return (public or actual)[0] if actual else configured


def _start(paths: sshd.NodePaths, preferred: Optional[tuple[str, int]], port: int,
           private: bool = False, preferred_private: str = "") -> tuple[str, int, str]:
    """Start sshd on port, at the preferred address if it is still free, else on a new one; with `private`,
    on a second address too (what the cluster's other nodes use, as a cloud's private address)."""
    user = sshd.current_user()
    for attempt in range(3):
        with sshd.address_lock():  # held while the address is chosen; sshd starts outside it, the address marked
            busy = sshd.starting()
            if preferred and preferred[0] not in busy and sshd.address_free(*preferred):
                ip, port = preferred
            else:
                ip = sshd.allocate_address(port, busy)
            private_ip = ""
            if private:
                usable = (preferred_private and preferred_private != ip and preferred_private not in busy
                          and sshd.address_free(preferred_private, port))
                private_ip = preferred_private if usable else sshd.allocate_address(port, busy | {ip})
            addresses = [address for address in (ip, private_ip) if address]
            sshd.mark_starting(addresses)
        try:
            paths.config.write_text(sshd.render_config(paths, ip, port, user, private_ip))
            sshd.start(paths, ip, port)
            return ip, port, private_ip
        except sshd.AddressTaken:
            if attempt == 2:
                raise
            preferred, preferred_private = None, ""
        finally:
            with sshd.address_lock():
                sshd.mark_starting(addresses, done=True)
    raise AssertionError("unreachable")


def _value(props: dict[str, Any], key: str) -> Any:
    """private_address: False and absent (state written before it existed) are the same."""
    return bool(props.get(key)) if key == "private_address" else props.get(key)


class LocalNodeProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        # Before anything is made: a refused create leaves nothing.
        faults.check_capacity(props.get("region") or "", props.get("zone") or "", int(props.get("rank") or 0))
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
            ip, port, private_ip = _start(paths, None, int(props.get("port") or sshd.BASE_PORT),
                                          bool(props.get("private_address")))
        except Exception:
            sshd.stop(paths)
            shutil.rmtree(paths.root, ignore_errors=True)
            raise
        return CreateResult(str(paths.root), _outputs(props, ip, port, host.public_openssh, RUNNING, private_ip))

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
        changed = [key for key in (*REPLACE_KEYS, *UPDATE_KEYS, "rank") if _value(olds, key) != _value(news, key)]
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
                ip, port, private_ip = _start(paths, (address[0], port) if address else None, port,
                                              bool(news.get("private_address")), olds.get("private_ip") or "")
                address = (ip, port)
        else:
            sshd.stop(paths)
        ip, port = address if address else ("", 0)
        configured = _listen_addresses(paths)
        private_ip = configured[1][0] if len(configured) > 1 else ip
        host_public_key = olds.get("host_public_key", "")
        return UpdateResult(_outputs(news, ip, port, host_public_key, news["state"], private_ip))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        paths = sshd.NodePaths(Path(id_))
        sshd.stop(paths, removing=True)
        shutil.rmtree(paths.root, ignore_errors=True)


class LocalNode(Resource, module="local", name="Node"):
    ip: pulumi.Output[str]
    private_ip: pulumi.Output[str]
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
        private_address: bool = False,
        region: str = "",
        zone: str = "",
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        props = {
            "region": region,
            "zone": zone,
            "cluster": cluster,
            "node_name": node_name,
            "rank": rank,
            "root": root,
            "authorized_key": authorized_key,
            "state": state,
            "port": port,
            "private_address": private_address,
            "ip": None,
            "private_ip": None,
            "user": None,
            "host_public_key": None,
            "home": None,
            "dir": None,
        }
        super().__init__(LocalNodeProvider(), name, props, opts)
