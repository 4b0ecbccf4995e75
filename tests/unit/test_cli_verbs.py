"""SkyPilot's verbs and flags through the real command line: launch/down as up/destroy, the resource flags,
several clusters at once. Bad input is one line on stderr, a non-zero exit, and nothing changed."""

from __future__ import annotations

import pytest

from stix import index as idx
from stix.home import StixHome
from tests.unit.test_cli import one_line_error


def record(stix_home, *names: str, status: str = idx.UP) -> None:
    index = idx.ClusterIndex(StixHome(stix_home).index_db)
    for name in names:
        index.upsert(name, "local", 1, status, None)


def names(stix_home) -> list[str]:
    return sorted(record.name for record in idx.ClusterIndex(StixHome(stix_home).index_db).all())


@pytest.mark.parametrize("command", ["launch", "up", "down", "destroy"])
def test_both_names_are_commands_with_examples(stix, command):
    result = stix(command, "--help")
    assert result.returncode == 0 and "Examples:" in result.stdout and f"stix {command.replace('up', 'launch').replace('destroy', 'down')} " in result.stdout


@pytest.mark.parametrize("flags, message", [
    (["--gpus", "A100:x"], "stix: error: --gpus 'A100:x': accelerator count for A100 must be a number, got 'x'"),
    (["--infra", "lcoal"], "stix: error: --infra 'lcoal': unknown cloud 'lcoal'; did you mean 'local'?"),
    (["--cpus", "many"], "stix: error: --cpus 'many': cpus 'many' is not a valid size"),
    (["--num-nodes", "0"], "stix: error: --num-nodes 0: must be at least 1"),
    (["--ports", "99999"], "stix: error: --ports '99999': port 99999 is outside 1-65535"),
    (["--disk-tier", "quick"], "stix: error: --disk-tier 'quick': unknown disk tier 'quick'"),
])
@pytest.mark.parametrize("entrypoint", [[], ["echo hi"], ["TASK"]])
def test_bad_resource_flags_on_launch(stix, stix_home, tmp_path, flags, message, entrypoint):
    path = tmp_path / "task.yaml"
    path.write_text("run: echo hi\n")
    args = [str(path) if arg == "TASK" else arg for arg in entrypoint]
    line = one_line_error(stix("launch", "-y", "-c", "dev", *flags, *args))
    assert line.startswith(message), line
    assert names(stix_home) == [] and not (stix_home / "clusters").exists()


def test_bad_resource_flags_on_up_preview_optimize(stix, tmp_path):
    path = tmp_path / "task.yaml"
    path.write_text("run: echo hi\n")
    for command in ("up", "preview", "optimize"):
        line = one_line_error(stix(command, str(path), "--memory", "lots"))
        assert line.startswith("stix: error: --memory 'lots': memory 'lots' is not a valid size"), (command, line)


def test_launch_with_a_bad_cluster_name(stix):
    assert "invalid cluster name 'Dev_1'" in one_line_error(stix("launch", "-y", "-c", "Dev_1", "echo hi"))


def test_exec_refuses_the_flags_that_change_the_cluster(stix, stix_home):
    record(stix_home, "dev")
    line = one_line_error(stix("exec", "dev", "--infra", "aws", "-t", "p3.2xlarge", "--use-spot", "echo hi"))
    assert line == ("stix: error: --infra, --use-spot, --instance-type change the cluster, which `stix launch` does; "
                    "stix exec takes only --gpus, --cpus, --memory and --num-nodes")
    assert one_line_error(stix("exec", "dev", "--gpus", "A100:x", "echo hi")).startswith("stix: error: --gpus 'A100:x'")


@pytest.mark.parametrize("command", ["down", "destroy", "stop", "start"])
def test_a_name_or_glob_that_matches_nothing_changes_nothing(stix, stix_home, engine, command):
    record(stix_home, "dev-a", "dev-b", "other")
    line = one_line_error(stix(command, "-y", "dev-*", "prod-*"))
    assert line == "stix: error: no cluster matches 'prod-*' (stix status lists clusters)"
    line = one_line_error(stix(command, "-y", "dev-a", "missing"))
    assert line == "stix: error: cluster 'missing' not found (stix status lists clusters)"
    assert names(stix_home) == ["dev-a", "dev-b", "other"]


