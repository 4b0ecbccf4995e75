"""`stix logs --sync-down`: a job's log files, copied from the head node into stix's home.

The head's agent keeps every node's output of a job (rank-<r>.log, one file per node) in the job's
directory, so one SFTP session to the head fetches them all.
"""

from __future__ import annotations

import posixpath
import stat
from pathlib import Path

from stix.agent.node_agent import JOBS_DIR, REMOTE_DIR
from stix.errors import JobError, SSHError
from stix.home import StixHome
from stix.ssh.runner import CONNECT_TIMEOUT_S, NodeConnection


def logs_dir(home: StixHome, cluster: str, job_id: int) -> Path:
    """Where a job's logs land (SkyPilot: ~/sky_logs/...)."""
    return home.root / "logs" / cluster / f"job-{job_id}"


def sync_down(home: StixHome, head: NodeConnection, cluster: str, job_id: int) -> tuple[Path, list[str]]:
    """Download the job's log files; (the local directory, the file names written). A job the head does not have
    is a JobError; any other SFTP or disk failure (a lost head, a full local disk) one SSHError naming both ends."""
    import paramiko

    remote = posixpath.join(head.node.home, REMOTE_DIR, JOBS_DIR, str(job_id))
    target = logs_dir(home, cluster, job_id)
    try:
        sftp = head.client.open_sftp()
    except (OSError, paramiko.SSHException) as exc:
        raise SSHError(f"{head.node.name}: cannot open SFTP to download job {job_id}'s logs: "
                       f"{exc or type(exc).__name__}") from None
    try:
        sftp.get_channel().settimeout(CONNECT_TIMEOUT_S)
        try:
            entries = sftp.listdir_attr(remote)
        except FileNotFoundError:
            raise JobError(f"job {job_id} not found on cluster {cluster!r} (`stix queue {cluster}` lists jobs)") from None
        names = sorted(e.filename for e in entries
                       if e.filename.endswith(".log") and e.st_mode is not None and stat.S_ISREG(e.st_mode))
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            sftp.get(posixpath.join(remote, name), str(target / name))
    except (OSError, paramiko.SSHException) as exc:
        raise SSHError(f"{head.node.name}: downloading job {job_id}'s logs from {remote} to {target} failed: "
                       f"{exc or type(exc).__name__}") from None
    finally:
        sftp.close()
    return target, names
