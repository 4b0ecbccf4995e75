"""Jobs on an up cluster: install the node agent, submit, follow logs, list, cancel.

Everything here talks to the head node's agent over SSH, from the ClusterInfo
saved at `up`; Pulumi is not involved, which is why `stix exec` is fast.
"""

from __future__ import annotations

import json
import shlex
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Protocol

from stix import index as idx
from stix.agent import AGENT_SOURCE
from stix.agent.node_agent import (AGENT_FILE, CLUSTER_FILE, DAEMON_GONE_EXIT, KEY_FILE, KNOWN_HOSTS_FILE,
                                   NOT_FINISHED_EXIT, NOT_FOUND_EXIT, REMOTE_DIR, STATUS_EXIT, SUCCEEDED,
                                   known_hosts_line)
from stix.errors import ClusterNotFound, JobError
from stix.home import StixHome
from stix.spec import ClusterInfo, NodeInfo
from stix.timings import timed

if TYPE_CHECKING:  # paramiko's import costs `exec`, `queue`, `logs` and `cancel` more than their round trip
    from stix.ssh.runner import ClusterConnections, NodeConnection

AGENT = f"{REMOTE_DIR}/{AGENT_FILE}"
LOGS_STATUS_EXITS = tuple(sorted({*STATUS_EXIT.values(), NOT_FINISHED_EXIT, NOT_FOUND_EXIT}))
"""Every exit status `logs --status` (and `logs --follow`) can end with; anything else means the call failed."""


def info_path(home: StixHome, cluster: str) -> Path:
    return home.cluster_dir(cluster) / "info.json"


def save_info(home: StixHome, info: ClusterInfo) -> None:
    from stix.atomic import write_atomic

    write_atomic(info_path(home, info.cluster),
                 json.dumps({**info.to_dict(), "ssh_private_key_path": info.ssh_private_key_path}, indent=1))


def read_info(home: StixHome, cluster: str) -> ClusterInfo:
    """The node list saved at the cluster's last apply, whatever its status; JobError when there is none or it
    cannot be read."""
    path = info_path(home, cluster)
    try:
        data = json.loads(path.read_text())
        return ClusterInfo.from_dict(data, data.get("ssh_private_key_path") or data["key"])
    except OSError:
        raise JobError(f"cluster {cluster!r} has no saved node list; run `stix up` for it again") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise JobError(f"{path}: cluster {cluster}'s saved node list is corrupt (truncated?); "
                       f"`stix up TASK -c {cluster}` rewrites it") from None


def saved_info(home: StixHome, cluster: str) -> Optional[ClusterInfo]:
    """The node list saved at the cluster's last apply, whatever its status; None when there is none."""
    try:
        return read_info(home, cluster)
    except JobError:
        return None


def up_record(home: StixHome, cluster: str) -> idx.ClusterRecord:
    """The cluster's index record; ClusterNotFound or JobError unless it is UP."""
    record = idx.ClusterIndex(home.index_db).get(cluster)
    if record is None:
        raise ClusterNotFound(f"cluster {cluster!r} not found (stix status lists clusters)")
    if record.status != idx.UP:
        raise JobError(f"cluster {cluster!r} is {record.status}, not UP; `stix up` or `stix start` it first")
    return record


def load_info(home: StixHome, cluster: str) -> ClusterInfo:
    """An UP cluster's saved node list (what jobs run on)."""
    up_record(home, cluster)
    return read_info(home, cluster)


def skypilot_job_keys(row: dict) -> dict:
    """A node agent's queue row's id, name and times under SkyPilot's queue keys (the CLI's JSON and the SDK's
    records both start from these)."""
    return {"job_id": row["id"], "job_name": row.get("name"), "submitted_at": row.get("submitted"),
            "start_at": row.get("started"), "end_at": row.get("ended")}


