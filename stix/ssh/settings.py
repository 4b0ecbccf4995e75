"""SSH settings read from the environment, shared by the paramiko runner and reused (OpenSSH) connections.

Kept apart from stix.ssh.runner so that reading them does not import paramiko.
"""

from __future__ import annotations

import os

from stix.errors import UsageError

KEEPALIVE_ENV = "STIX_SSH_KEEPALIVE"
"""Seconds between keepalives on an idle connection (default 15)."""
KEEPALIVE_COUNT_ENV = "STIX_SSH_KEEPALIVE_COUNT"
"""Unanswered keepalive intervals before a node counts as dead (default 4: a dead peer is reported within 60s)."""


def keepalive_settings() -> tuple[float, int]:
    """(interval seconds, unanswered intervals before a node counts as dead), from the environment."""
    interval = positive_seconds(KEEPALIVE_ENV, "15")
    count = positive_seconds(KEEPALIVE_COUNT_ENV, "4")
    if count != int(count):
        raise UsageError(f"{KEEPALIVE_COUNT_ENV}={os.environ.get(KEEPALIVE_COUNT_ENV)!r}: not a whole number")
    return interval, int(count)


def positive_seconds(name: str, default: str, most: float = 86400) -> float:
    """A positive number of seconds (below `most`) from the environment variable `name`, else `default`."""
    raw = os.environ.get(name, "").strip() or default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < most:
        raise UsageError(f"{name}={raw!r}: not a positive number of seconds")
    return value
