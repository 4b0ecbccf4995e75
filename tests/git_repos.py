"""Git repositories for tests: commits made with a fixed identity, whatever the machine's git config says."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_in(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@e", "-c", "user.name=t", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def commit(repo: Path, name: str, text: str, message: str = "change") -> str:
    """Write one file, commit it, return the new commit."""
    (repo / name).write_text(text)
    git_in(repo, "add", name)
    git_in(repo, "commit", "-qm", message)
    return git_in(repo, "rev-parse", "HEAD")


def two_branches_and_a_tag(path: Path) -> Path:
    """main (version.txt = main-1, tagged v1) and dev (version.txt = dev-1); main checked out."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    commit(path, "version.txt", "main-1\n")
    git_in(path, "tag", "v1")
    git_in(path, "checkout", "-qb", "dev")
    commit(path, "version.txt", "dev-1\n")
    git_in(path, "checkout", "-q", "main")
    return path
