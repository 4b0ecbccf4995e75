"""The suite is hermetic: the caller's cloud credentials, cluster and HOME never reach a test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stix.credentials import enabled_clouds
from tests.conftest import REPO

CALLER = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBECONFIG": "/nonexistent", "AWS_ACCESS_KEY_ID": "x",
          "AWS_SECRET_ACCESS_KEY": "y", "AZURE_CLIENT_ID": "x", "AZURE_TENANT_ID": "y", "AZURE_CLIENT_SECRET": "z",
          "GOOGLE_APPLICATION_CREDENTIALS": __file__, "ARM_CLIENT_ID": "x", "CLOUDSDK_CONFIG": "/nonexistent"}


def test_sees_no_cloud_environment(tmp_path_factory):
    assert not [name for name in CALLER if name in os.environ]
    assert enabled_clouds() == ["local"]
    assert Path.home().is_relative_to(tmp_path_factory.getbasetemp()), "HOME is a fresh directory"


def test_a_kubernetes_pod_with_cloud_keys_runs_the_suite_unchanged():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{__file__}::test_sees_no_cloud_environment"],
        cwd=REPO, env={**os.environ, **CALLER}, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]


def test_cli_runs_without_the_callers_cloud_environment(stix, monkeypatch):
    for name, value in CALLER.items():
        monkeypatch.setenv(name, value)
    result = stix("check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "enabled clouds: local"
