"""A command's session: stix's home, where progress events and node output go, and how to ask for a yes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from stix import index as idx
from stix.errors import Aborted, ConfirmationRequired
from stix.events import EventSink, Note, discard
from stix.home import StixHome

Confirm = Callable[[str], bool]
LineSink = Callable[[str], None]


def print_line(line: str) -> None:
    """Node output to this process's stdout, a whole line at a time."""
    import sys

    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@dataclass
class Session:
    home: StixHome
    events: EventSink = discard
    confirm: Optional[Confirm] = None
    """None when there is no terminal to ask."""
    output: LineSink = print_line
    """Where the nodes' output goes (setup, job logs), one prefixed line at a time."""

    @property
    def index(self) -> idx.ClusterIndex:
        return idx.ClusterIndex(self.home.index_db)

    def note(self, text: str, level: str = "info") -> None:
        self.events(Note(text, level))


def confirm(session: Session, question: str, yes: bool) -> None:
    if yes:
        return
    if session.confirm is None:
        raise ConfirmationRequired("refusing to change infrastructure without confirmation: no terminal to ask; pass -y")
    if not session.confirm(question):
        raise Aborted("cancelled; nothing was changed")
