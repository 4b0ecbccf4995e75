"""SSH to cluster nodes: one paramiko runner with pinned host keys."""

from __future__ import annotations

import importlib
import sys
import types


class _DeferredInvoke(types.ModuleType):
    """paramiko.config imports invoke (which imports yaml and unittest.mock: a third of paramiko's import) for one
    thing, `Match exec` in an ssh_config file it parses; stix never has paramiko parse one. This stands in for
    invoke until something reads from it, and then imports the real one."""

    def __getattr__(self, name: str):
        if sys.modules.get("invoke") is self:
            del sys.modules["invoke"]
        return getattr(importlib.import_module("invoke"), name)


if "paramiko" not in sys.modules and "invoke" not in sys.modules:
    sys.modules["invoke"] = _DeferredInvoke("invoke")
