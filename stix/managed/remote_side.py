"""The controller cluster's end of `stix jobs ...`: `python -m stix.managed.remote_side VERB`, run over SSH by
stix.managed.remote with a JSON document on stdin. Each verb calls what the local path calls
(stix.managed.client) against this node's home, and answers on stdout (see remote.py for the framing).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

from stix.errors import StixError, UsageError
from stix.events import Event, Note
from stix.home import StixHome
from stix.managed import client
from stix.managed.remote import NOTE, RESULT, package_dir
from stix.managed.store import JobStore
from stix.session import Session, print_line


def _emit(prefix: str, value: Any) -> None:
    sys.stdout.write(prefix + json.dumps(value) + "\n")
    sys.stdout.flush()


def _notes(event: Event) -> None:
    if isinstance(event, Note):
        _emit(NOTE, {"text": event.text, "level": event.level})


def launch(home: StixHome, document: dict[str, Any]) -> int:
    from stix.models.task import Task

    tasks = tuple(Task.model_validate(config) for config in document["tasks"])
    request = client.ManagedLaunch(tasks, str(document["name"]), str(document.get("label") or "<remote>"),
                                   tuple(document.get("lines") or ()), yes=True,
                                   retry_until_up=bool(document.get("retry_until_up")))
    return client.submit(home, request, client.precheck(home, request))


def queue(home: StixHome, document: dict[str, Any]) -> list[dict]:
    return client.queue_rows(JobStore(home), all_jobs=bool(document.get("all")),
                             skip_finished=bool(document.get("skip_finished")))


def _selection(document: dict[str, Any]) -> dict[str, Any]:
    return {"job_ids": [int(i) for i in document.get("job_ids") or ()], "name": document.get("name"),
            "all_jobs": bool(document.get("all"))}


def cancellable(home: StixHome, document: dict[str, Any]) -> list[dict]:
    jobs, _ = client.cancellable(JobStore(home), **_selection(document))
    return [{"id": job.id, "name": job.name} for job in jobs]


def cancel(home: StixHome, document: dict[str, Any]) -> dict[str, Any]:
    wait_s = document.get("wait_s")
    result = client.cancel(Session(home, _notes), **_selection(document), yes=True,
                           wait_s=None if wait_s is None else float(wait_s))
    return {"requested": result.requested, "skipped": result.skipped, "final": result.final}


def logs(home: StixHome, document: dict[str, Any]) -> Any:
    job_id = document.get("job_id")
    return client.read_logs(JobStore(home), None if job_id is None else int(job_id), document.get("name"), print_line,
                            follow=bool(document.get("follow", True)), controller=bool(document.get("controller")))


VERBS: dict[str, Callable[[StixHome, dict[str, Any]], Any]] = {
    "launch": launch, "queue": queue, "cancellable": cancellable, "cancel": cancel, "logs": logs}


def serve(verb: str, document: dict[str, Any]) -> int:
    """Run one verb; its value, or its error, is the last thing written."""
    try:
        if verb not in VERBS:
            raise UsageError(f"unknown verb {verb!r}: expected one of {', '.join(VERBS)}")
        if document.get("stix") != package_dir():
            raise UsageError(f"the controller node runs stix from {package_dir()}, not {document.get('stix')}: "
                             "it must run the same stix package")
        os.environ.update({str(k): str(v) for k, v in (document.get("env") or {}).items()})
        value = VERBS[verb](StixHome.from_env(), document)
    except StixError as exc:
        _emit(RESULT, {"error": exc.message, "type": type(exc).__name__, "code": exc.exit_code})
        return exc.exit_code
    _emit(RESULT, {"value": value})
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m stix.managed.remote_side VERB  (a JSON document on stdin)", file=sys.stderr)
        return 2
    try:
        document = json.loads(sys.stdin.read() or "{}")
    except ValueError:
        document = None
    if not isinstance(document, dict):
        _emit(RESULT, {"error": "stdin is not a JSON object", "type": "UsageError", "code": 2})
        return 2
    return serve(argv[0], document)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
