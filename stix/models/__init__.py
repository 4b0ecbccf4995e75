"""The task schema as pydantic models: one definition, also the source of the JSON schema.

The names load on first use, so that importing stix.models.values (plain parsers) stays cheap.
"""

from __future__ import annotations

from typing import Any

_NAMES = {"Resources": "stix.models.resources", "Service": "stix.models.service", "Storage": "stix.models.storage",
          "Task": "stix.models.task", "JobGroup": "stix.models.job_group"}
__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    import importlib

    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'stix.models' has no attribute {name!r}")
