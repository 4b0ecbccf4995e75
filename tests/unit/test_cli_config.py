"""`stix config show` and the config keys through the real command line."""

from __future__ import annotations

import json

import pytest

from tests.import_probe import heavy_modules_loaded
from tests.unit.test_cli import one_line_error


@pytest.fixture
def user_file(stix):
    stix.home.mkdir(parents=True, exist_ok=True)
    return stix.home / "config.yaml"


def test_show_prints_each_value_with_its_source(stix, user_file, tmp_path):
    user_file.write_text("aws:\n  labels:\n    team: ml\n    env: dev\ndocker:\n  run_options: [--privileged]\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / ".stix.yaml").write_text("aws:\n  labels:\n    env: prod\n")
    (work / "task.yaml").write_text("run: x\nconfig:\n  kubernetes:\n    namespace: ns1\n")
    result = stix("config", "show", "task.yaml", cwd=work)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"# user config:    {user_file}"
    assert lines[1] == f"# project config: {work / '.stix.yaml'}"
    rows = [" ".join(line.split()) for line in lines[2:]]
    assert rows == [f"aws.labels.team = ml ({user_file})", f"aws.labels.env = prod ({work / '.stix.yaml'})",
                    f'docker.run_options = ["--privileged"] ({user_file}; ignored by stix)',
                    "kubernetes.namespace = ns1 (task config (task.yaml))"]


def test_show_json_and_yaml(stix, user_file):
    user_file.write_text("allowed_clouds: [local]\nautostop: 30m\nbackend: s3://state\n")
    result = stix("config", "show", "--format", "json", STIX_BACKEND="gs://env")
    document = json.loads(result.stdout)
    assert document["config"] == {"allowed_clouds": ["local"], "autostop": "30m", "backend": "gs://env"}
    assert document["sources"] == {"allowed_clouds": str(user_file), "autostop": str(user_file),
                                   "backend": "STIX_BACKEND"}
    assert document["files"] == {"user": str(user_file), "project": None} and document["ignored"] == []
    assert stix("config", "show", "--format", "yaml").stdout == (
        "allowed_clouds:\n- local\nautostop: 30m\nbackend: s3://state\n")


def test_show_writes_paths_under_the_home_directory_with_a_tilde(stix, user_file):
    user_file.write_text("gcp:\n  ssh_user: me\n")
    result = stix("config", "show", HOME=str(stix.home.parent))
    assert result.stdout.splitlines()[0] == "# user config:    ~/stix-home/config.yaml"
    assert " ".join(result.stdout.splitlines()[2].split()) == "gcp.ssh_user = me (~/stix-home/config.yaml)"


def test_show_with_no_files(stix):
    result = stix("config", "show")
    assert result.returncode == 0 and "No config set: stix's defaults apply." in result.stdout


@pytest.mark.parametrize("body, expected", [
    ("aws: [a\n", ":2:1: YAML syntax error"),
    ("aws:\n  lables: {a: b}\n", ":2:3: aws.lables: unknown field; did you mean 'labels'?"),
    ("kubernetes:\n  namespace: [a]\n", ":2:14: kubernetes.namespace: Input should be a valid string"),
])
@pytest.mark.parametrize("command", [["config", "show"], ["status"], ["check"]])
def test_a_bad_config_file_is_one_line_for_any_command_reading_it(stix, user_file, body, expected, command):
    user_file.write_text(body)
    if command == ["status"]:  # status reads the index only: it works, and says nothing about config
        assert stix(*command).returncode == 0
        return
    line = one_line_error(stix(*command))
    assert line == f"stix: error: {user_file}{expected}" or line.startswith(f"stix: error: {user_file}{expected}")


def test_bad_input_to_show(stix, tmp_path):
    assert "--format 'xml': expected text, json or yaml" in one_line_error(stix("config", "show", "--format", "xml"))
    assert "no such task file" in one_line_error(stix("config", "show", str(tmp_path / "missing.yaml")))
    task = tmp_path / "task.yaml"
    task.write_text("run: x\nconfig:\n  allowed_clouds: [aws]\n")
    line = one_line_error(stix("config", "show", str(task)))
    assert line.startswith(f"stix: error: {task}:3:3: config.allowed_clouds: cannot be set in a task")


def test_allowed_clouds_in_check_optimize_and_preview(stix, user_file, tmp_path):
    user_file.write_text("allowed_clouds: [gcp]\n")
    lines = stix("check").stdout.splitlines()
    assert f"disabled local       not in allowed_clouds ({user_file})" in lines
    task = tmp_path / "task.yaml"
    task.write_text("resources:\n  infra: local\nrun: x\n")
    for command in (["optimize", str(task)], ["preview", str(task)], ["up", "-y", str(task)]):
        line = one_line_error(stix(*command))
        assert line == f"stix: error: resources: cloud local: the config forbids it: allowed_clouds is gcp ({user_file})"
    assert stix("status").stdout.strip() == "No clusters."


def test_config_show_imports_no_pulumi_or_cloud_sdk(stix):
    heavy = ("pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_kubernetes", "paramiko")
    assert heavy_modules_loaded(stix, ["config", "show"], heavy) == []


def test_help_shows_an_example(stix):
    result = stix("config", "show", "--help")
    assert result.returncode == 0 and "stix config show task.yaml" in result.stdout
    assert "STIX_BACKEND" in stix("config", "--help").stdout
    assert "config" in stix("--help").stdout


def test_the_readme_example_is_a_valid_config_file(tmp_path, monkeypatch):
    from stix.config import load_config
    from tests.conftest import REPO

    text = (REPO / "README.md").read_text()
    section = text[text.index("## Config files"):]
    example = section[section.index("```yaml\n") + len("```yaml\n"):section.index("```\n", section.index("```yaml"))]
    (tmp_path / "config.yaml").write_text(example)
    (tmp_path / "catalogs").mkdir()  # catalog.dir must name a directory that exists
    for name in ("STIX_PROJECT_CONFIG", "STIX_BACKEND", "STIX_CATALOG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STIX_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.values.allowed_clouds == ["aws", "local"] and config.section("aws").ssh_user == "ubuntu"
    assert config.values.catalog is not None and config.values.catalog.dir == str(tmp_path / "catalogs")
