"""`stix policy check|packs` and `stix preview`'s exit code through the real command line and the real engine:
exit 0 without a mandatory violation, 4 with one, 1 or 2 on errors; bad input is one line and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stix.home import StixHome
from stix.index import ClusterIndex
from tests.saved_cluster import save_cluster
from tests.unit.test_cli import one_line_error

TASK = "name: hello\nnum_nodes: 2\nresources:\n  infra: local\nrun: echo hi\n"
BUDGET = "policy:\n  max_hourly_cost_per_cluster: 2\n"


def priced_catalog(tmp_path: Path) -> Path:
    """The local cloud at $1.50 per node: a 2-node cluster costs $3.00/hr."""
    bundled = Path(__file__).resolve().parents[2] / "catalogs" / "local.csv"
    directory = tmp_path / "catalog"
    directory.mkdir()
    (directory / "local.csv").write_text(bundled.read_text().replace(",0,,local", ",1.5,,local"))
    return directory


def files(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*"))


@pytest.mark.parametrize("command", [("check",), ("packs",)])
def test_help_has_examples(stix, command):
    result = stix("policy", *command, "--help")
    assert result.returncode == 0 and "Examples:" in result.stdout and f"stix policy {command[0]}" in result.stdout


@pytest.mark.parametrize("args, expected, code", [
    (("check", "--format", "xml"), "stix: error: --format 'xml': expected text, json or markdown", 2),
    (("packs", "--format", "markdown"), "stix: error: --format 'markdown': expected text or json", 2),
    (("check", "missing.yaml"), "missing.yaml", 2),
    (("check", "bad.yaml"), "bad.yaml:1:", 2),
    (("check", "-c", "Bad_Name"), "invalid cluster name 'Bad_Name'", 2),
    (("check", "-c", "nope"), "stix: error: cluster 'nope' not found (stix status lists clusters)", 1),
    (("check", "--clouds", "aws"), "stix: error: --clouds plans a task; it needs TASK.yaml", 2),
    (("check", "-c", "web"), "stix: error: ", 2),  # policy.packs names a directory that is no pack
    (("packs",), "stix: error: ", 2),
])
def test_bad_input_is_one_line_and_changes_nothing(stix, stix_home, tmp_path, args, expected, code):
    save_cluster(StixHome(stix_home), "web")
    (stix.workdir / "bad.yaml").write_text("nmae: x\n")
    if expected == "stix: error: ":
        (stix_home / "config.yaml").write_text(f"policy:\n  packs: [{tmp_path / 'not-a-pack'}]\n")
        expected = "config.yaml: policy.packs: "
    before = files(stix_home)
    result = stix("policy", *args)
    line = one_line_error(result)
    assert expected in line and result.returncode == code, (line, result.returncode)
    assert result.stdout == ""
    assert files(stix_home) == before


def test_a_cluster_without_a_stack_is_an_error_and_leaves_nothing(stix, stix_home, engine):
    save_cluster(StixHome(stix_home), "web")
    result = stix("policy", "check")
    assert one_line_error(result) == "stix: error: cluster 'web' has no stack (stix status lists clusters)"
    assert result.returncode == 1
    assert not (stix_home / "workspaces" / "web").exists()
    assert json.loads(stix("policy", "check", "--format", "json").stdout)["clusters"][0]["error"].startswith(
        "cluster 'web' has no stack")


def test_a_cluster_mid_launch_is_not_checked_and_fails_nothing(stix, stix_home, engine):
    from stix.index import INIT

    ClusterIndex(StixHome(stix_home).index_db).upsert("launching", "local", 2, INIT, None, None, "2x local", 0.0)
    result = stix("policy", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "launching" not in result.stdout + result.stderr


def test_exit_codes_0_and_4(stix, stix_home, tmp_path, engine):
    (stix.workdir / "t.yaml").write_text(TASK)
    empty = stix("policy", "check")
    assert (empty.returncode, empty.stdout) == (0, "No clusters.\n"), empty.stderr

    fine = stix("policy", "check", "t.yaml")
    assert fine.returncode == 0, fine.stderr
    assert fine.stdout == "hello: No policy violations.\n"

    (stix_home / "config.yaml").write_text(BUDGET)
    catalog = str(priced_catalog(tmp_path))
    over = stix("policy", "check", "t.yaml", STIX_CATALOG_DIR=catalog)
    assert over.returncode == 4, over.stdout + over.stderr
    assert "mandatory" in over.stdout and "stix-guardrails/max-hourly-cost-per-cluster" in over.stdout
    assert "cluster hello costs $3.00/hr; the budget per cluster is $2.00/hr" in over.stdout
    assert "hello: Policy: 1 mandatory, 0 advisory violation(s)" in over.stdout and over.stderr == ""
    checked = json.loads(stix("policy", "check", "t.yaml", "--format", "json", STIX_CATALOG_DIR=catalog).stdout)
    assert checked["blocked"] is True
    assert [(v["policy"], v["level"]) for v in checked["clusters"][0]["violations"]] == [
        ("max-hourly-cost-per-cluster", "mandatory")]

    previewed = stix("preview", "t.yaml", "--format", "json", STIX_CATALOG_DIR=catalog)
    assert previewed.returncode == 4
    report = json.loads(previewed.stdout)  # printed in full before the exit
    assert report["blocked"] is True and report["summary"]["create"] == 3
    assert [v["policy"] for v in report["violations"]] == ["max-hourly-cost-per-cluster"]
    assert previewed.stderr.splitlines() == [
        "stix: error: 1 mandatory policy violation(s) in the plan of cluster hello: `stix up` would refuse it",
        "stix: error: mandatory stix-guardrails/max-hourly-cost-per-cluster: pulumi:pulumi:Stack stix-hello: "
        "cluster hello costs $3.00/hr; the budget per cluster is $2.00/hr"]
    text = stix("preview", "t.yaml", STIX_CATALOG_DIR=catalog)
    assert text.returncode == 4 and "Policy violations" in text.stdout
    assert one_line_error(text).endswith("`stix up` would refuse it")

    (stix_home / "config.yaml").write_text(BUDGET + "  enforcement: {max-hourly-cost-per-cluster: advisory}\n")
    advisory = stix("policy", "check", "t.yaml", STIX_CATALOG_DIR=catalog)
    assert advisory.returncode == 0, advisory.stdout + advisory.stderr
    assert "advisory" in advisory.stdout and "hello: Policy: 0 mandatory, 1 advisory violation(s)" in advisory.stdout
    assert stix("preview", "t.yaml", "--format", "markdown", STIX_CATALOG_DIR=catalog).returncode == 0

    assert ClusterIndex(StixHome(stix_home).index_db).all() == [], "checks change nothing"
    assert not list(stix_home.glob("clusters/*/nodes/*"))
    assert stix("drift", "hello").returncode == 1, "no stack was left behind"


def test_packs_lists_each_pack_and_where_it_was_named(stix, stix_home, tmp_path):
    extra = tmp_path / "org-pack"
    extra.mkdir()
    (extra / "PulumiPolicy.yaml").write_text("runtime: python\nname: org-rules\n")
    stix_home.mkdir()
    (stix_home / "config.yaml").write_text(f"policy:\n  packs: [{extra}]\n  max_gpus_per_cluster: 8\n")
    listed = json.loads(stix("policy", "packs", "--format", "json").stdout)
    assert [(p["name"], p["named_by"]) for p in listed] == [
        ("stix-guardrails", "stix's built-in pack"), ("org-rules", f"policy.packs in {stix_home / 'config.yaml'}")]
    assert listed[0]["config"]["max-gpus-per-cluster"] == {"limit": 8}
    assert listed[1]["directory"] == str(extra.resolve())
    text = stix("policy", "packs")
    assert text.returncode == 0 and "stix-guardrails" in text.stdout and "org-rules" in text.stdout


def test_the_readme_guardrails_example_is_a_valid_config_file(tmp_path, monkeypatch):
    from stix.config import load_config
    from stix.policy.packs import builtin_config
    from tests.conftest import REPO

    text = (REPO / "README.md").read_text()
    section = text[text.index("## Guardrails"):]
    example = section[section.index("```yaml\n") + len("```yaml\n"):section.index("```\n", section.index("```yaml"))]
    (tmp_path / "org.yaml").write_text("{}\n")
    (tmp_path / "config.yaml").write_text(example.replace("/etc/stix/org.yaml", str(tmp_path / "org.yaml")))
    for name in ("STIX_PROJECT_CONFIG", "STIX_ORG_CONFIG", "STIX_BACKEND", "STIX_CATALOG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STIX_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.values.policy is not None and config.values.policy.packs == [str(tmp_path.parent / "shared" / "policies" / "finops")]
    body = builtin_config(config)
    assert body["max-hourly-cost-per-cluster"] == {"limit": 50}
    assert body["allowed-regions"] == {"regions": ["us-east-1", "us-west-2"], "enforcementLevel": "disabled"}


def test_preview_shows_what_the_admin_policy_changed(stix_home, tmp_path, monkeypatch, engine):
    """The admin policy's changes (stages.Target.admin_changes, set by stix.admin_policy through target_of) reach
    the text, json and markdown previews and `stix policy check`; the engine preview is the real one."""
    import dataclasses
    import os

    from typer.testing import CliRunner

    from stix import cli, flows

    real = flows.target_of
    monkeypatch.setattr(flows, "target_of", lambda request, **options: dataclasses.replace(
        real(request, **options), admin_changes=("resources.use_spot: False -> True", "labels.team: None -> 'ml'")))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yaml").write_text(TASK)
    saved = dict(os.environ)  # the engine's settings that open_stack puts in this process's environment
    try:
        text = CliRunner().invoke(cli.app, ["preview", "t.yaml"])
        as_json = CliRunner().invoke(cli.app, ["preview", "t.yaml", "--format", "json"])
        markdown = CliRunner().invoke(cli.app, ["preview", "t.yaml", "--format", "markdown"])
        checked = CliRunner().invoke(cli.app, ["policy", "check", "t.yaml", "--format", "json"])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert text.exit_code == 0, text.output
    # Noted once as the preview runs, before the plan it shaped.
    assert "Admin policy changed resources.use_spot: False -> True\nAdmin policy changed labels.team: None -> 'ml'\n" \
        in text.output
    assert text.output.count("Admin policy changed") == 2
    assert text.output.index("Admin policy changed") < text.output.index("Plan: 3 to create")
    assert json.loads(as_json.output)["admin_changes"] == ["resources.use_spot: False -> True", "labels.team: None -> 'ml'"]
    assert "#### Admin policy changed\n\n- `resources.use_spot: False -> True`\n- `labels.team: None -> 'ml'`" \
        in markdown.output
    assert json.loads(checked.output)["clusters"][0]["admin_changes"][0] == "resources.use_spot: False -> True"
