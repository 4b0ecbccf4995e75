"""The store as rclone reaches it: the remote's options, and rclone runs on this machine against it."""

from __future__ import annotations

import subprocess
from typing import Sequence

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
        "no_check_bucket": "true",
    }


def rclone(endpoint: Endpoint, args: Sequence[str], timeout: float) -> subprocess.CompletedProcess:
    """rclone on this machine against the store (remote REMOTE); the keys travel in its environment."""
    from stix.storage import rclone as tool

    # AWS_CA_BUNDLE (set on some machines for the AWS CLI) makes rclone 1.60's s3 backend fail on plain http.
    return tool.run([*RCLONE_FLAGS, *args], {REMOTE: remote_options(endpoint)}, timeout, env={"AWS_CA_BUNDLE": ""})
