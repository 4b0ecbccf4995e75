"""Which packs check a plan and the config each gets (stix.policy.packs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stix.config import load_config
from stix.errors import ConfigError, PolicyError, ProvisionError
from stix.policy.packs import BUILTIN_PACK, PlanFacts, builtin_config, pack_failure, policy_run


@pytest.fixture
def home(config_dirs):
    return config_dirs[0]


def _pack(directory: Path, config: dict | None = None) -> Path:
    directory.mkdir(parents=True)
    (directory / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (directory / "__main__.py").write_text("")
    if config is not None:
        (directory / "policy-config.json").write_text(json.dumps(config))
    return directory


def test_the_builtin_pack_always_runs_and_is_a_real_pack():
    assert (BUILTIN_PACK / "PulumiPolicy.yaml").read_text().startswith("runtime: python")
    assert (BUILTIN_PACK / "__main__.py").is_file()


def test_builtin_config_carries_the_limits_and_levels_config_sets(home):
    (home / "config.yaml").write_text(
        "allowed_clouds: [aws, local]\npolicy:\n  allowed_regions: [us-east-1]\n  max_gpus_per_cluster: 8\n"
        "  max_hourly_cost_per_cluster: 40\n  max_hourly_cost_per_project: 100\n"
        "  enforcement: {max-gpus-per-cluster: advisory, allowed-regions: disabled}\n")
    body = builtin_config(load_config(), PlanFacts(other_clusters_hourly_cost=12.5))
    assert body == {
        "allowed-clouds": {"clouds": ["aws", "local"]},
        "allowed-regions": {"regions": ["us-east-1"], "enforcementLevel": "disabled"},
        "max-gpus-per-cluster": {"limit": 8, "enforcementLevel": "advisory"},
        "max-hourly-cost-per-cluster": {"limit": 40.0},
        "max-hourly-cost-per-project": {"limit": 100.0, "otherClustersHourlyCost": 12.5},
    }


def test_no_config_gives_the_builtin_pack_no_limits(home):
    assert builtin_config(load_config()) == {}


def test_project_packs_and_config_packs_run_beside_the_builtin_one_each_with_its_config(home, tmp_path):
    project = tmp_path / "project"
    own = _pack(project / "policies" / "cost", {"budget": {"limit": 3}})
    _pack(project / "policies" / "tags")
    (project / "policies" / "notes").mkdir()  # no PulumiPolicy.yaml: not a pack
    shared = _pack(tmp_path / "shared" / "org-pack")
    (home / "config.yaml").write_text("policy:\n  packs: [../shared/org-pack]\n")
    run = policy_run(load_config(), project, tmp_path / "scratch")
    assert run.packs == (BUILTIN_PACK, own.resolve(), (project / "policies" / "tags").resolve(), shared.resolve())
    assert len(run.configs) == len(run.packs)
    assert json.loads(run.configs[1].read_text()) == {"budget": {"limit": 3}}
    assert json.loads(run.configs[2].read_text()) == {}
    assert run.names[str(shared.resolve())] == f"policy.packs in {home / 'config.yaml'}"
    assert run.engine_args()["policy_packs"][0] == str(BUILTIN_PACK)
    assert all(oct(c.stat().st_mode & 0o777) == "0o600" for c in run.configs)


def test_a_config_pack_that_is_not_a_pack_is_a_one_line_error_naming_the_file(home, tmp_path):
    (home / "config.yaml").write_text("policy:\n  packs: [nowhere]\n")
    with pytest.raises(ConfigError, match=rf"^{home / 'config.yaml'}: policy.packs: .*nowhere is not a policy pack"):
        policy_run(load_config(), None, tmp_path / "scratch")


def test_a_pack_config_that_is_not_an_object_is_an_error(home, tmp_path):
    project = tmp_path / "project"
    pack = _pack(project / "policies" / "bad")
    (pack / "policy-config.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="policy-config.json: a pack's config is a JSON object"):
        policy_run(load_config(), project, tmp_path / "scratch")


def test_an_engine_failure_naming_a_pack_is_a_policy_error_and_others_stay_as_they_were(home, tmp_path):
    project = tmp_path / "project"
    pack = _pack(project / "policies" / "broken")
    run = policy_run(load_config(), project, tmp_path / "scratch")
    failed = pack_failure(ProvisionError(f"engine failed while previewing: policy pack {pack.resolve()} failed to "
                                         f"start: exit status 1"), run)
    assert isinstance(failed, PolicyError) and "the project's policies/broken" in failed.message
    other = ProvisionError("engine failed while previewing: quota exceeded")
    assert pack_failure(other, run) is other
    assert pack_failure(other, None) is other


def test_config_files_are_named_after_their_content_so_runs_side_by_side_keep_their_own(home, tmp_path):
    (home / "config.yaml").write_text("policy:\n  max_hourly_cost_per_project: 10\n")
    first = policy_run(load_config(), None, tmp_path / "scratch", PlanFacts(1.0))
    second = policy_run(load_config(), None, tmp_path / "scratch", PlanFacts(2.0))  # another cluster came up
    assert first.configs[0] != second.configs[0] and first.configs[0].parent == second.configs[0].parent
    assert json.loads(first.configs[0].read_text()) == builtin_config(load_config(), PlanFacts(1.0))
    assert policy_run(load_config(), None, tmp_path / "scratch", PlanFacts(1.0)).configs == first.configs


def test_destroy_sweeps_the_clusters_pack_config(home, tmp_path):
    from stix.home import StixHome
    from stix.lifecycle import has_leftovers, sweep_local

    stix_home = StixHome(tmp_path / "stix-home")
    stix_home.ensure()
    policy_run(load_config(), None, stix_home.policy_dir("train"))
    assert stix_home.policy_dir("train").is_dir() and not has_leftovers(stix_home, "train")
    sweep_local(stix_home, "train")
    assert not stix_home.policy_dir("train").exists()
