"""The built-in pack on the local cloud, end to end: the real engine, the real dynamic provider, real nodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from stix.home import StixHome
from stix.index import ClusterIndex

pytestmark = pytest.mark.e2e

TASK = "name: {name}\nnum_nodes: 2\nresources:\n  infra: local\nrun: echo hi\n"


def local_task(name: str):
    from stix.loader import load_pipeline_text

    return load_pipeline_text(TASK.format(name=name)).tasks[0]


def drop_cluster_tag(monkeypatch) -> None:
    """The local program mutated in-process (the inline program runs in this process): its nodes lose their
    `cluster` input, which resources-tagged-with-cluster requires."""
    from pulumi.dynamic import Resource

    from stix.components.local.node import LocalNode

    original = Resource.__init__

    def without_cluster(self, provider, name, props, opts=None):
        if isinstance(self, LocalNode):
            props = {k: v for k, v in props.items() if k != "cluster"}
        original(self, provider, name, props, opts)

    monkeypatch.setattr(Resource, "__init__", without_cluster)


def test_a_local_node_without_its_cluster_input_is_caught_in_preview(stix_home, engine, tmp_path, monkeypatch):
    """The local program mutated in-process (the inline program runs in this process): its nodes lose their
    `cluster` input, and resources-tagged-with-cluster names each of them; the unmutated plan passes."""
    from stix import flows
    from stix.session import Session

    monkeypatch.chdir(tmp_path)  # outside any stix project (the repository is one)
    session = Session(StixHome(stix_home))
    clean = flows.preview(session, flows.LaunchRequest(local_task("tagged"), "tagged"))
    assert not [v.line() for v in clean.violations], "the local cloud's own plan must pass every built-in policy"

    drop_cluster_tag(monkeypatch)
    report = flows.preview(session, flows.LaunchRequest(local_task("tagged"), "tagged"))
    found = [v for v in report.violations if v.policy == "resources-tagged-with-cluster"]
    assert sorted(v.resource for v in found) == ["vms-node-0", "vms-node-1"], [v.line() for v in report.violations]
    assert all(v.mandatory and v.pack == "stix-guardrails" and "its `cluster` input is None, not 'tagged'" in v.message
               for v in found)
    assert report.changes.blocked
    assert ClusterIndex(StixHome(stix_home).index_db).get("tagged") is None
    assert not (stix_home / "policy" / "tagged").exists(), "a preview of a new cluster leaves no pack config"


def test_a_local_cluster_over_its_budget_is_refused_before_any_node_starts(stix, stix_home, tmp_path, engine):
    from stix.components.local import sshd

    catalog = tmp_path / "catalog"  # the local cloud at $1.50/hr a node: hello (2 nodes) costs $3.00/hr
    catalog.mkdir()
    rows = (Path(__file__).resolve().parents[2] / "catalogs" / "local.csv").read_text().splitlines()
    price = rows[1].split(",").index("Price")
    priced = rows[:2] + [",".join("1.5" if i == price else f for i, f in enumerate(row.split(","))) for row in rows[2:]]
    (catalog / "local.csv").write_text("\n".join(priced) + "\n")
    stix_home.mkdir(parents=True, exist_ok=True)
    (stix_home / "config.yaml").write_text("policy:\n  max_hourly_cost_per_cluster: 2\n")
    task = tmp_path / "hello.yaml"
    task.write_text(TASK.format(name="hello"))

    result = stix("up", str(task), "-y", STIX_CATALOG_DIR=str(catalog))
    assert result.returncode == 4, result.stdout + result.stderr
    assert ("mandatory stix-guardrails/max-hourly-cost-per-cluster: pulumi:pulumi:Stack stix-hello: cluster hello "
            "costs $3.00/hr; the budget per cluster is $2.00/hr") in result.stderr
    assert not sshd.processes_under(stix_home), "a node started"
    assert not list(stix_home.glob("clusters/*/nodes/*")), "a node directory was made"
    nothing_left(stix_home, "hello")
    assert stix("status").stdout.strip() == "No clusters."


def nothing_left(home: Path, cluster: str, project: Path | None = None) -> None:
    """A refused (or failed) `up` of a new cluster: no record, stack, stack file, keys, directories or pack config."""
    assert ClusterIndex(StixHome(home).index_db).get(cluster) is None
    assert not (home / "keys" / cluster).exists(), "the cluster key was left"
    assert not (home / "clusters" / cluster).exists(), "the cluster's directory was left"
    assert not (home / "policy" / cluster).exists(), "the packs' config was left"
    assert not list((home / "state").glob(f".pulumi/stacks/*/{cluster}.json")), "the stack was left"
    if project is not None:
        assert not list(project.rglob(f"Pulumi.{cluster}.yaml")), "the stack file was left"


def test_failover_checks_the_next_candidate_before_making_it(stix, stix_home, tmp_path, engine):
    """Every zone of region local refuses capacity; the next candidate (local-west-a) is outside
    policy.allowed_regions: refused before it is made (exit 4), and the new cluster leaves nothing."""
    import json

    from stix.components.local import sshd

    stix_home.mkdir(parents=True, exist_ok=True)
    (stix_home / "config.yaml").write_text("policy:\n  allowed_regions: [local]\n")
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"refuse": ["local-a", "local-b", "local-c"]}))
    task = tmp_path / "fo.yaml"
    task.write_text(TASK.format(name="fo"))

    result = stix("up", str(task), "-y", STIX_LOCAL_FAULTS=str(faults))
    assert result.returncode == 4, result.stdout + result.stderr
    assert "cluster fo is placed in local-west; allowed regions: local" in result.stderr, result.stderr
    assert not sshd.processes_under(stix_home), "a node started"
    nothing_left(stix_home, "fo")


def test_a_bad_policy_packs_entry_creates_nothing(stix, stix_home, tmp_path, engine):
    stix_home.mkdir(parents=True, exist_ok=True)
    (stix_home / "config.yaml").write_text(f"policy:\n  packs: [{tmp_path / 'no-such-pack'}]\n")
    task = tmp_path / "bad.yaml"
    task.write_text(TASK.format(name="bad"))

    result = stix("up", str(task), "-y")
    assert result.returncode != 0 and "is not a policy pack" in result.stderr, result.stdout + result.stderr
    nothing_left(stix_home, "bad")


BROKEN_PACK_MAIN = 'raise RuntimeError("this pack is broken on purpose")\n'


def test_a_project_pack_that_fails_to_load_is_an_error_not_a_pass(stix, stix_home, tmp_path, engine):
    created = stix("init", "infra")
    assert created.returncode == 0, created.stderr
    project = tmp_path / "infra"
    pack = project / "policies" / "broken"
    pack.mkdir(parents=True)
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\nname: broken\nversion: 0.0.1\n")
    (pack / "__main__.py").write_text(BROKEN_PACK_MAIN)
    (project / "t.yaml").write_text(TASK.format(name="broken"))

    for verb in (("preview", "t.yaml"), ("up", "t.yaml", "-y")):
        result = stix(*verb, cwd=project)
        assert result.returncode == 1, result.stdout + result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("stix: error:")]
        assert lines and "a policy pack could not run (the project's policies/broken)" in lines[0], result.stderr
        assert "Traceback" not in result.stderr
    from stix.components.local import sshd

    assert not sshd.processes_under(stix_home) and not list(stix_home.glob("clusters/*/nodes/*"))
    nothing_left(stix_home, "broken", project)


@pytest.mark.parametrize("own_process", [False, True], ids=["served in stix's process", "STIX_POLICY_PROCESS=1"])
def test_the_builtin_pack_runs_in_stix_process_and_still_blocks(stix_home, engine, tmp_path, monkeypatch, own_process):
    """No analyzer Python is started for the built-in pack (stix.engine.analyzers serves it), and a mandatory
    violation still blocks the plan; with STIX_POLICY_PROCESS=1 the pack runs as its own process again (which is
    what shows this test would see one)."""
    import sys

    from stix import flows
    from stix.engine import workspace
    from stix.session import Session

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PULUMI_PYTHON_CMD", sys.executable)  # open_stack sets it in os.environ: restored after
    monkeypatch.delenv("STIX_PROVIDER_PROCESS", raising=False)
    if own_process:
        monkeypatch.setenv("STIX_POLICY_PROCESS", "1")
    else:
        monkeypatch.delenv("STIX_POLICY_PROCESS", raising=False)
    started = tmp_path / "pythons-started"
    recorder = tmp_path / "python"  # every Python the engine starts (the shims run PULUMI_PYTHON_CMD) says so
    recorder.write_text(f'#!/bin/sh\necho "$PWD $*" >> {started}\nexec {sys.executable} "$@"\n')
    recorder.chmod(0o755)
    real_engine_env = workspace.engine_env
    monkeypatch.setattr(workspace, "engine_env", lambda home, eng: {**real_engine_env(home, eng),
                                                                  "PULUMI_PYTHON_CMD": str(recorder)})
    drop_cluster_tag(monkeypatch)
    report = flows.preview(Session(StixHome(stix_home)), flows.LaunchRequest(local_task("served"), "served"))
    found = sorted(v.resource for v in report.violations if v.policy == "resources-tagged-with-cluster" and v.mandatory)
    assert found == ["vms-node-0", "vms-node-1"], [v.line() for v in report.violations]
    assert report.changes.blocked
    runs = started.read_text().splitlines() if started.exists() else []
    if own_process:
        assert runs and all(line.endswith("-u .") for line in runs), runs
    else:
        assert runs == [], f"an analyzer (or provider) Python was started: {runs}"
