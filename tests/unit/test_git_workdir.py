"""A git workdir: the preflight on this machine, and the node script (run here with bash: it is plain bash
and git, exactly what a node runs)."""

from __future__ import annotations

import base64
import os
import socket
import time
import subprocess
from pathlib import Path

import pytest

from stix import git_workdir as git
from stix.errors import UsageError
from stix.hooks import sync_workdir
from stix.models.task import GitWorkdir, Task
from tests.git_repos import commit, git_in as _git, two_branches_and_a_tag


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return two_branches_and_a_tag(tmp_path / "origin")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- preflight -------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", [None, "main", "dev", "v1", "refs/heads/dev", "0123abcd"])
def test_preflight_accepts_a_branch_a_tag_a_full_ref_and_a_commit(repo, ref):
    git.preflight(str(repo), ref, {})


def test_preflight_refuses_an_unknown_ref_naming_workdir_ref(repo):
    with pytest.raises(UsageError, match=r"^workdir.ref 'nope': no such branch or tag in .*origin$"):
        git.preflight(str(repo), "nope", {})


def test_preflight_refuses_an_unreachable_url_with_gits_reason_and_no_credentials():
    url = f"git://127.0.0.1:{closed_port()}/repo"
    with pytest.raises(UsageError) as caught:
        git.preflight(url, "main", {})
    message = str(caught.value)
    assert message.startswith(f"workdir.url '{url}' is not reachable: unable to connect to 127.0.0.1")
    assert "Connection refused" in message and "\n" not in message
    secret_url = f"https://someone:hunter2@127.0.0.1:{closed_port()}/repo.git"
    with pytest.raises(UsageError) as caught:
        git.preflight(secret_url, None, {"GIT_TOKEN": "tok-123"})
    assert "hunter2" not in str(caught.value) and "someone" not in str(caught.value)
    assert str(caught.value).startswith("workdir.url 'https://127.0.0.1:")


def test_preflight_refuses_a_path_that_is_no_repository(tmp_path):
    reason = r"'.*' does not appear to be a git repository$"
    with pytest.raises(UsageError, match=rf"^workdir.url '.*' is not reachable: {reason}"):
        git.preflight(str(tmp_path / "missing"), None, {})


def test_preflight_gives_up_on_a_silent_server_at_its_deadline():
    with socket.socket() as server:  # accepts connections (the kernel's backlog) and never answers
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        url = f"git://127.0.0.1:{server.getsockname()[1]}/repo"
        with pytest.raises(UsageError, match=r"^workdir.url .*: no answer within 0.5s$"):
            git.preflight(url, None, {}, timeout=0.5)


