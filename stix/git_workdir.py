"""A workdir that is a git repository (`workdir: {url, ref}`): checked here before anything is created,
then cloned into ~/sky_workdir on every node and moved to the ref again on every later `up` / `exec`.

No user value reaches a shell unquoted or an argv here; the access token (GIT_TOKEN, SkyPilot's
convention for https URLs) travels only in the environment, as an http.extraHeader through
GIT_CONFIG_COUNT/KEY/VALUE, and is never written into the clone's config.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Optional
from urllib.parse import urlsplit, urlunsplit

from stix.errors import UsageError

if TYPE_CHECKING:
    from stix.models.task import Task

TOKEN_NAME = "GIT_TOKEN"
KEY_NAME = "GIT_SSH_KEY_PATH"
REMOTE_KEY_DIR = ".stix-git"
"""Under a node's home: the GIT_SSH_KEY_PATH key (0600) and the git host's key, accepted on first use."""
LS_REMOTE_TIMEOUT_S = 30.0
SSH_BATCH = "ssh -o BatchMode=yes"
"""GIT_SSH_COMMAND where none is set: an ssh URL fails instead of asking for a password or a host key."""
ALLOWED_PROTOCOLS = "file:git:http:https:ssh"
"""GIT_ALLOW_PROTOCOL: never ext:: (it runs a command) nor any other remote helper."""
COMMIT_LIKE = re.compile(r"[0-9a-fA-F]{4,40}")
EXIT_NO_GIT = 97
EXIT_NOT_A_CLONE = 98
EXIT_NO_REF = 99


@dataclass(frozen=True)
class Checkout:
    """What one node has in its workdir after the clone or fetch."""

    commit: str
    changed_files: int
    """Files the checkout wrote: every tracked file on a fresh clone, else those that differ from before."""


def redact_url(url: str) -> str:
    """The URL without its credentials (user:password@, or any user@ of an http(s) URL), for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.username is None or (parts.password is None and parts.scheme not in ("http", "https")):
        return url  # an ssh user name (git@) is no secret; https://TOKEN@host/ is one
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def token_for(url: str, values: Mapping[str, str]) -> Optional[str]:
    """GIT_TOKEN for an https URL: from the task's secrets/envs (values), else this machine's environment."""
    if not url.lower().startswith("https://"):
        return None
    return values.get(TOKEN_NAME) or os.environ.get(TOKEN_NAME) or None


def is_ssh_url(url: str) -> bool:
    """ssh://..., or git's scp-like user@host:path (a colon before any slash, no scheme)."""
    lowered = url.lower()
    if lowered.startswith(("ssh://", "git+ssh://", "ssh+git://")):
        return True
    colon, slash = url.find(":"), url.find("/")
    return "://" not in url and colon > 0 and (slash < 0 or colon < slash)


def ssh_key_for(url: str, values: Mapping[str, str]) -> Optional[Path]:
    """GIT_SSH_KEY_PATH for an ssh URL (the task's envs/secrets, else this machine's environment)."""
    if not is_ssh_url(url):
        return None
    raw = values.get(KEY_NAME) or os.environ.get(KEY_NAME)
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_file():
        raise UsageError(f"{KEY_NAME} {raw!r}: no such file (the ssh key for workdir.url)")
    return path


def ssh_command(key: str, known_hosts: Optional[str] = None, base: str = SSH_BATCH) -> str:
    """GIT_SSH_COMMAND with the key: `base` (a user's own GIT_SSH_COMMAND on this machine) plus -i; on a node,
    a known_hosts file of its own where the git host's key is accepted on first use."""
    extra = ["-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
    if known_hosts:
        extra += ["-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=accept-new"]
    return f"{base} {shlex.join(extra)}"


def git_env(token: Optional[str] = None) -> dict[str, str]:
    """Variables for every git call: never prompt, only plain transports, the token as a header (if any)."""
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
        "SSH_ASKPASS_REQUIRE": "never",
    }
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                    "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"})
    return env


def check_values(url: str, ref: Optional[str]) -> None:
    """What git itself would read as an option, or what no ref can be."""
    if not url.strip() or url.startswith("-") or any(c in url for c in "\0\n\r"):
        raise UsageError(f"workdir.url {redact_url(url)!r}: not a repository URL")
    if ref is not None and (not ref or ref.startswith("-") or any(c.isspace() or c in "\0~^:?*[\\" for c in ref)):
        raise UsageError(f"workdir.ref {ref!r}: not a branch, tag or commit name")