@pytest.mark.parametrize("args, message", [
    ([], "stix: error: name a cluster, a glob such as 'dev-*', or pass -a/--all"),
    (["-a", "dev-a"], "stix: error: name clusters or pass -a/--all, not both"),
    (["Bad_Name"], "stix: error: invalid cluster name 'Bad_Name'"),
])
@pytest.mark.parametrize("command", ["down", "stop", "start", "autostop"])
def test_bad_cluster_selections(stix, stix_home, command, args, message):
    record(stix_home, "dev-a")
    extra = ["-i", "5"] if command == "autostop" else ["-y"]
    assert one_line_error(stix(command, *extra, *args)).startswith(message)
    assert names(stix_home) == ["dev-a"]


def test_several_clusters_without_a_terminal_need_yes_and_change_nothing(stix, stix_home):
    record(stix_home, "dev-a", "dev-b")
    line = one_line_error(stix("down", "dev-*"))
    assert "no terminal to ask; pass -y" in line
    assert names(stix_home) == ["dev-a", "dev-b"]


def test_all_with_no_clusters_says_so(stix):
    for command, said in (("down", "No clusters."), ("stop", "No clusters to stop."), ("start", "No clusters to start.")):
        result = stix(command, "-a", "-y")
        assert result.returncode == 0 and result.stdout.strip() == said, command


def test_a_failure_on_one_cluster_does_not_stop_the_others(stix, stix_home):
    record(stix_home, "dev-a", "dev-b")  # recorded, but never applied: no saved plan to stop
    result = stix("stop", "-y", "dev-*")
    line = one_line_error(result)
    assert line == ("stix: error: stop failed for 2 of 2 clusters: dev-a (cluster 'dev-a' has no saved plan; run "
                    "`stix up` for it first); dev-b (cluster 'dev-b' has no saved plan; run `stix up` for it first)")
    assert "dev-a: cluster 'dev-a' has no saved plan" in result.stdout and "dev-b: " in result.stdout


def test_exec_has_skypilots_detach_run(stix):
    assert "--detach-run" in stix("exec", "--help").stdout


def test_the_flags_reach_the_planner(stix, stix_home):
    line = one_line_error(stix("launch", "-y", "-c", "x", "--gpus", "A100:8", "--infra", "local", "nvidia-smi"))
    assert line.startswith("stix: error: no placement for A100:8 on local")
    assert names(stix_home) == []


@pytest.mark.parametrize("command, status, said", [("stop", idx.STOPPED, "No clusters to stop."),
                                                   ("start", idx.UP, "No clusters to start."),
                                                   ("autostop", idx.STOPPED, "No UP clusters.")])
def test_all_skips_clusters_already_so(stix, stix_home, command, status, said):
    record(stix_home, "dev-a", status=status)
    result = stix(command, "-a", *(["-i", "5"] if command == "autostop" else ["-y"]))
    assert result.returncode == 0 and result.stdout.strip() == said, result.stdout + result.stderr


@pytest.mark.parametrize("left", ["keys", "workspaces", "clusters"])
def test_down_removes_what_an_up_that_failed_before_apply_left(stix, stix_home, engine, left):
    """An `up` that failed after making the cluster's key (or workspace) and before apply leaves no record:
    `stix down NAME` still finds and removes it, as the managed-job controller's sweep does."""
    from stix.lifecycle import has_leftovers
    from stix.managed.attempt import JobRunner

    (stix_home / left / "dev").mkdir(parents=True)
    assert JobRunner(StixHome(stix_home), 1, print, None)._exists("dev")  # the controller sees it too
    result = stix("down", "-y", "dev")
    assert result.returncode == 0, result.stderr
    assert not (stix_home / left / "dev").exists() and not has_leftovers(StixHome(stix_home), "dev")
    assert one_line_error(stix("down", "-y", "dev")) == "stix: error: cluster 'dev' not found (stix status lists clusters)"


def test_destroy_of_an_unknown_cluster_leaves_nothing_behind(stix_home, engine):
    from stix import flows
    from stix.errors import ClusterNotFound
    from stix.lifecycle import has_leftovers

    session = flows.Session(StixHome(stix_home))
    for _ in range(2):  # the second is not fooled by what the first opened
        with pytest.raises(ClusterNotFound, match="cluster 'ghost' not found"):
            flows.destroy(session, "ghost", yes=True)
        assert not has_leftovers(session.home, "ghost")