def test_at_the_deadline_gits_helpers_end_too():
    """Over http git runs git-remote-http as a child: it must not outlive the preflight that gave up."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/silent.git"
        with pytest.raises(UsageError, match="no answer within 1s"):
            git.preflight(url, None, {}, timeout=1)
    # SIGKILL to the group is sent before preflight returns, but a busy kernel tears a killed
    # process down a moment later: give it that moment, not a second chance to keep running.
    deadline = time.monotonic() + 5
    while (left := _processes_naming(url)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"git helpers outlived the preflight: {left}"


def _processes_naming(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text.encode() in (proc / "cmdline").read_bytes():
                found.append(proc.name)
        except OSError:
            continue
    return found


@pytest.mark.parametrize("url, ref, field", [
    ("--upload-pack=touch /tmp/x", None, "workdir.url"),
    ("", None, "workdir.url"),
    ("/r", "--orphan", "workdir.ref"),
    ("/r", "a b", "workdir.ref"),
    ("/r", "", "workdir.ref"),
])
def test_values_git_would_read_as_options_are_refused(url, ref, field):
    with pytest.raises(UsageError, match=f"^{field} "):
        git.preflight(url, ref, {})


def test_ext_transport_is_never_allowed(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(UsageError, match="is not reachable"):
        git.preflight(f"ext::sh -c touch% {marker}", None, {})
    assert not marker.exists()


def test_check_task_ignores_a_local_workdir_and_checks_a_git_one(repo, tmp_path):
    git.check_task(Task(workdir=str(tmp_path)))
    git.check_task(Task(workdir=GitWorkdir(url=str(repo), ref="dev")))
    with pytest.raises(UsageError, match="workdir.ref"):
        git.check_task(Task(workdir=GitWorkdir(url=str(repo), ref="gone")))


def test_the_token_comes_from_the_task_then_the_environment_and_only_for_https(monkeypatch):
    monkeypatch.delenv("GIT_TOKEN", raising=False)
    assert git.token_for("https://h/r.git", {"GIT_TOKEN": "a"}) == "a"
    assert git.token_for("https://h/r.git", {}) is None
    monkeypatch.setenv("GIT_TOKEN", "b")
    assert git.token_for("https://h/r.git", {}) == "b"
    assert git.token_for("git@h:r.git", {"GIT_TOKEN": "a"}) is None
    assert git.task_values(Task(envs={"GIT_TOKEN": "e"}, secrets={"GIT_TOKEN": "s"}))["GIT_TOKEN"] == "s"


def test_redact_url():
    assert git.redact_url("https://u:p@h:8443/r.git") == "https://h:8443/r.git"
    assert git.redact_url("git://h/r") == "git://h/r"
    assert git.redact_url("git@github.com:o/r.git") == "git@github.com:o/r.git"
    assert git.redact_url("https://ghp_token@github.com/o/r.git") == "https://github.com/o/r.git"
    assert git.redact_url("ssh://git@h:22/r") == "ssh://git@h:22/r"


def test_gits_reason_includes_what_ssh_said():
    stderr = ("root@127.0.0.2: Permission denied (publickey).\nfatal: Could not read from remote repository.\n\n"
              "Please make sure you have the correct access rights\nand the repository exists.\n")
    assert git.error_line(stderr) == ("Could not read from remote repository "
                                      "(root@127.0.0.2: Permission denied (publickey).)")


# --- the node script ---------------------------------------------------------------------------


def run_node(directory: Path, url: str, ref, token=None, path: str | None = None) -> tuple[int, list[str]]:
    script = git.node_script(str(directory), url, ref, token)
    env = {**os.environ, "PATH": path if path is not None else os.environ["PATH"]}
    done = subprocess.run(["bash", "-c", 'IFS= read -r -d "" s; eval "$s"'], input=script + "\0", env=env,
                          capture_output=True, text=True)
    return done.returncode, (done.stdout + done.stderr).splitlines()


def test_clone_at_a_branch_then_a_moved_branch_moves_the_workdir(repo, tmp_path):
    work = tmp_path / "node" / "sky_workdir"
    work.parent.mkdir()
    status, lines = run_node(work, str(repo), "dev")
    assert status == 0, lines
    first = git.parse_checkout(lines)
    assert first is not None and first.changed_files == 1
    assert (work / "version.txt").read_text() == "dev-1\n"
    assert _git(work, "rev-parse", "--abbrev-ref", "HEAD") == "dev"
    (work / "output.log").write_text("kept")  # what a job wrote stays, like the plain sync's
    _git(repo, "checkout", "-q", "dev")
    moved = commit(repo, "version.txt", "dev-2\n")
    commit(repo, "other.txt", "x")
    status, lines = run_node(work, str(repo), "dev")
    assert status == 0, lines
    second = git.parse_checkout(lines)
    assert second is not None and second.commit == _git(repo, "rev-parse", "HEAD") != first.commit
    assert second.changed_files == 2
    assert (work / "version.txt").read_text() == "dev-2\n" and (work / "output.log").read_text() == "kept"
    assert moved


def test_a_tag_a_commit_and_no_ref(repo, tmp_path):
    by_tag, by_commit, default = tmp_path / "tag", tmp_path / "commit", tmp_path / "default"
    assert run_node(by_tag, str(repo), "v1")[0] == 0
    assert (by_tag / "version.txt").read_text() == "main-1\n"
    dev = _git(repo, "rev-parse", "dev")
    assert run_node(by_commit, str(repo), dev[:10])[0] == 0
    assert _git(by_commit, "rev-parse", "HEAD") == dev
    assert run_node(default, str(repo), None)[0] == 0
    assert (default / "version.txt").read_text() == "main-1\n"
    assert run_node(by_tag, str(repo), "dev")[0] == 0  # the same clone moves from a tag to a branch
    assert (by_tag / "version.txt").read_text() == "dev-1\n"


def test_full_ref_names_follow_the_remote_not_a_stale_local_branch(repo, tmp_path):
    work = tmp_path / "w"
    assert run_node(work, str(repo), "refs/heads/main")[0] == 0  # the clone made a local main too
    assert (work / "version.txt").read_text() == "main-1\n"
    commit(repo, "version.txt", "main-2\n")
    assert run_node(work, str(repo), "refs/heads/main")[0] == 0
    assert (work / "version.txt").read_text() == "main-2\n"
    assert run_node(work, str(repo), "refs/tags/v1")[0] == 0
    assert (work / "version.txt").read_text() == "main-1\n"


def test_an_empty_directory_is_cloned_into(repo, tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    assert run_node(work, str(repo), "main")[0] == 0
    assert (work / "version.txt").exists()


def test_a_directory_that_is_no_clone_of_the_url_is_refused(repo, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "mine.txt").write_text("do not lose")
    status, lines = run_node(plain, str(repo), "main")
    assert status == git.EXIT_NOT_A_CLONE
    error = git.failure("c-head", status, lines, str(repo), "main")
    assert str(error) == f"workdir on c-head: {plain} exists and is not a clone of the workdir's URL ({repo} at main)"
    assert (plain / "mine.txt").read_text() == "do not lose"
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(repo), str(other)], check=True)
    status, _ = run_node(other, str(tmp_path / "elsewhere"), "main")
    assert status == git.EXIT_NOT_A_CLONE


def test_an_unknown_commit_fails_on_the_node_naming_it(repo, tmp_path):
    status, lines = run_node(tmp_path / "w", str(repo), "deadbeef")
    assert status == git.EXIT_NO_REF
    assert str(git.failure("n1", status, lines, str(repo), "deadbeef")).startswith(
        "workdir on n1: no branch, tag or commit deadbeef in the repository")


def test_a_node_without_git_says_so(repo, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bash", "ls"):
        (bindir / tool).symlink_to(subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True,
                                                  text=True, check=True).stdout.strip())
    status, lines = run_node(tmp_path / "w", str(repo), "main", path=str(bindir))
    assert status == git.EXIT_NO_GIT
    assert str(git.failure("n2", status, lines, str(repo), "main")).startswith("workdir on n2: git is not installed")


def test_a_failed_clone_reports_gits_reason_in_one_line(tmp_path):
    url = f"git://127.0.0.1:{closed_port()}/repo"
    status, lines = run_node(tmp_path / "w", url, "main")
    assert status == 1
    message = str(git.failure("n3", status, lines, url, "main"))
    assert message.startswith("workdir on n3: unable to connect to 127.0.0.1") and "\n" not in message


def test_the_token_travels_as_a_header_in_the_environment_and_is_never_stored(repo, tmp_path):
    env = git.git_env("tok-secret")
    header = env["GIT_CONFIG_VALUE_0"]
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert base64.b64decode(header.split()[-1]).decode() == "x-access-token:tok-secret"
    assert "GIT_CONFIG_COUNT" not in git.git_env(None)
    work = tmp_path / "w"
    script = git.node_script(str(work), str(repo), "main", "tok-secret")
    assert "tok-secret" not in git.NODE_SCRIPT and header in script  # in the script sent on stdin, not in argv
    assert run_node(work, str(repo), "main", token="tok-secret")[0] == 0
    stored = (work / ".git" / "config").read_text()
    assert "tok-secret" not in stored and header.split()[-1] not in stored


def test_hostile_values_stay_values(repo, tmp_path):
    marker = tmp_path / "pwned"
    work = tmp_path / f"w; touch {marker}"
    status, lines = run_node(work, str(repo), f"$(touch {marker})")
    assert status == git.EXIT_NO_REF, lines
    assert not marker.exists()


def test_parse_checkout_reads_the_last_report_line():
    assert git.parse_checkout(["noise", "stix-checkout abc 3"]) == git.Checkout("abc", 3)
    assert git.parse_checkout(["stix-checkout abc"]) is None


def test_a_local_workdir_is_still_a_directory(tmp_path):
    with pytest.raises(UsageError, match="is not a directory"):
        sync_workdir(None, str(tmp_path / "missing"))  # type: ignore[arg-type]


def test_git_sends_the_token_header_from_the_environment(tmp_path):
    """A real git against a loopback HTTP server that records what it is sent (and refuses everything)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's spelling)
            seen.append(self.headers.get("Authorization", ""))
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/repo.git"
        status, lines = run_node(tmp_path / "w", url, "main", token="tok-secret")
    finally:
        server.shutdown()
        server.server_close()
    assert status == 1
    assert seen and seen[0] == "Basic " + base64.b64encode(b"x-access-token:tok-secret").decode()
    assert not any("tok-secret" in line for line in lines)


