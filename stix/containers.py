"""`image_id: docker:IMAGE`: setup and run execute inside a container of IMAGE on every node.

Where a cloud's node is itself the image (a Kubernetes pod, Cloud.docker_image_is_node), the image is the node's
and nothing here applies. Elsewhere the nodes boot the cloud's default image and, after apply, each node gets one
long-lived container (as SkyPilot's `sky_container`): host networking, the node's home mounted at the same path,
named after the node. The node records `<runtime> <container>` in ~/.stix-agent/container; every setup and job
command (stix.agent.node_agent.in_container) then runs in it, the environment passed by name.

A node with neither a working docker nor podman is refused in one line, after apply (what a cloud's image holds
is known only on the node), before anything runs; the cluster stays up and the message says how to remove it.
"""

from __future__ import annotations

import shlex
from typing import Any, Optional

from stix.agent.node_agent import CONTAINER_FILE, REMOTE_DIR
from stix.errors import PrerequisiteMissing
from stix.timings import timed

DOCKER_PREFIX = "docker:"
NO_RUNTIME_EXIT = 3
PULL_TIMEOUT_S = 1800.0


def docker_image(image_id: Any) -> Optional[str]:
    """IMAGE of `docker:IMAGE`, else None (a VM image, a per-region mapping, nothing)."""
    if isinstance(image_id, str) and image_id.startswith(DOCKER_PREFIX) and image_id[len(DOCKER_PREFIX):].strip():
        return image_id[len(DOCKER_PREFIX):].strip()
    return None


def vm_image(image_id: str, cloud: str) -> str:
    """The image the cloud boots its nodes from: `docker:...` selects the cloud's default (""), except where
    the node is the image."""
    from stix.components.base import cloud_for

    if docker_image(image_id) is not None and not cloud_for(cloud).docker_image_is_node:
        return ""
    return image_id


def node_container(image_id: Any, cloud: str) -> Optional[str]:
    """The image setup and run execute in on this cloud's nodes, or None (no docker image, or the node is it)."""
    from stix.components.base import cloud_for

    image = docker_image(image_id)
    return None if image is None or cloud_for(cloud).docker_image_is_node else image


def container_name(node_name: str) -> str:
    return f"stix-{node_name}"


def prepare_script(image: str, name: str) -> str:
    """On a node: find a working runtime (docker, then podman), pull IMAGE if absent, (re)start the container,
    and record it."""
    record = f'"$HOME"/{REMOTE_DIR}/{CONTAINER_FILE}'
    image_q, name_q = shlex.quote(image), shlex.quote(name)
    return (
        "R=; for c in docker podman; do if command -v \"$c\" >/dev/null 2>&1 && \"$c\" info >/dev/null 2>&1; "
        "then R=$c; break; fi; done\n"
        f"[ -n \"$R\" ] || exit {NO_RUNTIME_EXIT}\n"
        "set -e\n"
        f"\"$R\" image inspect {image_q} >/dev/null 2>&1 || \"$R\" pull {image_q}\n"
        f"if [ \"$(\"$R\" inspect -f '{{{{.Config.Image}}}}' {name_q} 2>/dev/null)\" != {image_q} ]; then\n"
        f"  \"$R\" rm -f {name_q} >/dev/null 2>&1 || true\n"
        "  gpus=; if [ \"$R\" = docker ] && command -v nvidia-smi >/dev/null 2>&1; then gpus='--gpus all'; fi\n"
        f"  \"$R\" run -d --name {name_q} --net=host $gpus -v \"$HOME:$HOME\" -e HOME=\"$HOME\" -w \"$HOME\" "
        f"--entrypoint sleep {image_q} infinity >/dev/null\n"
        "fi\n"
        f"\"$R\" start {name_q} >/dev/null\n"
        f"mkdir -p \"$HOME\"/{REMOTE_DIR} && printf '%s %s\\n' \"$R\" {name_q} > {record}\n"
    )


@timed("containers.prepare")
def prepare(conns, image: Optional[str], cluster: str) -> None:
    """Give every node its container (or none); refuse in one line where a node has no docker or podman."""
    from stix.ssh.runner import STDIN_SCRIPT

    if image is None:
        conns.map(lambda node: forget(conns.connections[node.rank], node))
        return
    known: str = image

    def on_node(node) -> tuple[str, int, list[str]]:
        lines: list[str] = []
        script = prepare_script(known, container_name(node.name))
        status = conns.connections[node.rank].run(STDIN_SCRIPT, lines.append, PULL_TIMEOUT_S, script.encode() + b"\0")
        return node.name, status, lines

    problem = refusal(image, cluster, conns.map(on_node))
    if problem is not None:
        raise problem


def forget(conn, node) -> None:
    """No image: remove the container a previous `up` recorded, if any. Over SFTP, which starts no shell on the node
    (a command would: most of an unchanged `up`'s time here)."""
    import paramiko

    from stix.errors import SSHError

    record = f"{node.home}/{REMOTE_DIR}/{CONTAINER_FILE}"
    try:
        sftp = conn.client.open_sftp()
        try:
            sftp.remove(record)
        except FileNotFoundError:
            pass
        finally:
            sftp.close()
    except (OSError, paramiko.SSHException) as exc:
        raise SSHError(f"{node.name}: cannot remove {record} (the container an earlier up recorded): "
                       f"{exc or type(exc).__name__}") from None


RESTART_SCRIPT = (f'f="$HOME"/{REMOTE_DIR}/{CONTAINER_FILE}; [ -f "$f" ] || exit 0; read -r R N < "$f"; '
                  '"$R" start "$N" >/dev/null')


def restart(conns) -> None:
    """After `stix start`: start again the container a node recorded (a stopped machine stopped it)."""
    from stix.errors import NodeCommandFailed
    from stix.ssh.runner import STDIN_SCRIPT

    def on_node(node) -> tuple[str, int, list[str]]:
        lines: list[str] = []
        status = conns.connections[node.rank].run(STDIN_SCRIPT, lines.append, PULL_TIMEOUT_S,
                                                  RESTART_SCRIPT.encode() + b"\0")
        return node.name, status, lines

    for name, status, lines in conns.map(on_node):
        if status != 0:
            last = next((line.strip() for line in reversed(lines) if line.strip()), "")
            raise NodeCommandFailed(f"{name}: its container would not start again (exit {status}"
                                    f"{': ' + last[-200:] if last else ''})", status)


def refusal(image: Optional[str], cluster: str, results: list[tuple[str, int, list[str]]]) -> Optional[PrerequisiteMissing]:
    """The one-line error for nodes whose container could not be made: (node name, exit status, output) each."""
    bare = [name for name, status, _ in results if status == NO_RUNTIME_EXIT]
    tail = f"cluster {cluster} is up: `stix destroy {cluster}` removes it"
    if bare:
        return PrerequisiteMissing(
            f"resources.image_id docker:{image}: the nodes have neither docker nor podman ({', '.join(bare)}); "
            f"setup and run did not start; {tail}, or choose an image_id whose nodes have one")
    failed = [(name, status, lines) for name, status, lines in results if status != 0]
    if failed:
        name, status, lines = failed[0]
        last = next((line.strip() for line in reversed(lines) if line.strip()), "")
        return PrerequisiteMissing(f"resources.image_id docker:{image}: the container could not start on {name} "
                                   f"(exit {status}{': ' + last[-200:] if last else ''}); {tail}")
    return None
