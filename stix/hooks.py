"""Post-apply hooks: sync the workdir and file mounts to every node; the env of a job's setup and run phases.

Commands are built from quoted parts only: user values (env values, paths,
scripts) are shell-quoted, and scripts run as `bash -c <quoted>`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Optional

from stix.agent.node_agent import SETUP_TIMEOUT_NAME, shell_command  # noqa: F401 (shell_command: re-exported)
from stix.errors import SSHError, UsageError
from stix.naming import local_user
from stix.spec import ClusterInfo, NodeInfo
from stix.models.task import GitWorkdir, Task
from stix.timings import timed

if TYPE_CHECKING:  # paramiko's import is a third of `stix exec`'s: job_ranks and the rest need none of it
    from stix.ssh.runner import ClusterConnections

REMOTE_WORKDIR = "sky_workdir"
SETUP_TIMEOUT_ENV = SETUP_TIMEOUT_NAME  # the agent names it when setup runs past it
DEFAULT_SETUP_TIMEOUT_S = 2 * 3600.0
"""Setup on any one node may take this long (seconds) before it fails naming the node."""
GIT_TIMEOUT_ENV = "STIX_GIT_TIMEOUT"
DEFAULT_GIT_TIMEOUT_S = 1800.0
"""A git workdir's clone or fetch on any one node may take this long (seconds)."""


def setup_timeout() -> float:
    from stix.ssh.settings import positive_seconds

    return positive_seconds(SETUP_TIMEOUT_ENV, f"{DEFAULT_SETUP_TIMEOUT_S:g}", most=math.inf)


@dataclass(frozen=True)
class JobContext:
    task_id: str
    gpus_per_node: float = 0.0
    """The job's GPUs on each node (jobs.job_demand), for SKYPILOT_NUM_GPUS_PER_NODE."""
    user: str = field(default_factory=local_user)
    """The user who launched the job (SKYPILOT_USER)."""


def new_task_id(cluster: str) -> str:
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
    return f"stix-{stamp}-{time.time_ns() % 1_000_000:06d}_{cluster}_1"


def node_env(info: ClusterInfo, node: NodeInfo, context: JobContext, phase: str) -> dict[str, str]:
    """SkyPilot's variable names, each with a STIX_ twin."""
    ips = "\n".join(info.ips)
    base = {
        "NODE_RANK": str(node.rank),
        "NODE_IPS": ips,
        "NUM_NODES": str(len(info.nodes)),
        "NUM_GPUS_PER_NODE": str(math.ceil(context.gpus_per_node)),  # SkyPilot rounds a fraction up
        "TASK_ID": context.task_id,
        "CLUSTER_INFO": info.to_json(),
        "USER": context.user,
    }
    if phase == "setup":
        base.update(_setup_only(info, node))
    return _both_names(base)


def _setup_only(info: ClusterInfo, node: NodeInfo) -> dict[str, str]:
    """The variables setup has and the run does not (unprefixed)."""
    return {"SETUP_NODE_RANK": str(node.rank), "SETUP_NODE_IPS": "\n".join(info.ips)}


