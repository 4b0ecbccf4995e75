"""stix's home directory from the environment: below both stix.home and stix.config (the config's models and
YAML cost `stix logs` and `queue` more than their round trip, so StixHome.from_env must not import them)."""

from __future__ import annotations

import os
from pathlib import Path


def home_root_from_env() -> Path:
    """STIX_HOME, else ~/.stix."""
    return Path(os.environ.get("STIX_HOME") or os.path.join(os.path.expanduser("~"), ".stix")).absolute()
