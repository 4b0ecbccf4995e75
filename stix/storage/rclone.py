"""rclone, the one tool stix reaches every store with: its remotes as data, on this machine and on nodes.

A remote is a name (BucketRef.remote) and its options (Buckets.rclone_remote). On this machine the options
travel as RCLONE_CONFIG_<NAME>_<OPTION> variables, so no secret is ever in argv or on disk; on a node they
are written once to an rclone config file of mode 0600.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Mapping, Optional, Sequence

from stix.errors import PrerequisiteMissing

Remotes = Mapping[str, Mapping[str, str]]
"""remote name -> its options (type=s3, provider=..., endpoint=..., ...)."""

DROPPED_ENV = frozenset({"AWS_CA_BUNDLE"})
"""rclone 1.60's S3 backend fails (LoadCustomCABundleError) whenever AWS_CA_BUNDLE is set; stix's remotes say
everything rclone needs, so the user's AWS settings stay out of it."""

SECRET_WORDS = ("secret", "key", "pass", "token", "sas", "credential")
"""Option names whose values scrub() hides."""

INSTALL_HINT = "rclone is needed for buckets: apt-get install -y rclone fuse3 (scripts/setup.sh installs both)"


def rclone_binary() -> str:
    found = shutil.which("rclone")
    if not found:
        raise PrerequisiteMissing(INSTALL_HINT)
    return found


def env_for(remotes: Remotes) -> dict[str, str]:
    """The variables that define remotes for one rclone process on this machine."""
    env: dict[str, str] = {}
    for name, options in remotes.items():
        for key, value in options.items():
            env[f"RCLONE_CONFIG_{name.upper()}_{key.upper()}"] = value
    return env


def config_text(remotes: Remotes) -> str:
    """The same remotes as an rclone config file (for nodes)."""
    sections = []
    for name, options in sorted(remotes.items()):
        lines = [f"[{name}]"] + [f"{key} = {value}" for key, value in options.items()]
        sections.append("\n".join(lines) + "\n")
    return "\n".join(sections)


def run(args: Sequence[str], remotes: Remotes, timeout: float, env: Optional[Mapping[str, str]] = None
        ) -> subprocess.CompletedProcess:
    """rclone on this machine with remotes defined from the environment and no config file of the user's."""
    import os

    inherited = {key: value for key, value in os.environ.items() if key not in DROPPED_ENV}
    full_env = {**inherited, **(env or {}), **env_for(remotes), "RCLONE_CONFIG": "/dev/null"}
    return subprocess.run([rclone_binary(), *args], env=full_env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def scrub(text: str, remotes: Remotes) -> str:
    """text with every secret-looking option value of the remotes replaced by ***."""
    for options in remotes.values():
        for key, value in options.items():
            if value and len(value) >= 4 and any(word in key.lower() for word in SECRET_WORDS):
                text = text.replace(value, "***")
    return text


def last_line(text: "str | Sequence[str]") -> str:
    """The last line that says something (of rclone's or a node's output), for a one-line error."""
    lines = text.splitlines() if isinstance(text, str) else text
    meaningful = [line.strip() for line in lines if line.strip()]
    return meaningful[-1] if meaningful else ""