def _both_names(base: dict[str, str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for key, value in base.items():
        env[f"SKYPILOT_{key}"] = value
        env[f"STIX_{key}"] = value
    return env


def remote_workdir(node: NodeInfo) -> str:
    return f"{node.home}/{REMOTE_WORKDIR}"


@timed("sync workdir")
def sync_workdir(conns: ClusterConnections, workdir: Optional[str | GitWorkdir], values: Mapping[str, str] = {},
                 note: Optional[Callable[[str], None]] = None) -> list[int]:
    """Send the workdir's changed files to every node (a git workdir: clone or move it to the ref there);
    returns how many files each node received (for git, how many the checkout wrote).

    `values` are the task's envs and secrets (GIT_TOKEN for an https repository); `note` hears which
    commit a git workdir is at."""
    from stix.sync import sync_dir

    if not workdir:
        return []
    if isinstance(workdir, GitWorkdir):
        return _checkout_workdir(conns, workdir, values, note)
    local = Path(workdir).expanduser().absolute()
    if not local.is_dir():
        raise UsageError(f"workdir {workdir!r} is not a directory")
    return conns.map(lambda node: sync_dir(conns.connections[node.rank], local, remote_workdir(node)))


def _checkout_workdir(conns: ClusterConnections, workdir: GitWorkdir, values: Mapping[str, str],
                      note: Optional[Callable[[str], None]]) -> list[int]:
    from stix import git_workdir as git
    from stix.ssh.runner import STDIN_SCRIPT
    from stix.ssh.settings import positive_seconds

    token = git.token_for(workdir.url, values)
    key = git.ssh_key_for(workdir.url, values)
    key_bytes = key.read_bytes() if key is not None else None
    limit = positive_seconds(GIT_TIMEOUT_ENV, f"{DEFAULT_GIT_TIMEOUT_S:g}")

    def checkout(node: NodeInfo) -> git.Checkout:
        lines: list[str] = []
        ssh_command = None
        if key_bytes is not None:
            directory = f"{node.home}/{git.REMOTE_KEY_DIR}"
            conns.connections[node.rank].put_bytes(directory, "id", key_bytes, 0o600)
            ssh_command = git.ssh_command(f"{directory}/id", f"{directory}/known_hosts")
        script = git.node_script(remote_workdir(node), workdir.url, workdir.ref, token, ssh_command)
        try:
            status = conns.connections[node.rank].run(STDIN_SCRIPT, lines.append, limit, script.encode() + b"\0")
        except SSHError as exc:
            raise SSHError(f"workdir checkout failed: {exc} (time limit {limit:g}s, {GIT_TIMEOUT_ENV})") from None
        done = git.parse_checkout(lines) if status == 0 else None
        if done is None:
            raise git.failure(node.name, status, lines, workdir.url, workdir.ref, token)
        return done

    checkouts = conns.map(checkout)
    if note is not None:
        commits = sorted({done.commit[:12] for done in checkouts})
        at = f" at {workdir.ref}" if workdir.ref else ""
        note(f"Workdir {git.redact_url(workdir.url)}{at}: commit {', '.join(commits)} on {len(checkouts)} node(s).")
    return [done.changed_files for done in checkouts]


@timed("sync file_mounts")
def sync_file_mounts(conns: ClusterConnections, mounts: Optional[dict]) -> list[int]:
    """Local-path file_mounts to every node, incrementally (bucket ones are stix.storage's)."""
    from stix.models.storage import is_local_source
    from stix.sync import sync_mount

    mounts = {destination: source for destination, source in (mounts or {}).items() if is_local_source(source)}
    if not mounts:
        return []

    def send(node: NodeInfo) -> int:
        return sum(sync_mount(conns.connections[node.rank], source, destination, node.home)
                   for destination, source in mounts.items())

    return conns.map(send)


def setup_keys(info: ClusterInfo, task: Task) -> dict:
    """The job spec's keys that give a job its setup phase on the node agent (its class Setup): the script, each
    node's setup variables (SKYPILOT_SETUP_NODE_RANK...) beside the run's env, the time limit (STIX_SETUP_TIMEOUT),
    and the client's keepalive bound, which the head's ssh to each worker keeps too."""
    from stix.ssh.settings import keepalive_settings

    limit = setup_timeout()
    extra = [_both_names(_setup_only(info, node)) for node in info.nodes]
    return {"setup": task.setup, "setup_env": extra, "setup_timeout": None if math.isinf(limit) else limit,
            "keepalive": list(keepalive_settings())}


def job_ranks(info: ClusterInfo, task: Task, context: JobContext) -> list[dict]:
    """Per-node environment and working directory of a job, for the node agent."""
    task_env = {**task.env_values(), **task.secret_values()}
    return [{"env": {**task_env, **node_env(info, node, context, "run")}, "cwd": remote_workdir(node)}
            for node in info.nodes]