class HeadConnection(Protocol):
    """What the agent calls below need of a connection to the head: a NodeConnection has it, and so does a
    reused (multiplexed) connection."""

    node: NodeInfo

    def run(self, command: str, on_line: Optional[Callable[[str], None]] = None,
            timeout: Optional[float] = None, stdin: Optional[bytes] = None) -> int: ...


@contextmanager
def connect_head(info: ClusterInfo, autostop_minutes: Optional[float] = None) -> Iterator[HeadConnection]:
    """A connection to the cluster's head node: a reused OpenSSH connection (stix.ssh.mux) left open for the next
    command, or, where reuse is off or unsafe, a paramiko connection closed on exit. autostop_minutes (the
    cluster's idle timer, if armed) keeps an idle master from holding the cluster up."""
    from stix.ssh import mux

    reused = mux.connect(info.head, info.ssh_private_key_path, autostop_minutes)
    if reused is not None:
        yield reused
        return
    with direct_head(info) as head:
        yield head


@contextmanager
def direct_head(info: ClusterInfo) -> Iterator["NodeConnection"]:
    """A paramiko connection of its own to the head (SFTP needs one), closed on exit."""
    from stix.ssh.runner import NodeConnection

    head = NodeConnection(info.head, info.ssh_private_key_path)
    try:
        yield head
    finally:
        head.close()


@contextmanager
def head_connection(home: StixHome, cluster: str) -> Iterator[HeadConnection]:
    """A connection to an up cluster's head node, from the saved node list."""
    record = up_record(home, cluster)
    with connect_head(read_info(home, cluster), armed_autostop(record)) as head:
        yield head


def armed_autostop(record: Optional[idx.ClusterRecord]) -> Optional[float]:
    """The cluster's armed autostop idle minutes, from its index record; None when it has none."""
    minutes = record.autostop_minutes()[0] if record is not None else -1
    return minutes if minutes >= 0 else None


def release_connections(home: StixHome, cluster: str, info: Optional[ClusterInfo] = None,
                        graceful: bool = False) -> list[str]:
    """End the reused connections to the cluster's nodes (stop, destroy), so no ssh process outlives the cluster;
    the names of the nodes that had one. graceful (arming autostop, so that an idle master does not hold the
    cluster up): the masters take no new sessions and end with the ones they carry (mux.close_masters)."""
    from stix.ssh import mux

    info = info or saved_info(home, cluster)
    return mux.close_masters(info, graceful) if info is not None else []


def agent_path(node: NodeInfo) -> str:
    return f"{node.home}/{AGENT}"


def cluster_file(info: ClusterInfo, directory: str) -> dict:
    """The head agent's cluster.json: ClusterInfo's one serialisation (each node with its cpus, gpus and
    accelerator), plus where the head keeps the cluster key and the pinned host keys."""
    from stix.components.base import cloud_for

    return {**info.to_dict(),
            "nodes_are_processes": cloud_for(info.cloud).nodes_are_processes,
            "key": f"{directory}/{KEY_FILE}", "known_hosts": f"{directory}/{KNOWN_HOSTS_FILE}"}


@timed("install agent")
def install_agent(conns: ClusterConnections) -> None:
    """Upload the agent to every node; give the head the node list, the cluster key and pinned host keys."""
    info = conns.info
    source = AGENT_SOURCE.read_bytes()

    def upload(node: NodeInfo) -> None:
        directory = f"{node.home}/{REMOTE_DIR}"
        files = [(AGENT_FILE, source, 0o700)]
        if node.rank == 0:
            known = "".join(known_hosts_line(n.private_ip or n.ip, n.port, n.host_public_key) for n in info.nodes)
            cluster = cluster_file(info, directory)
            files += [(KEY_FILE, Path(info.ssh_private_key_path).read_bytes(), 0o600),
                      (KNOWN_HOSTS_FILE, known.encode(), 0o600),
                      (CLUSTER_FILE, json.dumps(cluster).encode(), 0o600)]
        conns.connections[node.rank].put_files(directory, files)

    conns.map(upload)


