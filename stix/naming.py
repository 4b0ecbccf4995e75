"""Cluster names: what a user may pass with -c, and the default derived from a task."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from stix.errors import UsageError

NAME = re.compile(r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?")


def validate_cluster_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise UsageError(
            f"invalid cluster name {name!r}: use 1-40 lowercase letters, digits and '-', starting with a letter"
        )
    return name


def default_cluster_name(task_name: Optional[str], task_path: Path) -> str:
    raw = (task_name or task_path.stem).lower()
    cleaned = re.sub(r"[^a-z0-9-]+", "-", raw).strip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"c-{cleaned}".rstrip("-")
    return cleaned[:40].rstrip("-")


def local_user() -> str:
    """Who launches, as SkyPilot names them (SKYPILOT_USER): the local username, else the uid."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no USER/LOGNAME and no passwd entry for this uid
        import os

        return str(os.getuid())


def generated_cluster_name(user: Optional[str] = None) -> str:
    """A launch with no task file and no -c gets SkyPilot's kind of name, `sky-<hex>-<user>`, as `stix-<hex>-<user>`."""
    import secrets

    if user is None:
        user = local_user()
    cleaned = re.sub(r"[^a-z0-9-]+", "-", user.lower()).strip("-")
    return validate_cluster_name(f"stix-{secrets.token_hex(2)}-{cleaned}"[:40].rstrip("-"))
