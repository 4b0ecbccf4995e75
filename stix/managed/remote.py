"""`stix jobs ...` against the controller cluster (STIX_JOBS_CONTROLLER=cluster).

Each verb runs `python -m stix.managed.remote_side VERB` on the controller's head over SSH, with
STIX_HOME=$HOME/.stix there; the remote side calls what the local path calls here (stix.managed.client), and
the CLI renders what comes back with the local path's renderers. Everything the remote side reads (the tasks
and their secrets, the settings it runs under) goes on stdin as one JSON document: argv holds only the
interpreter, the module and the verb, each quoted. The remote side answers with plain lines (logs, its
errors), notes and one result, the last two marked so that no log line can be taken for them.

Launch copies each task's local workdir and local file_mounts to the controller node first (under a
directory of the launch's own) and submits the task with those paths, so the job's clusters get the files
from the controller, not from the laptop.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from stix.errors import JobError, StixError, UsageError
from stix.managed.client import CancelResult, ManagedLaunch
from stix.models.storage import is_local_source
from stix.session import LineSink, Session, confirm

MODULE = "stix.managed.remote_side"
NOTE = "\x1fstix-note "
RESULT = "\x1fstix-result "
FORWARDED = frozenset({"PATH", "PYTHONPATH", "STIX_SETUP_TIMEOUT", "STIX_RETRY_BACKOFF", "STIX_CATALOG_DIR"})
FORWARDED_PREFIXES = ("STIX_LOCAL_", "STIX_CONTROLLER_", "STIX_SSH_KEEPALIVE")
"""Settings the controller runs under, as they are here (the node shares this machine: the same paths work)."""


@dataclass(frozen=True)
class Upload:
    local: Path
    remote: str


def settings() -> dict[str, str]:
    """The environment the remote side adds to its own: the forwarded settings, and this machine's engine cache
    (the node's HOME is its own directory, so its default cache would be empty)."""
    from stix.home import cache_dir

    env = {k: v for k, v in os.environ.items() if k in FORWARDED or k.startswith(FORWARDED_PREFIXES)}
    env["STIX_CACHE"] = str(cache_dir())
    return env


def package_dir() -> str:
    import stix

    return str(Path(stix.__file__).resolve().parent)


def rewrite(config: dict[str, Any], index: int, base: str) -> tuple[dict[str, Any], list[Upload]]:
    """A task's config with its local workdir and local file_mounts sources replaced by their copies under
    `base`/task-INDEX on the controller node, and the copies to make. Bucket URIs and storage mappings stay."""
    config = dict(config)
    root = f"{base}/task-{index}"
    uploads: list[Upload] = []
    workdir = config.get("workdir")
    if isinstance(workdir, str) and workdir:
        local = Path(workdir).expanduser().absolute()
        if not local.is_dir():
            raise UsageError(f"workdir {workdir!r} is not a directory")
        uploads.append(Upload(local, f"{root}/workdir"))
        config["workdir"] = f"{root}/workdir"
    mounts = config.get("file_mounts")
    if isinstance(mounts, dict):
        rewritten = {}
        for number, (destination, source) in enumerate(mounts.items()):
            if is_local_source(source):
                local = Path(source).expanduser().absolute()
                if not local.exists():
                    raise UsageError(f"file_mounts[{destination!r}]: local source {source!r} does not exist")
                source = f"{root}/mounts/{number}"
                uploads.append(Upload(local, source))
            rewritten[destination] = source
        config["file_mounts"] = rewritten
    return config, uploads


def payload(request: ManagedLaunch, configs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What `launch` sends on stdin: the tasks as configs (secrets in them: stdin only, never argv)."""
    return {"name": request.name, "label": request.label, "lines": list(request.lines), "tasks": list(configs),
            "retry_until_up": request.retry_until_up}


def command(verb: str) -> str:
    """The remote command line: values quoted; $HOME is the node's own (the local cloud sets it per node)."""
    return f'cd && STIX_HOME="$HOME/.stix" exec {shlex.quote(sys.executable)} -m {MODULE} {shlex.quote(verb)}'


def error_from(answer: dict[str, Any]) -> StixError:
    """The remote side's error as the same type (and exit code) here."""
    from stix import errors

    kind = getattr(errors, str(answer.get("type", "")), None)
    message = str(answer.get("error", "the controller failed"))
    try:
        exc = kind(message) if isinstance(kind, type) and issubclass(kind, StixError) else StixError(message)
    except TypeError:
        exc = StixError(message)
    exc.exit_code = int(answer.get("code", 1))
    return exc


class ControllerHead:
    """An SSH connection to the controller cluster's head, running remote_side verbs."""

    def __init__(self, session: Session, launch: bool = False) -> None:
        from stix.managed import controller_cluster
        from stix.ssh.runner import NodeConnection

        info = controller_cluster.ensure(session, launch)
        self.session = session
        self.home = info.head.home
        self.conn = NodeConnection(info.head, info.ssh_private_key_path)

    def call(self, verb: str, document: Optional[dict[str, Any]] = None, out: Optional[LineSink] = None) -> Any:
        from stix.session import print_line

        answers: list[dict[str, Any]] = []
        show = out or print_line

        def on_line(line: str) -> None:
            if line.startswith(RESULT):
                answers.append(json.loads(line[len(RESULT):]))
            elif line.startswith(NOTE):
                note = json.loads(line[len(NOTE):])
                self.session.note(str(note.get("text", "")), str(note.get("level", "info")))
            else:
                show(line)

        body = {"env": settings(), "stix": package_dir(), **(document or {})}
        status = self.conn.run(command(verb), on_line, stdin=json.dumps(body).encode())
        if not answers:
            raise JobError(f"the controller cluster's `{verb}` ended with status {status} and no answer")
        answer = answers[-1]
        if "error" in answer:
            raise error_from(answer)
        return answer.get("value")

    def send(self, uploads: Sequence[Upload]) -> int:
        from stix.sync import sync_dir, sync_file

        return sum(sync_dir(self.conn, u.local, u.remote) if u.local.is_dir() else sync_file(self.conn, u.local, u.remote)
                   for u in uploads)

    def close(self) -> None:
        self.conn.close()


@contextmanager
def controller(session: Session, launch: bool = False) -> Iterator[ControllerHead]:
    """The controller cluster's head; with launch, the cluster is launched first when it is not up."""
    head = ControllerHead(session, launch)
    try:
        yield head
    finally:
        head.close()


# --- the verbs, as stix.managed.client's -----------------------------------------------------------


def launch(session: Session, request: ManagedLaunch) -> int:
    """client.launch, with the submit on the controller cluster (its files copied there first)."""
    from stix.managed import client
    from stix.render import managed_placement_line

    request = client.policed(session, request)  # the admin policy, as a local launch runs it
    planned = client.precheck(session.home, request)
    for p in planned:
        session.note(managed_placement_line(p.index, p.task.name, p.placement, len(planned)))
    tasks = f"{len(planned)} tasks" if len(planned) > 1 else "1 task"
    confirm(session, f"Launch managed job {request.name!r} ({tasks}) on the controller cluster?", request.yes)
    with controller(session, launch=True) as head:
        base = f"{head.home}/.stix/managed/uploads/{uuid.uuid4().hex[:16]}"
        configs, uploads = [], []
        for p in planned:
            config, more = rewrite(p.task.to_yaml_config(redact_secrets=False), p.index, base)
            configs.append(config)
            uploads += more
        if uploads:
            sent = head.send(uploads)
            session.note(f"Copied {sent} file(s) to the controller cluster")
        job_id = int(head.call("launch", payload(request, configs)))
    session.note(f"Managed job {job_id} submitted", "success")
    return job_id


def queue_rows(session: Session, all_jobs: bool = False, skip_finished: bool = False) -> list[dict]:
    with controller(session) as head:
        return list(head.call("queue", {"all": all_jobs, "skip_finished": skip_finished}))


def cancel(session: Session, job_ids: Sequence[int] = (), name: Optional[str] = None, all_jobs: bool = False,
           yes: bool = False, wait_s: Optional[float] = None) -> CancelResult:
    """client.cancel on the controller cluster; the question is asked here, about the jobs it would cancel."""
    selection = {"job_ids": list(job_ids), "name": name, "all": all_jobs}
    with controller(session) as head:
        if not yes:
            found = head.call("cancellable", selection)
            if found:
                listed = ", ".join(f"{job['id']} ({job['name']})" for job in found)
                confirm(session, f"Cancel managed job(s) {listed}?", yes)
        value = head.call("cancel", {**selection, "wait_s": wait_s})
    return CancelResult([int(i) for i in value["requested"]], list(value["skipped"]),
                        {int(k): str(v) for k, v in value["final"].items()})


def logs(session: Session, job_id: Optional[int], name: Optional[str], out: LineSink, follow: bool = True,
         controller_lines: bool = False) -> Optional[int]:
    """client.tail_logs (or controller_logs) on the controller cluster, streamed to out; None: no such job."""
    with controller(session) as head:
        value = head.call("logs", {"job_id": job_id, "name": name, "follow": follow, "controller": controller_lines},
                          out)
    return None if value is None else int(value)