def _agent(head: NodeInfo, *args: str) -> str:
    """The shell command that runs the agent's `args` on the head. The agent is imported, not run as a script, so
    its bytecode is cached beside it (a script is compiled at every call); -S skips site (.pth files and
    site-packages: a third of a bare python start here), which the standard-library-only agent never needs."""
    directory = agent_path(head).rsplit("/", 1)[0]
    boot = f"import sys; sys.path.insert(0, {json.dumps(directory)}); import node_agent; sys.exit(node_agent.main())"
    return f"exec python3 -S -c {shlex.quote(boot)} " + " ".join(shlex.quote(a) for a in args)


def job_spec(name: Optional[str], script: Optional[str], ranks: list[dict], cpus: float, gpus: float) -> dict:
    """What the node agent queues for one job (its ranks: per node, env and cwd; cpus and gpus: per node)."""
    return {"name": name, "script": script, "ranks": ranks, "cpus": cpus, "gpus": gpus}


def submit(head: HeadConnection, name: Optional[str], script: Optional[str], ranks: list[dict], cpus: float, gpus: float,
           setup: Optional[dict] = None) -> int:
    """Queue a job; its id. `setup`: the spec's keys for a setup phase (hooks.setup_keys); `script` None then means
    the job is its setup alone."""
    spec = {**job_spec(name, script, ranks, cpus, gpus), **(setup or {})}
    out: list[str] = []
    status = head.run(_agent(head.node, "submit"), out.append, timeout=60, stdin=json.dumps(spec).encode())
    if status != 0 or not out or not out[-1].strip().isdigit():
        raise JobError(f"the node agent on {head.node.name} refused the job: {' '.join(out)[-300:]}")
    return int(out[-1])


def submit_many(head: HeadConnection, specs: list[dict]) -> list[int]:
    """Queue jobs (job_spec's) in one round trip and one transaction on the agent: all of them, in order, or
    none (JobError). Their ids, in the same order. Needs an agent that takes batches (any `up` installs one)."""
    if not specs:
        return []
    out: list[str] = []
    status = head.run(_agent(head.node, "submit"), out.append, timeout=60 + len(specs) / 100,
                      stdin=json.dumps(specs).encode())
    ids = _id_list(out[-1]) if status == 0 and out else None
    if ids is None or len(ids) != len(specs):
        if any("object has no attribute 'get'" in line for line in out):
            raise JobError(f"the node agent on {head.node.name} is older and takes one job at a time; "
                           f"`stix up` for the cluster upgrades it")
        raise JobError(f"the node agent on {head.node.name} refused the {len(specs)} jobs: {' '.join(out)[-300:]}")
    return ids


def _id_list(line: str) -> Optional[list[int]]:
    try:
        ids = json.loads(line)
    except ValueError:
        return None
    return ids if isinstance(ids, list) and all(isinstance(i, int) for i in ids) else None


def queue(head: HeadConnection) -> list[dict]:
    out: list[str] = []
    if head.run(_agent(head.node, "queue"), out.append, timeout=60) != 0:
        raise JobError(f"cannot read the job queue on {head.node.name}: {' '.join(out)[-300:]}")
    return json.loads("".join(out))


def job(head: HeadConnection, job_id: int) -> Optional[dict]:
    return next((row for row in queue(head) if row["id"] == job_id), None)


