"""The CI workflows for a user's repository: their shape, their one source, and `stix init --ci` writing them."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from stix.engine import PULUMI_VERSION
from stix.install_source import requirement_from_direct_url
from stix.project import ci_files, ci_workflows, with_package
from tests.unit.test_cli import one_line_error

REPO = Path(__file__).resolve().parents[2]
PACKAGED = REPO / "stix" / "workflows" / "github"
EXAMPLES = REPO / "examples" / "ci" / "github"
NAMES = ["stix-drift.yml", "stix-preview.yml"]


def workflow(name: str) -> dict:
    return yaml.safe_load((PACKAGED / name).read_text())


def steps(name: str) -> list[dict]:
    (job,) = workflow(name)["jobs"].values()
    return job["steps"]


def runs(name: str) -> str:
    return "\n".join(step.get("run", "") for step in steps(name))


def test_the_package_ships_both_and_examples_hold_the_same_text():
    assert sorted(ci_workflows("github")) == NAMES
    assert sorted(p.name for p in EXAMPLES.iterdir()) == NAMES
    for name in NAMES:
        assert (EXAMPLES / name).read_text() == ci_workflows("github")[name], f"examples/ci/github/{name} differs"


def test_package_data_covers_the_workflow_files():
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["stix"]
    for name in NAMES:
        assert any(fnmatch.fnmatch(f"workflows/github/{name}", p) for p in patterns), name


@pytest.mark.parametrize("name", NAMES)
def test_pulumi_version_is_the_one_stix_pins(name):
    data = workflow(name)
    assert data["env"]["PULUMI_VERSION"] == PULUMI_VERSION
    install = next(s for s in steps(name) if s.get("id") == "pulumi-install")
    assert '--version "$PULUMI_VERSION"' in install["run"]
    cache = next(s for s in steps(name) if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == "~/.pulumi" and "env.PULUMI_VERSION" in cache["with"]["key"]
    assert install["if"] == f"steps.{cache['id']}.outputs.cache-hit != 'true'"


@pytest.mark.parametrize("name", NAMES)
def test_stix_comes_from_pip_not_from_this_repository(name):
    data = workflow(name)
    assert data["env"]["STIX_PACKAGE"] == "", "never a bare `stix`: PyPI's project of that name is another one"
    text = (PACKAGED / name).read_text()
    assert "stix @ git+https://github.com/<org>/stix@<tag>" in text, "the documented form of an unreleased stix"
    assert 'pip install --disable-pip-version-check "$STIX_PACKAGE"' in runs(name)
    python = next(s for s in steps(name) if s.get("uses", "").startswith("actions/setup-python@"))
    assert python["with"]["cache"] == "pip"
    for step in steps(name):
        assert "setup-go" not in step.get("uses", "")
        assert "repository" not in step.get("with", {}), "no checkout of another repository (stix)"
    assert "scripts/setup.sh" not in text and ".venv" not in text
    assert not re.search(r"\bgo (build|install|run)\b", runs(name))


@pytest.mark.parametrize("name", NAMES)
def test_secrets_reach_steps_only_through_env(name):
    data = workflow(name)
    (job,) = data["jobs"].values()
    text = (PACKAGED / name).read_text()
    secret_refs = re.findall(r"secrets\.[A-Za-z_]+", text)
    assert secret_refs and len(secret_refs) == len(re.findall(r"\$\{\{ secrets\.[A-Z_]+ \}\}", text))
    secret_env = {key for key, value in job["env"].items() if "secrets." in str(value)}
    assert "PULUMI_CONFIG_PASSPHRASE" in secret_env
    for step in steps(name):
        run = step.get("run", "")
        assert "secrets." not in run and "secrets." not in str(step.get("with", ""))
        for key in secret_env:
            assert key not in run, f"a run step reads {key}: secrets stay with stix"
    assert "set -x" not in text


def test_triggers_pull_requests_on_task_files_and_a_schedule():
    assert workflow("stix-preview.yml")[True]["pull_request"]["paths"] == ["tasks/**.yaml", "tasks/**.yml"]  # `on`
    assert workflow("stix-drift.yml")[True]["schedule"][0]["cron"]


def test_the_steps_call_preview_and_drift_in_markdown():
    assert re.search(r'stix preview "\$task" --format markdown', runs("stix-preview.yml"))
    assert "git diff -z --name-only" in runs("stix-preview.yml"), "only the changed task files"
    assert "stix drift --all --format markdown" in runs("stix-drift.yml")
    comment = next(s for s in steps("stix-preview.yml") if s.get("uses", "").startswith("actions/github-script@"))
    script = comment["with"]["script"]
    assert "<!-- stix-preview -->" in script, "one comment, found again by its marker"
    assert "updateComment" in script and "createComment" in script
    assert "!cancelled()" in comment["if"], "a failed preview is still reported"


def test_init_ci_writes_both_workflows_and_a_project(stix, tmp_path):
    repo = tmp_path / "infra"
    result = stix("init", "--ci", "github", str(repo))
    assert result.returncode == 0, result.stderr
    for name in NAMES:
        path = repo / ".github" / "workflows" / name
        assert path.read_text() == ci_workflows("github")[name]
        assert f"Wrote {path}" in result.stdout
    assert (repo / "Pulumi.yaml").exists() and (repo / "stacks").is_dir()


def test_init_ci_never_overwrites_without_force(stix, tmp_path):
    repo = tmp_path / "infra"
    assert stix("init", "--ci", "github", str(repo)).returncode == 0
    mine = repo / ".github" / "workflows" / "stix-drift.yml"
    mine.write_text("# my own edits\n")
    refused = stix("init", "--ci", "github", str(repo))
    assert one_line_error(refused) == f"stix: error: {mine}: already exists; pass --force to overwrite it"
    assert refused.returncode == 2 and mine.read_text() == "# my own edits\n"
    forced = stix("init", "--ci", "github", "--force", str(repo))
    assert forced.returncode == 0, forced.stderr
    assert mine.read_text() == ci_workflows("github")["stix-drift.yml"]


def test_a_refusal_writes_nothing_at_all(stix, tmp_path):
    repo = tmp_path / "fresh"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "stix-drift.yml").write_text("mine\n")
    one_line_error(stix("init", "--ci", "github", str(repo)))
    assert sorted(p.name for p in repo.rglob("*")) == [".github", "stix-drift.yml", "workflows"]


@pytest.mark.parametrize("args, message", [
    (["--ci", "gitlab"], "stix: error: --ci: must be one of github, not 'gitlab'"),
    (["--ci", ""], "stix: error: --ci: must be one of github, not ''"),
    (["--force"], "stix: error: --force: only with --ci (stix init never overwrites Pulumi.yaml)"),
])
def test_bad_values_are_one_line_and_write_nothing(stix, tmp_path, args, message):
    repo = tmp_path / "infra"
    assert one_line_error(stix("init", *args, str(repo))) == message
    assert not repo.exists()


def test_drift_all_with_no_cluster_is_no_drift_but_no_names_is_an_error(stix):
    """A new repository's scheduled drift run passes; `stix drift` with nothing to check stays an error."""
    for args, out in ((["--all"], "No clusters.\n"), (["--all", "--format", "markdown"],
                                                      "### stix drift: 0 of 0 cluster(s) drifted\n\n")):
        result = stix("drift", *args)
        assert (result.returncode, result.stdout, result.stderr) == (0, out, "")
    assert one_line_error(stix("drift")) == "stix: error: name clusters to check, or pass --all"


