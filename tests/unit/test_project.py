"""stix projects: what makes a directory one, and how stix finds it."""

import pytest
import yaml

from stix.errors import UsageError
from stix.project import PROJECT_NAME, PULUMI_YAML, RUNTIME, find_project, init_project, load_project
from tests.conftest import REPO


def test_init_writes_a_pulumi_project_with_stack_config_in_stacks(tmp_path):
    project, created = init_project(tmp_path / "infra")
    assert created and project.root == (tmp_path / "infra").resolve()
    settings = yaml.safe_load((tmp_path / "infra" / "Pulumi.yaml").read_text())
    assert settings["name"] == PROJECT_NAME and settings["runtime"] == {"name": RUNTIME}
    assert settings["stackConfigDir"] == "stacks" and project.stacks_dir.is_dir()
    assert init_project(tmp_path / "infra") == (project, False)


def test_projects_are_found_from_subdirectories_and_list_their_pinned_clusters(tmp_path):
    project, _ = init_project(tmp_path)
    (project.stacks_dir / "Pulumi.train.yaml").write_text("config: {}\n")
    (project.stacks_dir / "Pulumi.serve.yaml").write_text("config: {}\n")
    (project.stacks_dir / "README.md").write_text("x")
    nested = tmp_path / "jobs" / "nightly"
    nested.mkdir(parents=True)
    assert find_project(nested) == project
    assert project.pinned_clusters() == ["serve", "train"]
    assert project.stack_file("train") == project.stacks_dir / "Pulumi.train.yaml"


def test_another_runtimes_project_is_not_a_stix_project_and_is_never_overwritten(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: web\nruntime: nodejs\n")
    assert find_project(tmp_path) is None
    with pytest.raises(UsageError, match="another runtime; stix will not overwrite it"):
        init_project(tmp_path)
    assert (tmp_path / "Pulumi.yaml").read_text() == "name: web\nruntime: nodejs\n"


def test_a_stix_project_under_another_name_is_refused_naming_the_field(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: mine\nruntime: stix\n")
    with pytest.raises(UsageError, match=r"Pulumi.yaml: name: must be 'stix'"):
        load_project(tmp_path)


def test_broken_pulumi_yaml_names_file_line_and_column(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: stix\nruntime: [stix\n")
    with pytest.raises(UsageError, match=r"Pulumi.yaml:3:1: not valid YAML"):
        find_project(tmp_path)


def test_the_repository_itself_is_a_stix_project():
    assert (REPO / "Pulumi.yaml").read_text() == PULUMI_YAML
    assert load_project(REPO).stacks_dir == REPO / "stacks"