def ls_remote_command(url: str) -> list[str]:
    return ["git", "ls-remote", "--", url]


def error_line(stderr: str, secrets: tuple[str, ...] = ()) -> str:
    """git's own reason, in one line: the first fatal/error line, with its continuation if it ends in ':', or
    else with the line before it (where ssh says why)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.startswith(("fatal:", "error:"))), None)
    if start is None:
        reason = lines[-1] if lines else "no reason given"
    else:
        reason = lines[start].split(":", 1)[1].strip()
        if reason.endswith(":") and start + 1 < len(lines):
            reason = f"{reason} {lines[start + 1]}"
        elif start > 0:  # what the transport said first (ssh: "Permission denied (publickey).")
            reason = f"{reason.rstrip('.')} ({lines[start - 1]})"
    for secret in secrets:
        if secret:
            reason = reason.replace(secret, "<redacted>")
    return reason


def refs_of(listing: str) -> dict[str, str]:
    """`git ls-remote` output as {ref name: commit}."""
    out = {}
    for line in listing.splitlines():
        commit, _, name = line.partition("\t")
        if name:
            out[name.strip()] = commit.strip()
    return out


def ref_found(refs: Mapping[str, str], ref: Optional[str]) -> bool:
    """Whether the remote has the ref (a branch, tag or full ref name), or it may be a commit ls-remote
    cannot see (accepted: the node's checkout names it if it is not one)."""
    if ref is None:
        return "HEAD" in refs
    names = (f"refs/heads/{ref}", f"refs/tags/{ref}", ref if ref.startswith("refs/") else None)
    return any(name in refs for name in names if name) or COMMIT_LIKE.fullmatch(ref) is not None


def preflight(url: str, ref: Optional[str], values: Mapping[str, str],
              timeout: float = LS_REMOTE_TIMEOUT_S) -> None:
    """On this machine, before anything is created: the URL answers and the ref exists there."""
    check_values(url, ref)
    token = token_for(url, values)
    shown = redact_url(url)
    secrets = tuple(s for s in (token, _userinfo(url)) if s)
    env = {"GIT_SSH_COMMAND": SSH_BATCH, **os.environ, **git_env(token)}
    key = ssh_key_for(url, values)
    if key is not None:
        env["GIT_SSH_COMMAND"] = ssh_command(str(key), base=env["GIT_SSH_COMMAND"])
    status, stdout, stderr = _run_bounded(ls_remote_command(url), env, timeout, shown)
    if status != 0:
        raise UsageError(f"workdir.url {shown!r} is not reachable: {error_line(stderr, secrets)}")
    refs = refs_of(stdout)
    if not ref_found(refs, ref):
        if ref is None:
            raise UsageError(f"workdir.url {shown!r}: the repository has no HEAD (is it empty?); set workdir.ref")
        raise UsageError(f"workdir.ref {ref!r}: no such branch or tag in {shown}")


def _run_bounded(argv: list[str], env: dict[str, str], timeout: float, shown: str) -> tuple[int, str, str]:
    """Run git in a session of its own, so that at the deadline its helpers (ssh, git-remote-https) go too."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env, start_new_session=True)
    except FileNotFoundError:
        raise UsageError("workdir.url: git is not installed on this machine (needed to check the repository)") from None
    with proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise UsageError(f"workdir.url {shown!r}: no answer within {timeout:g}s") from None
        finally:
            if proc.returncode is None:  # timed out or interrupted: git's own session never saw the Ctrl-C
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return proc.returncode, stdout, stderr


def _userinfo(url: str) -> Optional[str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.password or None


NODE_SCRIPT = r"""
set -u
export GIT_SSH_COMMAND="${GIT_SSH_COMMAND:-__SSH_BATCH__}"
command -v git >/dev/null 2>&1 || { echo "git is not installed"; exit __NO_GIT__; }
dir=__DIR__; url=__URL__; ref=__REF__
export GIT_DIR="$dir/.git" GIT_WORK_TREE="$dir"
before=""
if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
  origin=$(git config --get remote.origin.url 2>/dev/null) || origin=""
  if [ ! -d "$dir/.git" ] || [ "$origin" != "$url" ]; then
    echo "$dir exists and is not a clone of the workdir's URL"; exit __NOT_A_CLONE__
  fi
  before=$(git rev-parse -q --verify HEAD 2>/dev/null) || before=""
  git fetch -q --force --tags --prune origin '+refs/heads/*:refs/remotes/origin/*' || exit 1
else
  unset GIT_DIR GIT_WORK_TREE
  git clone -q --no-checkout -- "$url" "$dir" || exit 1
  export GIT_DIR="$dir/.git" GIT_WORK_TREE="$dir"
fi
cd "$dir" || exit 1
case "$ref" in refs/heads/*) ref=${ref#refs/heads/} ;; refs/tags/*) ref=${ref#refs/tags/} ;; esac
if [ -z "$ref" ]; then
  git fetch -q origin HEAD && git checkout -q --force --detach FETCH_HEAD -- || exit 1
elif git rev-parse -q --verify "refs/remotes/origin/$ref^{commit}" >/dev/null; then
  git checkout -q --force -B "$ref" "refs/remotes/origin/$ref" -- || exit 1
elif commit=$(git rev-parse -q --verify "refs/tags/$ref^{commit}"); then
  git checkout -q --force --detach "$commit" -- || exit 1
elif [[ $ref =~ ^[0-9a-fA-F]{4,40}$ ]] && commit=$(git rev-parse -q --verify "$ref^{commit}"); then
  git checkout -q --force --detach "$commit" -- || exit 1
elif git fetch -q origin "$ref" 2>/dev/null; then
  git checkout -q --force --detach FETCH_HEAD -- || exit 1
else
  echo "no branch, tag or commit $ref in the repository"; exit __NO_REF__
fi
after=$(git rev-parse HEAD) || exit 1
if [ -n "$before" ]; then
  changed=$(git diff --name-only "$before" "$after" -- | wc -l)
else
  changed=$(git ls-files | wc -l)
fi
echo "stix-checkout $after $changed"
"""


def node_script(directory: str, url: str, ref: Optional[str], token: Optional[str] = None,
                git_ssh_command: Optional[str] = None) -> str:
    """The bash script that clones or moves one node's workdir (sent on stdin: the token is in no argv)."""
    env = {**git_env(token), **({"GIT_SSH_COMMAND": git_ssh_command} if git_ssh_command else {})}
    exports = "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items())
    fills = {"__DIR__": shlex.quote(directory), "__URL__": shlex.quote(url), "__REF__": shlex.quote(ref or ""),
             "__SSH_BATCH__": SSH_BATCH, "__NO_GIT__": str(EXIT_NO_GIT), "__NOT_A_CLONE__": str(EXIT_NOT_A_CLONE),
             "__NO_REF__": str(EXIT_NO_REF)}
    return exports + re.sub(r"__[A-Z_]+__", lambda found: fills[found.group()], NODE_SCRIPT)


def parse_checkout(lines: list[str]) -> Optional[Checkout]:
    for line in reversed(lines):
        parts = line.split()
        if len(parts) == 3 and parts[0] == "stix-checkout" and parts[2].isdigit():
            return Checkout(parts[1], int(parts[2]))
    return None


def failure(node_name: str, status: int, lines: list[str], url: str, ref: Optional[str],
            token: Optional[str] = None) -> UsageError:
    """One line naming the node, for a checkout that failed there."""
    secrets = tuple(s for s in (token, _userinfo(url)) if s)
    if status in (EXIT_NO_GIT, EXIT_NOT_A_CLONE, EXIT_NO_REF) and lines:
        reason = lines[-1].strip()
        for secret in secrets:
            reason = reason.replace(secret, "<redacted>")
    else:
        reason = error_line("\n".join(lines), secrets)
    where = f"{redact_url(url)}" + (f" at {ref}" if ref else "")
    return UsageError(f"workdir on {node_name}: {reason} ({where})")


def check_task(task: "Task") -> None:
    """preflight() for a task whose workdir is a git repository; nothing for any other task."""
    from stix.models.task import GitWorkdir

    if isinstance(task.workdir, GitWorkdir):
        preflight(task.workdir.url, task.workdir.ref, task_values(task))


def task_values(task: "Task") -> dict[str, str]:
    """Where GIT_TOKEN may be set in the task: its envs, then its secrets (which win)."""
    return {**task.env_values(), **task.secret_values()}
