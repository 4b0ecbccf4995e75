"""`ssh CLUSTER` and `ssh CLUSTER-worker1` from the user's shell.

stix writes one config file per cluster (with the cluster key and a known_hosts
file pinning the nodes' host keys) and includes them all from ~/.ssh/config
through one marked block, added once.
"""

from __future__ import annotations

import os
from pathlib import Path

from stix.home import StixHome
from stix.spec import ClusterInfo

BEGIN = "# >>> stix: cluster hosts (managed by stix) >>>"
END = "# <<< stix <<<"


def ssh_dir(home: StixHome) -> Path:
    return home.root / "ssh"


def alias(cluster: str, rank: int) -> str:
    return cluster if rank == 0 else f"{cluster}-worker{rank}"


def render(info: ClusterInfo, known_hosts: Path) -> str:
    blocks = []
    for node in info.nodes:
        blocks.append("\n".join([
            f"Host {alias(info.cluster, node.rank)}",
            f"  HostName {node.ip}",
            f"  Port {node.port}",
            f"  User {node.user}",
            f"  IdentityFile {info.ssh_private_key_path}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {known_hosts}",
            "  StrictHostKeyChecking yes",
            "  HostKeyAlias " + f"stix-{info.cluster}-{node.rank}",
        ]))
    return "# Written by stix for cluster " + info.cluster + "; rewritten on every `stix up`.\n" + "\n\n".join(blocks) + "\n"


def write_cluster_config(home: StixHome, info: ClusterInfo, user_ssh_config: Path | None = None) -> Path:
    directory = ssh_dir(home)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    known = directory / f"{info.cluster}.known_hosts"
    known.write_text("".join(f"stix-{info.cluster}-{n.rank} {' '.join(n.host_public_key.split()[:2])}\n" for n in info.nodes))
    config = directory / f"{info.cluster}.config"
    config.write_text(render(info, known))
    ensure_include(directory, user_ssh_config or user_config_path())
    return config


def user_config_path() -> Path:
    """The user's ssh config: ~/.ssh/config, or STIX_SSH_CONFIG (tests point it elsewhere)."""
    override = os.environ.get("STIX_SSH_CONFIG")
    return Path(override) if override else Path(os.path.expanduser("~")) / ".ssh" / "config"


def remove_cluster_config(home: StixHome, cluster: str) -> None:
    for suffix in (".config", ".known_hosts"):
        (ssh_dir(home) / f"{cluster}{suffix}").unlink(missing_ok=True)


def ensure_include(directory: Path, user_config: Path) -> None:
    """Put one Include of stix's configs at the top of ~/.ssh/config (Include must precede Host blocks)."""
    block = f"{BEGIN}\nInclude {directory}/*.config\n{END}\n"
    text = user_config.read_text() if user_config.exists() else ""
    if block in text:
        return
    if BEGIN in text and END in text:
        start, end = text.index(BEGIN), text.index(END) + len(END)
        text = text[:start] + text[end:].lstrip("\n")
    user_config.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = user_config.with_suffix(".stix-tmp")
    tmp.write_text(block + ("\n" + text if text else ""))
    os.chmod(tmp, 0o600)
    os.replace(tmp, user_config)
