"""Bad input through the real command line: one line on stderr, a non-zero exit, no traceback."""

import pytest

from tests.conftest import REPO
from tests.import_probe import heavy_modules_loaded


def one_line_error(result) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("stix: error: ")
    return lines[0]


@pytest.mark.parametrize(
    "body, expected",
    [
        ("name: x\nrun: [a\n", ":3:1: YAML syntax error"),
        ("name: x\nresources:\n  colud: local\n", ":3:3: resources.colud: unknown field; did you mean 'cloud'?"),
        ("resources:\n  cloud: lcoal\n", ":2:10: resources.cloud: unknown cloud 'lcoal'; did you mean 'local'?"),
        ("num_nodes: 0\nrun: x\n", ":1:12: num_nodes: Input should be greater than or equal to 1"),
    ],
)
@pytest.mark.parametrize("command", ["up", "preview", "validate"])
def test_bad_task_files(stix, tmp_path, body, expected, command):
    path = tmp_path / "task.yaml"
    path.write_text(body)
    line = one_line_error(stix(command, str(path)))
    assert f"{path}{expected}" in line
    assert stix("status").stdout.strip() == "No clusters."


def test_missing_file(stix, tmp_path):
    line = one_line_error(stix("up", "-y", str(tmp_path / "missing.yaml")))
    assert line == f"stix: error: {tmp_path / 'missing.yaml'}: no such task file"


def test_cloud_without_credentials_says_so(stix, tmp_path):
    path = tmp_path / "task.yaml"
    path.write_text("resources:\n  infra: aws/us-east-1\nrun: x\n")
    line = one_line_error(stix("up", "-y", str(path), HOME=str(tmp_path)))
    assert "offered on aws, but enabled clouds are local" in line


def test_cloud_without_provider_plugin_names_the_install_command(stix, tmp_path):
    path = tmp_path / "task.yaml"
    path.write_text("resources:\n  infra: aws/us-east-1\n  accelerators: T4:1\nrun: x\n")
    line = one_line_error(stix("up", "-y", str(path), AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y"))
    assert "needs the Pulumi aws provider plugin v7.51.1" in line
    assert "pulumi plugin install resource aws 7.51.1" in line


def test_invalid_cluster_name(stix, tmp_path):
    path = tmp_path / "task.yaml"
    path.write_text("run: x\n")
    assert "invalid cluster name" in one_line_error(stix("up", "-y", "-c", "Bad_Name", str(path)))


def test_destroy_unknown_cluster(stix, engine):
    result = stix("destroy", "-y", "nothing-here")
    assert result.returncode == 1
    assert one_line_error(result) == "stix: error: cluster 'nothing-here' not found (stix status lists clusters)"


def test_validate_ok(stix):
    result = stix("validate", "examples/hello.yaml", cwd=REPO)
    assert result.returncode == 0 and result.stdout.strip() == "examples/hello.yaml: OK"


def test_help_lists_commands(stix):
    result = stix("--help")
    assert result.returncode == 0
    for command in ("up", "preview", "destroy", "status", "doctor"):
        assert command in result.stdout


def test_doctor_reports_each_check(stix, engine):
    result = stix("doctor")
    assert result.returncode == 0, result.stdout
    for name in ("engine", "sshd", "state", "home"):
        assert any(line.startswith("OK") and f" {name} " in line for line in result.stdout.splitlines()), result.stdout
    assert str(engine.path) in result.stdout


def test_doctor_names_the_fix_for_missing_engine(stix, tmp_path):
    result = stix("doctor", STIX_CACHE=str(tmp_path / "empty-cache"), PATH="/usr/bin:/bin")
    assert result.returncode == 1
    engine_line = next(line for line in result.stdout.splitlines() if " engine " in line)
    assert engine_line.startswith("FAIL") and "stix engine install" in engine_line


@pytest.mark.parametrize("argv", [["status"], ["--help"], ["up", "--help"], ["check"]])
def test_fast_commands_import_no_pulumi_or_cloud_sdk(stix, argv):
    heavy = ("pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_kubernetes", "paramiko")
    assert heavy_modules_loaded(stix, argv, heavy) == []


def test_missing_sshd_names_the_package(stix, tmp_path, monkeypatch):
    from stix.components.local import sshd
    from stix.compile import check_prerequisites
    from stix.errors import PrerequisiteMissing

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sshd.os, "access", lambda path, mode: False)
    with pytest.raises(PrerequisiteMissing, match="apt-get install -y openssh-server"):
        check_prerequisites(None, "local")


@pytest.mark.parametrize("resources, refused", [
    ("  infra: lambda/us-east-1\n", "resources.infra lambda (a SkyPilot cloud stix does not run on yet"),
    ("  cloud: runpod\n", "resources.cloud runpod (a SkyPilot cloud"),
    ("  any_of:\n    - infra: local\n    - infra: nebius\n", "resources.any_of[1].infra nebius (a SkyPilot cloud"),
])
def test_skypilot_only_clouds_validate_and_are_refused_by_up_and_optimize(stix, tmp_path, resources, refused):
    path = tmp_path / "task.yaml"
    path.write_text("name: x\nresources:\n" + resources + "run: echo hi\n")
    assert stix("validate", str(path)).returncode == 0
    for command in (("up", "-y"), ("preview",), ("optimize",)):
        line = one_line_error(stix(*command, str(path)))
        assert "not supported yet: " in line and refused in line, line
    assert stix("status").stdout.strip() == "No clusters."
