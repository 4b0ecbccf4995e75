"""Where stix keeps things: its home (state, keys, index) and its engine cache.

The home (STIX_HOME, default ~/.stix) holds state and secrets and is per user
or per test. The cache (STIX_CACHE, default ~/.cache/stix) holds the Pulumi CLI
build, which every home shares so a temporary test home never rebuilds it.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from stix.home_root import home_root_from_env


@dataclass(frozen=True)
class StixHome:
    root: Path

    @classmethod
    def from_env(cls) -> "StixHome":
        """STIX_HOME, else ~/.stix."""
        return cls(home_root_from_env())

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def backend_url(self) -> str:
        """STIX_BACKEND, else the user config file's `backend:`, else a directory in this home."""
        from stix.config import user_backend

        return os.environ.get("STIX_BACKEND") or user_backend(self.root) or f"file://{self.state_dir}"

    @property
    def pulumi_home(self) -> Path:
        return self.root / "pulumi"

    @property
    def passphrase_file(self) -> Path:
        return self.root / "passphrase"

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def index_db(self) -> Path:
        return self.root / "index.db"

    @property
    def workspaces_dir(self) -> Path:
        return self.root / "workspaces"

    def cluster_dir(self, cluster: str) -> Path:
        return self.root / "clusters" / cluster

    def key_path(self, cluster: str) -> Path:
        return self.root / "keys" / cluster / "id_ed25519"

    def policy_dir(self, cluster: str) -> Path:
        """The config files of the policy packs that check the cluster's plans (stix.policy.packs.policy_run)."""
        return self.root / "policy" / cluster

    def ensure(self) -> None:
        for path in (self.root, self.state_dir, self.pulumi_home, self.bin_dir, self.workspaces_dir):
            path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def passphrase(self) -> str:
        """The secrets-provider passphrase, generated once with mode 0600."""
        path = self.passphrase_file
        if not path.exists():
            self.ensure()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
        return path.read_text().strip()


def cache_dir() -> Path:
    raw = os.environ.get("STIX_CACHE")
    if raw:
        return Path(raw).absolute()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "stix"
