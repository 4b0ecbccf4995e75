"""Environment overrides from the command line, and ${VAR} substitution where SkyPilot does it.

Precedence, lowest first, as SkyPilot's: the task's envs, then --env-file, then --env.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from stix.errors import UsageError
from stix.models.values import ENV_NAME

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def parse_assignments(items: Iterable[str], flag: str, environ: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """`K=V` pairs, or a bare `K` taken from the local environment."""
    environ = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not ENV_NAME.fullmatch(key):  # the value is never echoed: it may be a secret
            raise UsageError(f"{flag}: {key!r} is not a valid variable name")
        if not sep:
            if key not in environ:
                raise UsageError(f"{flag} {key}: not set in the local environment; use {flag} {key}=VALUE")
            value = environ[key]
        out[key] = value
    return out


def read_env_file(path: str) -> dict[str, str]:
    """A dotenv file: KEY=VALUE lines, '#' comments, optional 'export ' and quotes."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"--env-file {path}: {exc.strerror or exc}") from None
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep:  # the line is never echoed: it may be a secret pasted without its name
            raise UsageError(f"{path}:{number}: expected KEY=VALUE")
        if not ENV_NAME.fullmatch(key):
            raise UsageError(f"{path}:{number}: expected KEY=VALUE; {key!r} is not a valid variable name")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        out[key] = value
    return out


def substitute(value: Any, env: Mapping[str, str]) -> Any:
    """Replace $VAR and ${VAR} for variables that are set, in every string (keys included)."""
    if isinstance(value, str):
        return _REFERENCE.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), value)
    if isinstance(value, dict):
        return {substitute(k, env): substitute(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    return value


SUBSTITUTED_FIELDS = ("file_mounts", "workdir", "service")
"""Where SkyPilot fills in envs at parse time; setup and run see them as real variables instead."""