def test_another_runtimes_project_gets_no_workflows_either(stix, tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: web\nruntime: nodejs\n")
    assert "another runtime" in one_line_error(stix("init", "--ci", "github", str(tmp_path)))
    assert not (tmp_path / ".github").exists() and not (tmp_path / "stacks").exists()


def install_step(name: str) -> str:
    return next(s for s in steps(name) if s.get("name") == "Install stix")["run"]


@pytest.mark.parametrize("name", NAMES)
def test_the_install_step_stops_on_an_empty_package_and_on_a_package_without_stix(name, tmp_path):
    """The step's shell, run with a fake pip and stix: empty STIX_PACKAGE stops before pip; an install that
    brings no `stix` command (PyPI's other `stix`) stops after it; ours goes on."""
    import subprocess

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text('#!/bin/sh\necho "pip $*" >> "$LOG"\n')
    (bin_dir / "python").chmod(0o755)
    script = tmp_path / "step.sh"
    script.write_text(install_step(name))

    def run(package: str, with_stix: bool) -> subprocess.CompletedProcess:
        stix_bin = bin_dir / "stix"
        stix_bin.unlink(missing_ok=True)
        if with_stix:
            stix_bin.write_text("#!/bin/sh\necho stix 0.1.0\n")
            stix_bin.chmod(0o755)
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STIX_PACKAGE": package, "LOG": str(tmp_path / "log")}
        return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=30)

    empty = run("", with_stix=True)
    assert empty.returncode == 1 and "::error::set STIX_PACKAGE in this workflow" in empty.stdout
    assert not (tmp_path / "log").exists(), "nothing installed"
    other = run("stix", with_stix=False)
    assert other.returncode == 1 and "installed no stix command" in other.stdout
    ours = run("stix @ git+https://example.com/org/stix@v1", with_stix=True)
    assert ours.returncode == 0 and "stix 0.1.0" in ours.stdout, ours.stderr
    assert (tmp_path / "log").read_text().splitlines()[-1] == (
        "pip -m pip install --disable-pip-version-check stix @ git+https://example.com/org/stix@v1")


@pytest.mark.parametrize("record, requirement", [
    ({"url": "https://github.com/acme/stix.git", "vcs_info": {"vcs": "git", "commit_id": "0a1b2c"}},
     "stix @ git+https://github.com/acme/stix.git@0a1b2c"),
    ({"url": "https://files.acme.dev/stix-0.1.0-py3-none-any.whl", "archive_info": {"hashes": {}}},
     "stix @ https://files.acme.dev/stix-0.1.0-py3-none-any.whl"),
    ({"url": "file:///home/me/stix", "dir_info": {"editable": True}}, None),
    ({"url": "file:///tmp/stix-0.1.0-py3-none-any.whl", "archive_info": {}}, None),
    ({"url": "file:///home/me/stix", "vcs_info": {"vcs": "git", "commit_id": "0a1b2c"}}, None),
    ({}, None),
])
def test_the_requirement_a_runner_can_install(record, requirement):
    assert requirement_from_direct_url(record) == requirement


def test_init_fills_the_package_line_with_the_requirement(tmp_path):
    requirement = "stix @ git+https://github.com/acme/stix.git@0a1b2c"
    written = ci_files(tmp_path, "github", requirement=requirement)
    for path, text in written.items():
        assert yaml.safe_load(text)["env"]["STIX_PACKAGE"] == requirement, path
        assert text == with_package(ci_workflows("github")[path.name], requirement)
    assert ci_files(tmp_path, "github") == {tmp_path.resolve() / ".github" / "workflows" / name:
                                            ci_workflows("github")[name] for name in NAMES}


def test_version(stix):
    from importlib.metadata import version

    result = stix("--version")
    assert (result.returncode, result.stdout) == (0, f"stix {version('stix')}\n")
