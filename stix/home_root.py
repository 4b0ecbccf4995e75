"""Where stix's home is, from the environment alone: stix.home and stix.config both need it, and finding it
must not import pydantic (stix.config does), so it lives here."""

from __future__ import annotations

import os
from pathlib import Path


def home_root_from_env() -> Path:
    """stix's home: STIX_HOME, else ~/.stix."""
    return Path(os.environ.get("STIX_HOME") or os.path.join(os.path.expanduser("~"), ".stix")).absolute()
