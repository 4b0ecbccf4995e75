"""Layered config files (stix.config): the layers and their order, sources, located errors, the keys' effects."""

from __future__ import annotations


import pytest

from stix.config import IGNORED_KEYS, load_config
from stix.errors import ConfigError, NoFeasiblePlacement, TaskError, UsageError
from stix.models.config import StixConfig


@pytest.fixture
def files(config_dirs):
    """A stix home with its user file, and a working directory outside any project, for the project file."""
    home, work = config_dirs
    return home / "config.yaml", work / ".stix.yaml"


def test_layers_merge_key_by_key_later_wins_and_lists_are_replaced(files, tmp_path):
    user, project = files
    user.write_text("allowed_clouds: [aws, local]\naws:\n  labels: {team: ml, env: dev}\n  vpc_name: vpc-user\n"
                    "autostop: 30m\n")
    project.write_text("allowed_clouds: [gcp]\naws:\n  labels: {env: prod}\n")
    task = tmp_path / "task.yaml"
    config = load_config({"aws": {"ssh_user": "ubuntu"}}, None, task)
    assert config.values.allowed_clouds == ["gcp"]  # the project's list replaces the user's whole
    assert config.section("aws").labels == {"team": "ml", "env": "prod"}
    assert config.section("aws").vpc_name == "vpc-user" and config.section("aws").ssh_user == "ubuntu"
    assert config.values.autostop is not None and config.values.autostop.idle_minutes == 30
    assert config.sources == {
        "allowed_clouds": str(project), "aws.labels.team": str(user), "aws.labels.env": str(project),
        "aws.vpc_name": str(user), "aws.ssh_user": f"task config ({task})", "autostop": str(user)}
    assert config.source("aws") == str(user)


def test_no_files_is_the_empty_config(files):
    config = load_config()
    assert config.values == StixConfig() and config.sources == {}
    assert config.section("gcp") is None and config.section("kubernetes") is None


def test_the_project_file_is_found_at_the_project_root_when_the_directory_has_none(files, tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / "sub").mkdir(parents=True)
    (root / ".stix.yaml").write_text("kubernetes:\n  namespace: team-a\n")
    monkeypatch.chdir(root / "sub")
    assert load_config(None, root).section("kubernetes").namespace == "team-a"
    (root / "sub" / ".stix.yaml").write_text("kubernetes:\n  namespace: here\n")
    assert load_config(None, root).section("kubernetes").namespace == "here"  # the current directory's first


