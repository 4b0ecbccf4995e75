"""The type checker runs over stix/ and components/ (mypy, configured in pyproject [tool.mypy]).

mypy reads files, so it runs over the installed layout (components/ and catalogs/ as stix.components
and stix.catalogs, see tests/unit/installed_layout.py). The cloud SDKs are not followed (pyproject
explains why), which keeps a cold run to a few seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.unit import installed_layout


def test_mypy_finds_no_errors(tmp_path):
    root = installed_layout.build(tmp_path / "installed")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "stix", "--config-file", str(installed_layout.REPO / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "mypy-cache"), "--no-error-summary", "--show-error-codes"],
        cwd=root, env={**os.environ, "NO_COLOR": "1", "MYPY_FORCE_COLOR": "0", "COLUMNS": "200"},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )
    # Paths are reported as stix/components/<cloud>/...: that is components/<cloud>/... in the repository.
    assert result.returncode == 0, f"mypy found errors:\n{result.stdout}\n{result.stderr}"


def test_mypy_sees_the_components(tmp_path):
    """A layout that lost components/ would pass vacuously: a bad annotation there must be found."""
    root = installed_layout.build(tmp_path / "installed")
    probe = root / "stix" / "_probe.py"
    probe.write_text("from stix.components.base import node_output\n"
                     "x: int = node_output\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "stix/_probe.py", "--config-file", str(installed_layout.REPO / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "mypy-cache")],
        cwd=root, env={**os.environ, "NO_COLOR": "1", "MYPY_FORCE_COLOR": "0"},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1 and "stix/_probe.py:2: error" in result.stdout, result.stdout + result.stderr
    assert "import-not-found" not in result.stdout and "Cannot find" not in result.stdout, result.stdout
