"""`ssh CLUSTER` and `ssh CLUSTER-worker1` from the user's shell.

stix writes one config file per cluster (with the cluster key and a known_hosts
file pinning the nodes' host keys) and includes them all from ~/.ssh/config
through one marked block, added once and removed with the last cluster.

The Include sits at the top of ~/.ssh/config (an Include after a Host line
would apply only inside that Host), so for the hosts stix writes its values
win. Putting it last instead would let a user's `Host *` override the pinned
host key checking. So stix never writes an alias the user's own config names
as a literal Host: that alias is left out, with a note, and the user's Host
keeps working as before.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Optional

from stix.atomic import write_atomic
from stix.errors import StixError
from stix.home import StixHome
from stix.spec import ClusterInfo

BEGIN = "# >>> stix: cluster hosts (managed by stix) >>>"
END = "# <<< stix <<<"
_HOST_LINE = re.compile(r"^\s*host(?:\s*=\s*|\s+)(.*)$", re.IGNORECASE)


def ssh_dir(home: StixHome) -> Path:
    return home.root / "ssh"


def alias(cluster: str, rank: int) -> str:
    return cluster if rank == 0 else f"{cluster}-worker{rank}"


def quoted(value: str, tokens: bool = False) -> str:
    """A path as one ssh_config argument; `tokens` for keywords that expand %-tokens (IdentityFile...)."""
    if '"' in value or "\n" in value or "\r" in value:
        raise StixError(f"cannot write an ssh config for path {value!r}: it holds a double quote or a line break")
    return '"' + (value.replace("%", "%%") if tokens else value) + '"'


def user_hosts(user_config: Path) -> set[str]:
    """Literal names in the user's own Host lines (outside stix's block), lower-cased as ssh matches them."""
    try:
        text = user_config.read_text()
    except OSError:
        return set()
    names: set[str] = set()
    for line in _without_block(text).splitlines():
        match = _HOST_LINE.match(line)
        if match:
            names.update(name.strip('"').lower() for name in match.group(1).split()
                         if not name.startswith("!") and not any(c in name for c in "*?"))
    return names


def render(info: ClusterInfo, known_hosts: Path, skip: frozenset[str] = frozenset()) -> str:
    blocks = []
    for node in info.nodes:
        name = alias(info.cluster, node.rank)
        if name.lower() in skip:
            blocks.append(f"# Host {name} left out: your ssh config already has a Host {name}")
            continue
        blocks.append("\n".join([
            f"Host {name}",
            f"  HostName {node.ip}",
            f"  Port {node.port}",
            f"  User {node.user}",
            f"  IdentityFile {quoted(info.ssh_private_key_path, tokens=True)}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {quoted(str(known_hosts), tokens=True)}",
            "  StrictHostKeyChecking yes",
            "  HostKeyAlias " + f"stix-{info.cluster}-{node.rank}",
        ]))
    return "# Written by stix for cluster " + info.cluster + "; rewritten on every `stix up`.\n" + "\n\n".join(blocks) + "\n"


def write_cluster_config(home: StixHome, info: ClusterInfo, user_ssh_config: Path | None = None,
                         note: Optional[Callable[[str], None]] = None) -> Path:
    """Write the cluster's ssh config (0600) and include it from the user's; `note` hears of aliases left out."""
    user_config = user_ssh_config or user_config_path()
    directory = ssh_dir(home)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    known = directory / f"{info.cluster}.known_hosts"
    write_atomic(known, "".join(f"stix-{info.cluster}-{n.rank} {' '.join(n.host_public_key.split()[:2])}\n"
                                for n in info.nodes), mode=0o600)
    taken = user_hosts(user_config)
    skip = frozenset(alias(info.cluster, n.rank).lower() for n in info.nodes) & taken
    config = directory / f"{info.cluster}.config"
    write_atomic(config, render(info, known, skip), mode=0o600)
    ensure_include(directory, user_config)
    if note:
        for name in sorted(skip):
            note(f"`ssh {name}` stays with the Host {name} in {user_config}; stix did not add its own")
    return config


def user_config_path() -> Path:
    """The user's ssh config: ~/.ssh/config, or STIX_SSH_CONFIG (tests point it elsewhere)."""
    override = os.environ.get("STIX_SSH_CONFIG")
    return Path(override) if override else Path(os.path.expanduser("~")) / ".ssh" / "config"


def remove_cluster_config(home: StixHome, cluster: str, user_ssh_config: Path | None = None) -> None:
    """Remove the cluster's files; with the last cluster gone, remove the Include block too."""
    directory = ssh_dir(home)
    for suffix in (".config", ".known_hosts"):
        (directory / f"{cluster}{suffix}").unlink(missing_ok=True)
    if not any(directory.glob("*.config")):
        remove_include(user_ssh_config or user_config_path())


def _without_block(text: str) -> str:
    if BEGIN in text and END in text:
        start, end = text.index(BEGIN), text.index(END) + len(END)
        text = text[:start] + text[end:].lstrip("\n")
    return text


def _replace_user_config(user_config: Path, text: str) -> None:
    """Write through a symlinked ~/.ssh/config to its target, keeping the file's mode (never group/world-writable)."""
    target = Path(os.path.realpath(user_config))
    try:
        mode = target.stat().st_mode & 0o777 & ~0o022
    except FileNotFoundError:
        mode = 0o600
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(target, text, mode=mode)


def ensure_include(directory: Path, user_config: Path) -> None:
    """Put one Include of stix's configs at the top of ~/.ssh/config (Include must precede Host blocks)."""
    block = f"{BEGIN}\nInclude {quoted(str(directory) + '/*.config')}\n{END}\n"
    text = user_config.read_text() if user_config.exists() else ""
    if text.startswith(block):
        return
    text = _without_block(text)
    _replace_user_config(user_config, block + ("\n" + text if text else ""))


def remove_include(user_config: Path) -> None:
    try:
        text = user_config.read_text()
    except OSError:
        return
    if BEGIN in text:
        _replace_user_config(user_config, _without_block(text))