def test_environment_variables_name_the_files(files, tmp_path, monkeypatch):
    user, project = files
    user.write_text("gcp:\n  vpc_name: default-home\n")
    other_user, other_project = tmp_path / "u.yaml", tmp_path / "p.yaml"
    other_user.write_text("gcp:\n  vpc_name: from-env\n")
    other_project.write_text("gcp:\n  ssh_user: env-project\n")
    monkeypatch.setenv("STIX_CONFIG", str(other_user))
    monkeypatch.setenv("STIX_PROJECT_CONFIG", str(other_project))
    config = load_config()
    assert (config.section("gcp").vpc_name, config.section("gcp").ssh_user) == ("from-env", "env-project")
    monkeypatch.setenv("STIX_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match=r"STIX_CONFIG=.*missing.yaml: no such config file"):
        load_config()


@pytest.mark.parametrize("body, expected", [
    ("aws:\n  lables:\n    team: ml\n", ":2:3: aws.lables: unknown field; did you mean 'labels'?"),
    ("aws:\n  labels: [a]\n", ":2:11: aws.labels: Input should be a valid dictionary"),
    ("autostop: 5x\n", ":1:11: autostop: duration '5x' must be minutes"),
    ("allowed_clouds: [aws, mars]\n", ":1:17: allowed_clouds: unknown cloud 'mars'"),
    ("jobs:\n  controller:\n    resources:\n      cpus: lots\n", ":4:13: jobs.controller.resources.cpus: cpus 'lots'"),
    ("backend: ftp://x\n", ":1:10: backend: backend 'ftp://x' must be a URL starting with one of file://"),
    ("catalog:\n  dri: x\n", ":2:3: catalog.dri: unknown field; did you mean 'dir'?"),
    ("colour: blue\n", ":1:1: colour: unknown field"),
    ("hooks: []\n", ":1:1: hooks: unknown field"),  # SkyPilot's task-only key
    ("aws: {labels: {a: b}\n", ":2:1: YAML syntax error"),
    ("- aws\n", ":1:1: a config file is a mapping of keys"),
    ("aws: {}\n---\ngcp: {}\n", ":3:1: a config file is one YAML document"),
    ("aws: {}\naws: {}\n", ":2:1: aws: duplicate key"),
])
def test_each_error_is_one_line_naming_file_line_and_key(files, body, expected):
    user, _ = files
    user.write_text(body)
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert caught.value.message.startswith(f"{user}{expected}"), caught.value.message
    assert "\n" not in caught.value.message and caught.value.exit_code == 2


def test_an_error_in_the_project_file_names_the_project_file(files):
    user, project = files
    user.write_text("aws: {}\n")
    project.write_text("gcp:\n  ssh_user: 3\n")
    with pytest.raises(ConfigError, match=rf"^{project}:2:13: gcp.ssh_user: Input should be a valid string"):
        load_config()


def test_an_error_only_the_layering_causes_names_the_files_that_cause_it(files):
    user, project = files
    user.write_text("aws:\n  labels: {team: ml}\n")
    project.write_text("aws:\n  instance_tags: {team: ml}\n")
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert caught.value.message == f"{user}, {project}: aws: Value error, set labels or instance_tags (its older " \
                                   f"name), not both"


def test_only_the_user_file_sets_the_backend(files):
    _, project = files
    project.write_text("backend: s3://bucket\n")
    with pytest.raises(ConfigError, match=rf"^{project}:1:1: backend: set it in the user config file"):
        load_config()


@pytest.mark.parametrize("key, value, hint", [
    ("allowed_clouds", "[aws]", "user or project config file"),
    ("backend", "s3://b", "STIX_BACKEND"),
    ("catalog", "{dir: x}", "STIX_CATALOG_DIR"),
    ("jobs", "{controller: {resources: {cpus: 2}}}", "the controller serves every job"),
    ("autostop", "10", "resources.autostop"),
    ("admin_policy", "mine.Lenient", "cannot choose the policy that checks it"),
    ("policy", "{max_gpus_per_cluster: 64}", "cannot choose its own guardrails"),
    ("org_config", "org.yaml", "STIX_ORG_CONFIG"),
])
def test_a_task_config_cannot_set_machine_wide_keys(files, tmp_path, key, value, hint):
    from stix.loader import load_task

    task = tmp_path / "task.yaml"
    task.write_text(f"run: echo hi\nconfig:\n  aws: {{}}\n  {key}: {value}\n")
    with pytest.raises(TaskError) as caught:
        load_task(task)
    assert caught.value.message.startswith(f"{task}:4:3: config.{key}: cannot be set in a task; ")
    assert hint in caught.value.message
    with pytest.raises(ConfigError, match=f"task config: config.{key}: cannot be set in a task"):
        load_config({key: "x"})


def test_a_task_config_error_is_told_at_its_line_in_the_task_file(files, tmp_path):
    from stix.loader import load_task

    task = tmp_path / "task.yaml"
    task.write_text("run: echo hi\nconfig:\n  kubernetes:\n    namespce: a\n")
    with pytest.raises(TaskError, match=rf"^{task}:4:5: config.kubernetes.namespce: unknown field; did you mean "
                                          r"'namespace'\?"):
        load_task(task)
    task.write_text("run: echo hi\nconfig:\n  kubernetes:\n    pod_config: {spec: {}}\n  docker: {run_options: x}\n")
    assert load_task(task).config == {"kubernetes": {"pod_config": {"spec": {}}}, "docker": {"run_options": "x"}}


def test_skypilot_keys_stix_does_not_act_on_are_accepted_and_marked(files):
    user, _ = files
    user.write_text("api_server:\n  endpoint: http://x\ndocker:\n  run_options: [--privileged]\nlambda: {}\n"
                    "jobs:\n  bucket: s3://b\n  controller:\n    resources: {cpus: 2}\n    consolidation_mode: true\n")
    config = load_config()
    shown = {key: skipped for key, _, _, skipped in config.leaves()}
    assert shown == {"api_server.endpoint": True, "docker.run_options": True, "lambda": True, "jobs.bucket": True,
                     "jobs.controller.resources.cpus": False, "jobs.controller.consolidation_mode": True}
    assert config.values.jobs is not None and config.values.jobs.controller is not None


def test_no_ignored_key_is_one_stix_acts_on():
    from pydantic import BaseModel

    for path in IGNORED_KEYS:
        model: object = StixConfig
        for key in path[:-1]:
            model = getattr(model, "model_fields")[key].annotation
            model = next(a for a in getattr(model, "__args__", (model,)) if isinstance(a, type))
        assert isinstance(model, type) and issubclass(model, BaseModel)
        assert path[-1] not in model.model_fields, path


# --- the keys' effects ---------------------------------------------------------------------------


def test_backend_environment_then_user_file_then_the_home(files, monkeypatch):
    from stix.home import StixHome

    user, project = files
    home = StixHome.from_env()
    assert home.backend_url == f"file://{home.state_dir}"
    user.write_text("backend: file://./state-elsewhere\n")
    assert home.backend_url == f"file://{user.parent / 'state-elsewhere'}"  # relative to the file
    user.write_text("backend: s3://team-state\n")
    assert home.backend_url == "s3://team-state"
    monkeypatch.setenv("STIX_BACKEND", "gs://from-env")
    assert home.backend_url == "gs://from-env"


def test_catalog_dir_environment_then_config(files, tmp_path, monkeypatch):
    from stix.catalog.load import user_catalog_dir

    user, project = files
    assert user_catalog_dir() is None
    (user.parent / "cats").mkdir()
    user.write_text("catalog:\n  dir: ./cats\n")
    assert user_catalog_dir() == user.parent / "cats"
    (tmp_path / "srv-catalogs").mkdir()
    project.write_text(f"catalog:\n  dir: {tmp_path / 'srv-catalogs'}\n")
    assert user_catalog_dir() == tmp_path / "srv-catalogs"
    monkeypatch.setenv("STIX_CATALOG_DIR", str(tmp_path / "env"))
    assert user_catalog_dir() == tmp_path / "env"


@pytest.mark.parametrize("make, body, message", [
    (None, "catalog:\n  dir: ./no-such-cats\n", ":2:8: catalog.dir: {dir}: no such directory"),
    ("file", "catalog:\n  dir: ./cats.csv\n", ":2:8: catalog.dir: {dir}: is not a directory"),
])
def test_a_catalog_dir_that_is_not_a_directory_is_a_located_error(files, make, body, message):
    user, project = files
    where = user.parent / body.split("./")[1].strip()
    if make == "file":
        where.write_text("InstanceType\n")
    user.write_text(body)
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert caught.value.message == f"{user}" + message.format(dir=where) and caught.value.exit_code == 2
    project.write_text(body)  # the project file is named when the error is there
    user.write_text("")
    with pytest.raises(ConfigError, match=rf"^{project}:2:8: catalog.dir: "):
        load_config()


def test_load_catalog_reads_the_config_for_its_directory_once(files, monkeypatch):
    import stix.catalog.load as load

    calls = []
    real = load.user_catalog_dir
    monkeypatch.setattr(load, "user_catalog_dir", lambda: calls.append(1) or real())
    catalog = load.load_catalog(["aws", "gcp", "azure"])
    assert len(calls) == 1 and catalog.offers


def _task(body: str):
    from stix.loader import load_pipeline_text

    return load_pipeline_text(body).tasks[0]


def test_allowed_clouds_limits_placement_and_refuses_a_task_naming_another(files):
    from stix.placement import considered_clouds, place

    user, _ = files
    user.write_text("allowed_clouds: [local]\n")
    assert place(_task("run: x\n")).chosen.cloud == "local"
    assert {c.cloud for c in place(_task("run: x\n"), clouds=["all"]).candidates} == {"local"}
    with pytest.raises(UsageError) as caught:
        place(_task("resources:\n  infra: aws\nrun: x\n"))
    assert caught.value.message == (f"resources: cloud aws: the config forbids it: allowed_clouds is local ({user})")
    with pytest.raises(UsageError, match=r"resources.any_of\[1\]: cloud gcp: the config forbids it"):
        place(_task("resources:\n  any_of:\n    - infra: local\n    - infra: gcp\nrun: x\n"))
    with pytest.raises(UsageError, match=f"--clouds aws: the config forbids it: allowed_clouds is local \\({user}\\)"):
        considered_clouds(["aws"], load_config())
    with pytest.raises(NoFeasiblePlacement) as caught:
        place(_task("resources:\n  accelerators: H100:8\nrun: x\n"))
    assert caught.value.message == (f"no placement for H100:8 on any cloud in the catalogs; allowed_clouds is local "
                                    f"({user})")


def test_allowed_clouds_disables_the_others_in_check(files):
    from stix.credentials import check_clouds, enabled_clouds

    user, _ = files
    user.write_text("allowed_clouds: [aws]\n")
    config = load_config()
    env = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
    assert enabled_clouds(env, config) == ["aws"]
    local = next(c for c in check_clouds(env, config) if c.cloud == "local")
    assert not local.enabled and local.detail == f"not in allowed_clouds ({user})"
    assert "local" in enabled_clouds(env)  # without config: as before


def test_the_config_autostop_applies_only_when_the_task_and_flags_are_silent(files):
    from stix.flows import task_autostop

    user, _ = files
    user.write_text("autostop:\n  idle_minutes: 45\n  down: true\n")
    default = load_config().values.autostop
    assert default is not None and (default.idle_minutes, default.down) == (45, True)
    silent = _task("run: x\n")
    assert task_autostop(silent, None, False, default) == default
    assert task_autostop(silent, 10, False, default) is None  # -i wins (and arms its own timer)
    assert task_autostop(silent, None, True, default) is None  # --down alone: SkyPilot's autodown
    own = _task("resources:\n  autostop: 5\nrun: x\n")
    assert task_autostop(own, None, False, default) == own.resources.autostop


def test_target_of_loads_the_config_once_with_the_task_layer(files, tmp_path):
    from stix.stages import LaunchRequest, target_of

    user, _ = files
    user.write_text("autostop: 20\naws:\n  labels: {team: ml}\n")
    task = tmp_path / "t.yaml"
    target = target_of(LaunchRequest(_task("config:\n  aws:\n    labels: {run: r1}\nrun: x\n"), "c1", task))
    assert target.config.section("aws").labels == {"team": "ml", "run": "r1"}
    assert target.config.sources["aws.labels.run"] == f"task config ({task})"
    assert target.config.values.autostop is not None and target.config.values.autostop.idle_minutes == 20


def test_a_task_config_is_no_longer_refused_by_up(files):
    from stix.compile import unsupported_fields

    assert unsupported_fields(_task("config:\n  aws:\n    labels: {a: b}\nrun: x\n"), "local") == []
    # SkyPilot's task-only lifecycle hooks validate, but up refuses them rather than silently skip them
    hooked = _task("config:\n  hooks: [{run: echo bye, events: [stop]}]\nrun: x\n")
    assert unsupported_fields(hooked, "local") == ["config.hooks (lifecycle hooks)"]


def test_jobs_controller_resources_size_the_controller_cluster(files, monkeypatch):
    from stix.managed import controller_cluster

    user, _ = files
    assert controller_cluster.configured_resources() is None
    assert controller_cluster.controller_task(None).resources.to_config() == {"cpus": "1+", "infra": "local",
                                                                              "autostop": False}
    user.write_text("jobs:\n  controller:\n    resources:\n      cpus: 4+\n      memory: 8+\n")
    configured = controller_cluster.configured_resources()
    task = controller_cluster.controller_task(None, configured)
    assert task.resources.to_config() == {"cpus": "4+", "memory": "8+", "infra": "local", "autostop": False}
    user.write_text("jobs:\n  controller:\n    resources:\n      infra: aws\n      cpus: 2\n")
    configured = controller_cluster.configured_resources()
    assert controller_cluster.controller_task(None, configured).resources.to_config()["infra"] == "aws"
    # STIX_JOBS_CONTROLLER_INFRA wins over the config's place
    assert controller_cluster.controller_task("local", configured).resources.to_config() == {
        "infra": "local", "cpus": 2, "autostop": False}


def test_the_config_autostop_does_not_arm_on_the_controller_cluster(files):
    """The controller is a detached process, not a job: the node agent would count the cluster idle under running
    managed jobs, so the config's default autostop must not reach it (its own jobs.controller.resources may)."""
    from stix.flows import task_autostop
    from stix.managed import controller_cluster

    user, _ = files
    user.write_text("autostop: 10\n")
    default = load_config().values.autostop
    setting = task_autostop(controller_cluster.controller_task(None), None, False, default)
    assert setting is not None and not setting.enabled
    user.write_text("autostop: 10\njobs:\n  controller:\n    resources:\n      autostop: 30m\n")
    task = controller_cluster.controller_task(None, controller_cluster.configured_resources())
    setting = task_autostop(task, None, False, load_config().values.autostop)
    assert setting is not None and setting.enabled and setting.idle_minutes == 30


def test_allowed_clouds_without_the_controllers_cloud_names_the_controller(files, monkeypatch):
    import stix.flows
    from stix.home import StixHome
    from stix.managed import controller_cluster
    from stix.session import Session

    user, _ = files
    user.write_text("allowed_clouds: [aws, gcp]\n")
    monkeypatch.delenv(controller_cluster.INFRA_ENV, raising=False)
    monkeypatch.setattr(stix.flows, "up", lambda *a, **k: pytest.fail("the controller cluster was launched"))
    with pytest.raises(UsageError) as caught:
        controller_cluster.ensure(Session(StixHome.from_env()))
    assert caught.value.message == (
        f"the managed-jobs controller cluster stix-jobs-controller goes on local, which the config forbids: "
        f"allowed_clouds is aws, gcp ({user}); add local to allowed_clouds, move the controller with "
        f"jobs.controller.resources.infra or STIX_JOBS_CONTROLLER_INFRA, or run it on this machine with "
        f"STIX_JOBS_CONTROLLER=local")


def test_an_organisation_file_is_read_last_so_its_values_bind(files, tmp_path):
    user, project = files
    org = tmp_path / "org" / "org.yaml"
    org.parent.mkdir()
    org.write_text("allowed_clouds: [aws]\nadmin_policy: org_rules.Guard\n"
                   "policy:\n  max_hourly_cost_per_cluster: 10\n  packs: [packs/cost]\n")
    user.write_text(f"org_config: {org}\nallowed_clouds: [gcp]\nadmin_policy: mine.Lenient\n"
                    "policy: {max_hourly_cost_per_cluster: 1000, max_gpus_per_cluster: 8}\n")
    project.write_text("allowed_clouds: [azure]\n")
    config = load_config({"aws": {"ssh_user": "ubuntu"}})
    assert config.values.allowed_clouds == ["aws"]
    assert config.values.admin_policy == "org_rules.Guard" and config.source("admin_policy") == str(org)
    assert config.values.policy.max_hourly_cost_per_cluster == 10
    assert config.values.policy.max_gpus_per_cluster is None  # the org's policy: replaces the user's whole
    assert config.values.policy.packs == [str(org.parent / "packs" / "cost")]  # relative to the org file


def test_the_org_config_environment_wins_over_the_file_that_names_one(files, tmp_path, monkeypatch):
    user, _ = files
    named, chosen = tmp_path / "named.yaml", tmp_path / "chosen.yaml"
    named.write_text("admin_policy: named.Policy\n")
    chosen.write_text("admin_policy: chosen.Policy\n")
    user.write_text(f"org_config: {named}\n")
    monkeypatch.setenv("STIX_ORG_CONFIG", str(chosen))
    assert load_config().values.admin_policy == "chosen.Policy"


@pytest.mark.parametrize("org_body, expected", [
    (None, r"config.yaml:1:1: org_config: .*missing.yaml: no such config file$"),
    ("org_config: other.yaml\n", r"missing.yaml:1:1: org_config: an organisation's file cannot name another$"),
    ("backend: s3://b\n", r"missing.yaml:1:1: backend: set it in the user config file"),
    ("policy: {max_gpus_per_cluster: -1}\n", r"missing.yaml:1:\d+: policy.max_gpus_per_cluster: "),
    ("admin_policy: not a class\n", r"missing.yaml:1:\d+: admin_policy: .*must name a class as module.Class"),
])
def test_organisation_file_errors_are_one_line_naming_the_file(files, tmp_path, org_body, expected):
    user, _ = files
    org = tmp_path / "missing.yaml"
    if org_body is not None:
        org.write_text(org_body)
    user.write_text(f"org_config: {org}\n")
    with pytest.raises(ConfigError, match=expected) as caught:
        load_config()
    assert "\n" not in caught.value.message


def test_the_organisations_policy_cannot_be_loosened_or_disabled_below_it(files, tmp_path):
    user, project = files
    org = tmp_path / "org.yaml"
    org.write_text("policy:\n  max_hourly_cost_per_cluster: 10\n  enforcement: {allowed-regions: advisory}\n")
    user.write_text(f"org_config: {org}\npolicy:\n  max_hourly_cost_per_cluster: 1000\n"
                    "  enforcement: {max-hourly-cost-per-cluster: disabled}\n  packs: [mine]\n")
    project.write_text("policy: {enforcement: {allowed-regions: disabled}, max_gpus_per_cluster: 64}\n")
    config = load_config()
    policy = config.values.policy
    assert policy.max_hourly_cost_per_cluster == 10 and policy.enforcement == {"allowed-regions": "advisory"}
    assert policy.packs is None and policy.max_gpus_per_cluster is None
    assert {config.sources[key] for key in config.sources if key.startswith("policy.")} == {str(org)}
    assert load_config().values.policy == policy  # the cached files are left as they were read
    org.write_text("allowed_clouds: [local]\n")  # an org without a policy: the user's and the project's apply
    policy = load_config().values.policy
    assert policy.max_hourly_cost_per_cluster == 1000 and policy.max_gpus_per_cluster == 64
    assert policy.enforcement == {"max-hourly-cost-per-cluster": "disabled", "allowed-regions": "disabled"}