@pytest.mark.parametrize("url, ssh", [
    ("git@github.com:o/r.git", True), ("ssh://git@h:2222/r", True), ("host:path/r", True),
    ("https://h/r.git", False), ("git://h/r", False), ("/srv/r", False), ("./a:b", False), ("file:///r", False),
])
def test_which_urls_are_ssh(url, ssh):
    assert git.is_ssh_url(url) is ssh


def test_the_ssh_key_comes_from_the_task_or_the_environment_and_must_exist(tmp_path, monkeypatch):
    key = tmp_path / "id key"
    key.write_text("k")
    monkeypatch.delenv("GIT_SSH_KEY_PATH", raising=False)
    assert git.ssh_key_for("git@h:r.git", {"GIT_SSH_KEY_PATH": str(key)}) == key
    assert git.ssh_key_for("https://h/r.git", {"GIT_SSH_KEY_PATH": str(key)}) is None
    assert git.ssh_key_for("git@h:r.git", {}) is None
    monkeypatch.setenv("GIT_SSH_KEY_PATH", str(key))
    assert git.ssh_key_for("git@h:r.git", {}) == key
    with pytest.raises(UsageError, match=r"^GIT_SSH_KEY_PATH '/nope': no such file"):
        git.preflight("git@h:r.git", None, {"GIT_SSH_KEY_PATH": "/nope"})


def test_the_ssh_command_quotes_the_key_path_and_keeps_the_users_own():
    import shlex

    command = git.ssh_command("/k dir/id", "/k dir/known", base="ssh -F /my/config")
    words = shlex.split(command)
    assert words[:3] == ["ssh", "-F", "/my/config"]
    assert words[words.index("-i") + 1] == "/k dir/id"
    assert "UserKnownHostsFile=/k dir/known" in words and "StrictHostKeyChecking=accept-new" in words
    assert "StrictHostKeyChecking=accept-new" not in git.ssh_command("/k")
