"""paramiko's import of invoke is deferred (stix.ssh): nothing of invoke loads until something reads from it."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import stix.ssh.runner, paramiko.config
assert "paramiko" in sys.modules
print(sorted(name for name in sys.modules if name.startswith("invoke.")) == [], "unittest.mock" in sys.modules)
print(paramiko.config.invoke.run.__module__)
"""


def test_invoke_loads_only_when_used():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    first, second = out.stdout.splitlines()
    assert first == "True False", out.stdout  # stix's SSH runner, paramiko and all, without invoke or unittest.mock
    assert second.startswith("invoke"), out.stdout  # and paramiko's Match exec still gets the real invoke.run
