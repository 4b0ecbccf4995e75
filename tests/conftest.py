from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from stix.home import cache_dir

REPO = Path(__file__).resolve().parent.parent

# What makes a cloud look enabled, or reachable, from the environment of whoever runs the tests (a CI pod
# has KUBERNETES_SERVICE_HOST; a developer has AWS keys): every test runs without it, and with a fresh HOME
# so ~/.kube, ~/.aws and gcloud's config are not read either.
CLOUD_ENV_PREFIXES = ("AWS_", "GOOGLE_", "GCLOUD_", "CLOUDSDK_", "AZURE_", "ARM_", "KUBERNETES_")
CLOUD_ENV_NAMES = frozenset({"KUBECONFIG"})
# Where the engine is cached, fixed before any test moves HOME, so that nothing is rebuilt under a new HOME.
ENGINE_CACHE = str(cache_dir().absolute())


def is_cloud_env(name: str) -> bool:
    return name.startswith(CLOUD_ENV_PREFIXES) or name in CLOUD_ENV_NAMES


CONFIG_ENV = ("STIX_CONFIG", "STIX_PROJECT_CONFIG", "STIX_ORG_CONFIG", "STIX_BACKEND", "STIX_CATALOG_DIR")
"""Where stix's config and state come from: a developer's own settings never reach a test."""


@pytest.fixture
def config_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(stix home, working directory): a fresh home for the user's config file, and a current directory outside
    any project for a project file."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("STIX_HOME", str(home))
    monkeypatch.chdir(work)
    return home, work


@pytest.fixture(autouse=True)
def hermetic_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if is_cloud_env(name) or name in CONFIG_ENV]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.setenv("STIX_CACHE", ENGINE_CACHE)


@dataclass
class StixRun:
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "STIX_")) and not is_cloud_env(k)}
        user_home = self.home.parent / "user-home"
        user_home.mkdir(exist_ok=True)
        # The engine cache is pinned, so a test that moves HOME never triggers a fresh engine build.
        env.update({"STIX_HOME": str(self.home), "NO_COLOR": "1", "COLUMNS": "200", "HOME": str(user_home),
                    "STIX_CACHE": ENGINE_CACHE,
                    "STIX_SSH_CONFIG": str(self.home.parent / "user-ssh" / "config")})
        env.update(extra)
        return env

    @property
    def workdir(self) -> Path:
        """Where commands run unless told: beside the home, outside any stix project (the repository is one)."""
        return self.home.parent

    def __call__(self, *args: str, timeout: float = 300, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "stix", *args],
            cwd=cwd or self.workdir, env=self.env(**env), stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout,
        )

    def popen(self, *args: str, cwd: Path | None = None, **env: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "stix", *args], cwd=cwd or self.workdir, env=self.env(**env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )


@pytest.fixture
def stix_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private stix home; the test fails if any node process or node directory outlives it."""
    from stix.components.local import sshd

    home = tmp_path / "stix-home"
    monkeypatch.setenv("STIX_HOME", str(home))
    monkeypatch.setenv("STIX_SSH_CONFIG", str(tmp_path / "user-ssh" / "config"))  # never the real ~/.ssh/config
    yield home
    stray_stores = stop_object_store(home)
    leftovers = sshd.processes_under(home)
    node_dirs = sorted(str(p) for p in home.glob("clusters/*/nodes/*"))
    sshd.kill_all(leftovers)
    assert not stray_stores, f"object store processes outlived the test unrecorded: {stray_stores}"
    assert not leftovers, f"node processes outlived the test: {sorted(leftovers)}"
    assert not node_dirs, f"node directories outlived the test: {node_dirs}"


def stop_object_store(home: Path) -> list[int]:
    """Stop the object store a test started under its home (a store runs until stopped, by design); return
    the pids of store processes of that home that state did not record (and end them too)."""
    from stix import processes
    from stix.home import StixHome
    from stix.objectstore import server

    server.stop(StixHome(home))
    marker = f"-dir={server.StorePaths(home / 'objectstore').data}".encode()
    stray = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().split(b"\0") and processes.alive(int(entry.name)):
                    stray.append(int(entry.name))
            except OSError:
                pass
    processes.terminate(set(stray), 5.0)
    return stray


@pytest.fixture
def stix(stix_home: Path) -> StixRun:
    return StixRun(stix_home)


@pytest.fixture(scope="session")
def engine():
    """The real Pulumi engine (built from Go modules once if missing): end-to-end tests never skip."""
    from stix.engine.locate import find_engine

    return find_engine(provide=True)
