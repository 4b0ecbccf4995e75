"""What a flow reports while it works: typed events, rendered by the CLI or the SDK, never printed by the flow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Union


@dataclass(frozen=True)
class Note:
    text: str
    level: str = "info"
    """info, heading, success or warning."""


@dataclass(frozen=True)
class PlacementChosen:
    placement: Any
    """optimizer.Placement."""


@dataclass(frozen=True)
class PreviewReady:
    cluster: str
    changes: Any
    """engine.changes.ChangeSet."""


@dataclass(frozen=True)
class ResourceChanged:
    op: str
    name: str


@dataclass(frozen=True)
class ResourceFailed:
    name: str
    message: str


@dataclass(frozen=True)
class JobSubmitted:
    """The node agent queued the job: from here on it runs without the client (its setup too, with `setup`)."""

    cluster: str
    job_id: int
    setup: bool


Event = Union[Note, PlacementChosen, PreviewReady, ResourceChanged, ResourceFailed, JobSubmitted]
EventSink = Callable[[Event], None]


def discard(event: Event) -> None:
    """For callers that want results, not progress."""
