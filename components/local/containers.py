"""The container a node runs setup and run in (`image_id: docker:IMAGE`, stix.containers) lives and ends with the
local node: stopped with it, removed with it. A cloud's VM takes its containers with it; a local node shares this
machine's docker or podman, so its container would otherwise outlive it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from stix.agent.node_agent import CONTAINER_FILE, REMOTE_DIR

TIMEOUT_S = 60.0


def end_container(home: Path, remove: bool) -> None:
    """Stop (or remove) the container the node's home records, if any; a runtime that is gone is no error."""
    try:
        runtime, name = (home / REMOTE_DIR / CONTAINER_FILE).read_text().split()[:2]
    except (OSError, ValueError):
        return
    command = [runtime, "rm", "-f", name] if remove else [runtime, "stop", name]
    if runtime == "podman":
        command[3:3] = ["-t", "0"]  # sleep as PID 1 ignores SIGTERM: do not wait out podman's 10 s
    try:
        subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        pass
