"""The workflows `stix init --ci github` writes, their shell steps run in order in a scratch repository outside this
one, with stix installed as a package from a wheel of this checkout and the engine on PATH as the Pulumi step
leaves it. GitHub's own `uses:` steps (checkout, setup-python, caches, the PR comment) are not run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from typing import Callable
from pathlib import Path

import pytest
import yaml


pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"
UV_ENV = {**os.environ, "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")}
"""uv's cache as found at collection, before a test moves HOME: the dependencies come from it, offline."""

TASK = """\
name: ci-hello
resources:
  infra: local
run: echo hello from CI
"""


def sh(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"
    return result.stdout


@dataclass
class Runner:
    """What a GitHub runner offers a `run:` step: the workflow's env, GITHUB_PATH and GITHUB_STEP_SUMMARY."""

    repo: Path
    base_env: dict[str, str]
    expressions: dict[str, str]
    overrides: dict[str, str]
    summary: Path

    def expand(self, value: object) -> str:
        def one(match: re.Match) -> str:
            assert match[1] in self.expressions, f"the test knows no value for ${{{{ {match[1]} }}}}"
            return self.expressions[match[1]]

        return re.sub(r"\$\{\{\s*(.+?)\s*\}\}", one, str(value))

    def run(self, workflow: str, replace: dict[str, Callable[[dict[str, str]], None]]) -> list[tuple[str, int]]:
        data = yaml.safe_load((self.repo / ".github" / "workflows" / workflow).read_text())
        (job,) = data["jobs"].values()
        env = dict(self.base_env)
        for scope in (data.get("env", {}), job.get("env", {})):
            env.update({key: self.expand(value) for key, value in scope.items()})
        env.update(self.overrides)
        github_path = self.summary.parent / f"{workflow}.path"
        github_path.write_text("")
        env.update({"GITHUB_STEP_SUMMARY": str(self.summary), "GITHUB_PATH": str(github_path)})
        results = []
        for index, step in enumerate(job["steps"]):
            if "run" not in step:
                continue
            if step.get("id") in replace:
                replace[step["id"]](env)
                continue
            assert "if" not in step, f"the test does not evaluate `if:` of step {step.get('name')}"
            script = self.summary.parent / f"{workflow}.step{index}.sh"
            script.write_text(step["run"])
            path = [line for line in github_path.read_text().splitlines() if line]
            step_env = {**env, "PATH": os.pathsep.join([*reversed(path), env["PATH"]])}
            result = subprocess.run(["bash", "-e", str(script)], cwd=self.repo, env=step_env, capture_output=True,
                                    text=True, timeout=300, stdin=subprocess.DEVNULL)
            results.append((step.get("name", step["run"].splitlines()[0]), result.returncode))
            if result.returncode != 0:
                return results + [("output", -1), (result.stdout + result.stderr, -1)]
        return results


def install_stix_from_a_wheel(tmp_path: Path) -> tuple[Path, Path]:
    """A wheel of this checkout and a fresh venv with stix's dependencies (from uv's cache, offline) but not stix:
    the workflow's own `pip install "$STIX_PACKAGE"` installs it."""
    wheels = tmp_path / "wheels"
    sh(UV, "build", "--wheel", "--offline", "--out-dir", wheels, REPO, cwd=REPO, env=UV_ENV)
    (wheel,) = wheels.glob("stix-*.whl")
    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", venv)
    lock = (REPO / "requirements-test.lock").read_text().splitlines()
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("\n".join(line.split(" ")[0] for line in lock if re.match(r"[A-Za-z0-9]", line)))
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    sh(UV, "pip", "install", "-q", "--offline", "--python", venv / "bin" / "python", "-c", constraints, *dependencies, env=UV_ENV)
    return wheel, venv


def test_workflow_steps_preview_a_changed_task_and_report_no_drift(tmp_path, stix_home):
    started = time.monotonic()
    wheel, venv = install_stix_from_a_wheel(tmp_path)
    prepared = time.monotonic() - started

    home = tmp_path / "runner-home"
    home.mkdir()
    base_env = {"PATH": os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
                "HOME": str(home), "LANG": "C.UTF-8", "STIX_HOME": str(stix_home),
                "STIX_CACHE": str(tmp_path / "empty-cache"),  # no cached engine: stix must take PATH's pulumi
                "STIX_SSH_CONFIG": str(tmp_path / "ssh-config"), "PIP_NO_INDEX": "1"}  # no package from the net

    repo = tmp_path / "infra"
    repo.mkdir()
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", "-c", "init.defaultBranch=main"]
    sh(*git, "init", "-q", cwd=repo)
    sh(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel, cwd=repo, env=base_env)  # the user's laptop
    init = sh(venv / "bin" / "stix", "init", "--ci", "github", ".", cwd=repo, env=base_env)
    assert "Wrote " in init and (repo / ".github" / "workflows" / "stix-preview.yml").exists()
    sh(venv / "bin" / "python", "-m", "pip", "uninstall", "-q", "-y", "stix", env=base_env)  # CI starts without it
    (repo / "tasks").mkdir()
    (repo / "tasks" / "unchanged.yaml").write_text(TASK.replace("ci-hello", "ci-old"))
    sh(*git, "add", "-A", cwd=repo)
    sh(*git, "commit", "-q", "-m", "base", cwd=repo)
    base = sh(*git, "rev-parse", "HEAD", cwd=repo).strip()
    sh(*git, "checkout", "-q", "-b", "pr", cwd=repo)
    (repo / "tasks" / "ci hello.yaml").write_text(TASK)  # a space in the name: quoting holds
    sh(*git, "add", "-A", cwd=repo)
    sh(*git, "commit", "-q", "-m", "a new task", cwd=repo)

    state = tmp_path / "team-state"
    state.mkdir()
    runner = Runner(repo, base_env, {
        "vars.STIX_BACKEND": f"file://{state}",
        "secrets.STIX_PASSPHRASE": "ci-passphrase",
        "secrets.AWS_ACCESS_KEY_ID": "", "secrets.AWS_SECRET_ACCESS_KEY": "",
        "github.event.pull_request.base.sha": base,
    }, {"STIX_PACKAGE": str(wheel)}, tmp_path / "step-summary.md")  # STIX_PACKAGE: the line a user edits
    runner.summary.write_text("")
    unset = Runner(repo, base_env, runner.expressions, {}, tmp_path / "unset-summary.md")
    stopped = unset.run("stix-preview.yml", {})  # as `stix init` wrote it: stix came from a local wheel
    assert stopped[0] == ("Install stix", 1) and "set STIX_PACKAGE in this workflow" in stopped[-1][0], stopped

    def pulumi_from_cache(env: dict[str, str]) -> None:
        """The release download, offline: the engine stix's tests built, where get.pulumi.com puts it."""
        from stix.engine.locate import find_engine

        (home / ".pulumi" / "bin").mkdir(parents=True)
        (home / ".pulumi" / "bin" / "pulumi").symlink_to(find_engine(provide=False).path)

    workflows_started = time.monotonic()
    preview = runner.run("stix-preview.yml", {"pulumi-install": pulumi_from_cache})
    assert all(code == 0 for _, code in preview), preview
    markdown = (repo / "preview.md").read_text()
    assert markdown.startswith("### stix preview: `ci-hello`"), markdown
    assert "ci-old" not in markdown, "an unchanged task is not previewed"
    creates = re.search(r"^\| (\d+) \| 0 \| 0 \| 0 \| 0 \|$", markdown, re.M)
    assert creates and int(creates[1]) >= 1, markdown
    assert "### stix preview `" not in markdown, markdown  # a failed preview's heading
    assert markdown in runner.summary.read_text()
    assert not (tmp_path / "empty-cache" / "engine").exists(), "stix used the pulumi on PATH, nothing of its own"

    (repo / "tasks" / "bad.yaml").write_text("name: ci-bad\nresources: {infra: local, cpus: lots}\n")
    sh(*git, "add", "-A", cwd=repo)
    sh(*git, "commit", "-q", "-m", "a broken task", cwd=repo)
    failed = runner.run("stix-preview.yml", {"pulumi-install": lambda env: None})
    assert failed[-3] == ("Preview each changed task", 1), failed
    markdown = (repo / "preview.md").read_text()
    assert markdown.count("### stix preview: `ci-hello`") == 1, "the good task is still previewed"
    assert re.search(r"### stix preview `tasks/bad.yaml` failed\n\n```\nstix: error: .*bad.yaml.*cpus", markdown), markdown

    runner.summary.write_text("")
    drift = runner.run("stix-drift.yml", {"pulumi-install": lambda env: None})  # ~/.pulumi restored from cache
    assert drift and all(code == 0 for _, code in drift), drift
    assert (repo / "drift.md").read_text() == "### stix drift: 0 of 0 cluster(s) drifted\n\n"
    assert "0 of 0 cluster(s) drifted" in runner.summary.read_text()
    print(f"\nwheel + venv: {prepared:.1f}s; both workflows' steps: {time.monotonic() - workflows_started:.1f}s")