def follow(head: HeadConnection, job_id: int, write: Callable[[str], None], tail: Optional[int] = None,
           follow_: bool = True, phase: Optional[str] = None) -> int:
    """Stream a job's logs (setup's, then the run's; `phase` "setup" or "run": that one alone, and a follow of
    "setup" ends when the job leaves setup); the agent's exit status (`sky logs` codes). The agent ends a follow
    whose daemon is gone and cannot be restarted: that is a JobError, never a hang."""
    args = ["logs", str(job_id)] + (["--follow"] if follow_ else []) + (["--tail", str(tail)] if tail is not None else [])
    args += ["--phase", phase] if phase else []
    code = head.run(_agent(head.node, *args), write)
    if code == DAEMON_GONE_EXIT:
        cluster = _cluster_name(head)
        raise JobError(f"the node agent on cluster {cluster!r} stopped (or got stuck) and could not be restarted "
                       f"while following job {job_id}; the job may still run: `stix queue {cluster}` shows it, "
                       f"`stix logs {cluster} {job_id}` tries the agent again")
    return code


def logs_status(head: HeadConnection, job_id: int) -> tuple[str, int]:
    out: list[str] = []
    code = head.run(_agent(head.node, "logs", str(job_id), "--status"), out.append, timeout=60)
    return (out[-1].strip() if out else "NOT_FOUND"), code


def cancel(head: HeadConnection, job_ids: list[int], all_jobs: bool) -> list[int]:
    out: list[str] = []
    args = ["cancel", *map(str, job_ids)] + (["--all"] if all_jobs else [])
    if head.run(_agent(head.node, *args), out.append, timeout=120) != 0:
        raise JobError(f"cancel failed on {head.node.name}: {' '.join(out)[-300:]}")
    return json.loads(out[-1])


@timed("autostop")
def set_autostop(head: HeadConnection, idle_minutes: Optional[float], down: bool = False,
                 wait_for: str = "jobs_and_ssh", hook: Optional[str] = None, hook_timeout: Optional[float] = None) -> None:
    """Arm (or cancel, idle_minutes None) the head agent's idle timer. `hook` runs on the head before the stop,
    within hook_timeout seconds (the agent's default: SkyPilot's hour); it travels on stdin, never in argv."""
    args = ["autostop", "--cancel"] if idle_minutes is None else \
        ["autostop", "--idle", f"{idle_minutes:g}", "--wait-for", wait_for] + (["--down"] if down else [])
    stdin = None
    if idle_minutes is not None and hook:
        args += ["--hook-stdin"] + (["--hook-timeout", f"{hook_timeout:g}"] if hook_timeout else [])
        stdin = hook.encode()
    out: list[str] = []
    if head.run(_agent(head.node, *args), out.append, timeout=60, stdin=stdin) != 0:
        raise JobError(f"cannot set autostop on {head.node.name}: {' '.join(out)[-300:]}")


def _cluster_name(head: HeadConnection) -> str:
    return head.node.name.rsplit('-head', 1)[0]


def latest_job(head: HeadConnection) -> int:
    rows = queue(head)
    if not rows:
        raise JobError(f"cluster {_cluster_name(head)!r} has no jobs")
    return rows[-1]["id"]


def exit_code_of(row: Optional[dict]) -> int:
    if row is None:
        return 1
    if row["status"] == SUCCEEDED:
        return 0
    code = row.get("exit_code")
    return code if isinstance(code, int) and 0 < code < 256 else 1


def job_demand(task, node: NodeInfo) -> tuple[float, float]:
    """CPUs and GPUs a job holds on each of its nodes while it runs.

    CPUs: the task's request, else half a CPU. GPUs: the task's choice of the accelerator the cluster was
    placed on (any spelling, any_of / ordered included), so `['A100:1', 'H100:8']` on an H100 node holds 8.
    """
    resources = task.resources
    cpus = resources.cpus.value if resources.cpus is not None else 0.5
    wanted = resources.accelerator_choices()
    if not wanted:
        return cpus, 0.0
    match = next((choice for choice in wanted if node.accelerator and choice.name.lower() == node.accelerator.lower()),
                 None)
    if match is None:
        have = f"{node.accelerator}:{node.gpus:g}" if node.accelerator else "no accelerators"
        raise JobError(f"the task asks for {', '.join(map(str, wanted))}; the cluster's nodes have {have}")
    return cpus, match.count


