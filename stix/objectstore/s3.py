"""The store as rclone reaches it: the remote's options, and rclone runs on this machine against it."""

from __future__ import annotations

import re
import subprocess
from typing import Optional, Sequence

from stix.objectstore import Endpoint

REMOTE = "stixlocal"
"""BucketRef('local', ...).remote: the same name on this machine and on nodes."""
RCLONE_FLAGS = ("--retries", "1", "--low-level-retries", "2", "--contimeout", "5s", "--timeout", "30s")
"""Fail fast: a store that does not answer is reported, not retried for minutes."""


def remote_options(endpoint: Endpoint) -> dict[str, str]:
    return {
        "type": "s3",
        "provider": "SeaweedFS",
        "endpoint": endpoint.url,
        "access_key_id": endpoint.access_key,
        "secret_access_key": endpoint.secret_key,
        "region": endpoint.region,
        "env_auth": "false",
        "force_path_style": "true",
    }


def rclone(endpoint: Endpoint, args: Sequence[str], timeout: float) -> subprocess.CompletedProcess:
    """rclone on this machine against the store (remote REMOTE); the keys travel in its environment."""
    from stix.storage import rclone as tool

    return tool.run([*RCLONE_FLAGS, *args], {REMOTE: remote_options(endpoint)}, timeout)


def bucket_name_problem(name: str) -> Optional[str]:
    """S3's bucket naming rules (which SeaweedFS enforces too), as one short reason, or None."""
    if not 3 <= len(name) <= 63:
        return f"{len(name)} characters; a bucket name has 3 to 63"
    if not re.fullmatch(r"[a-z0-9.-]+", name):
        return "only lowercase letters, digits, '.' and '-' are allowed"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "must start and end with a letter or digit"
    if ".." in name:
        return "must not contain '..'"
    if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", name):
        return "must not look like an IP address"
    if name.startswith("xn--"):
        return "must not start with 'xn--'"
    if name.endswith("-s3alias"):
        return "must not end with '-s3alias'"
    return None
