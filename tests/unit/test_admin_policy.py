"""Admin policies (stix.admin_policy): SkyPilot's interface, loaded from the config, run on each request before it
is planned; each kind of rewrite reaches the launch target, a rejection is exit 4, a broken policy one line."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest

from stix.admin_policy import AdminPolicy, MutatedUserRequest, UserRequest, UserRequestRejectedByPolicy
from stix.errors import PolicyError, PolicyViolations
from stix.models.task import Task
from stix.stages import LaunchRequest, target_of

_names = itertools.count()

HEADER = "from stix.admin_policy import AdminPolicy, MutatedUserRequest, RequestOptions, UserRequestRejectedByPolicy\n"


@pytest.fixture
def env(config_dirs):
    """A stix home whose config file names a policy module written beside it; cwd outside any project."""
    return config_dirs[0]


def policy_file(directory: Path, body: str, class_name: str = "Policy") -> str:
    """A module (a fresh name each time: modules stay imported) with the policy class; returns module.Class."""
    module = f"admin_policy_{next(_names)}"
    (directory / f"{module}.py").write_text(HEADER + textwrap.dedent(body))
    return f"{module}.{class_name}"


def mutating(directory: Path, lines: str) -> str:
    """A policy that runs `lines` with task and options bound, then returns the task and the config."""
    body = textwrap.indent(textwrap.dedent(lines).strip() + "\n", " " * 8)
    return policy_file(directory, "class Policy(AdminPolicy):\n    @classmethod\n"
                                  "    def validate_and_mutate(cls, user_request):\n"
                                  "        task, options = user_request.task, user_request.request_options\n"
                                  + body + "        return MutatedUserRequest(task, user_request.skypilot_config)\n")


def task(**resources) -> Task:
    return Task.model_validate({"name": "train", "resources": {"infra": "local", **resources}, "run": "echo hi"})


def target(home: Path, name: str, dryrun: bool = False, **request):
    (home / "config.yaml").write_text(f"admin_policy: {name}\n")
    return target_of(LaunchRequest(request.pop("task", None) or task(), **request), dryrun=dryrun)


def test_no_policy_leaves_the_request_as_it_is(env):
    request = LaunchRequest(task())
    found = target_of(request)
    assert found.request is request and found.admin_changes == ()


def test_a_policy_adds_labels(env):
    found = target(env, mutating(env, """
        task.resources.labels = {**(task.resources.labels or {}), "team": "ml", "cost-center": "42"}
        """), task=task(labels={"owner": "ana"}))
    assert found.task.resources.labels == {"owner": "ana", "team": "ml", "cost-center": "42"}
    assert found.admin_changes == ("resources.labels.team: None -> ml", "resources.labels.cost-center: None -> 42")


def test_a_policy_forces_spot_through_model_copy(env):
    found = target(env, mutating(env, """
        task = task.model_copy(update={"resources": task.resources.model_copy(update={"use_spot": True})})
        """), task=task(use_spot=False))
    assert found.task.resources.use_spot is True
    assert found.admin_changes == ("resources.use_spot: False -> True",)


def test_a_policy_sets_autostop_in_the_task_or_the_request_options(env):
    in_task = target(env, mutating(env, "task.resources.autostop = {'idle_minutes': 20, 'down': True}\n"))
    assert in_task.task.resources.autostop.idle_minutes == 20 and in_task.task.resources.autostop.down
    assert in_task.admin_changes == ("resources.autostop.idle_minutes: None -> 20", "resources.autostop.down: None -> True")
    in_options = target(env, mutating(env, """
        assert options.cluster_name == "c1" and options.idle_minutes_to_autostop == 60 and not options.dryrun
        options.idle_minutes_to_autostop = min(options.idle_minutes_to_autostop, 15)
        options.down = True
        """), cluster="c1", idle_minutes=60)
    assert (in_options.request.idle_minutes, in_options.request.down) == (15, True)
    assert in_options.admin_changes == ("idle_minutes_to_autostop: 60 -> 15", "down: False -> True")


def test_an_option_only_change_reaches_the_request_whatever_task_object_comes_back(env, monkeypatch):
    import stix.admin_policy as admin_policy

    monkeypatch.setattr(admin_policy, "_revalidated", lambda where, original, returned: original)  # an unchanged task
    found = target(env, mutating(env, "options.idle_minutes_to_autostop = 30\noptions.down = True\n"), task=task())
    assert found.admin_changes == ("idle_minutes_to_autostop: None -> 30", "down: False -> True")
    assert found.request.idle_minutes == 30 and found.request.down is True


def test_a_changed_secret_value_reaches_the_request_though_no_line_shows_it(env):
    secret = Task.model_validate({"name": "train", "resources": {"infra": "local"}, "run": "x",
                                  "secrets": {"TOKEN": "old"}})
    found = target(env, mutating(env, "task.secrets = {**task.secrets, 'TOKEN': 'new'}\n"), task=secret)
    assert found.admin_changes == () and found.task.secrets["TOKEN"] == "new"


def test_a_policy_pins_the_region_through_a_dict_round_trip(env):
    found = target(env, mutating(env, """
        data = task.to_config()
        data["resources"]["infra"] = "aws/us-east-1"
        task = type(task).model_validate(data)
        """))
    assert (found.task.resources.placement.cloud, found.task.resources.placement.region) == ("aws", "us-east-1")
    assert found.admin_changes == ("resources.infra: local -> aws/us-east-1",)


def test_a_renamed_task_keeps_its_cluster_and_a_preview_is_a_dryrun(env):
    found = target(env, mutating(env, """
        assert options.dryrun
        task.name = "other"
        """), dryrun=True, task=task())
    assert found.cluster == "train" and found.request.cluster == "train"
    (env / "config.yaml").write_text("")
    assert target_of(LaunchRequest(task()), dryrun=True).cluster == "train"


def test_a_policy_rewrites_the_config_and_the_change_is_shown_with_its_source(env):
    found = target(env, mutating(env, """
        user_request.skypilot_config.set_nested(("aws", "labels", "team"), "ml")
        """))
    assert found.config.section("aws").labels == {"team": "ml"}
    assert found.config.sources["admin_policy"] == str(env / "config.yaml")
    assert found.admin_changes == ("config.aws.labels.team: None -> ml",)


def test_secret_values_never_show_in_the_changes(env):
    found = target(env, mutating(env, "task.secrets = {'TOKEN': 'new-secret-value'}\n"),
                   task=Task.model_validate({"name": "train", "secrets": {"TOKEN": "old"}, "run": "true"}))
    assert found.task.secrets == {"TOKEN": "new-secret-value"}
    assert not any("secret-value" in line or "old" in line for line in found.admin_changes)


def test_a_rejection_is_one_mandatory_violation_naming_the_policy_and_the_cluster(env):
    name = policy_file(env, """
        class NoH100(AdminPolicy):
            @classmethod
            def validate_and_mutate(cls, user_request):
                raise UserRequestRejectedByPolicy("H100s need a reservation")
        """, "NoH100")
    with pytest.raises(PolicyViolations) as caught:
        target(env, name, cluster="big")
    assert caught.value.exit_code == 4
    (violation,) = caught.value.violations
    assert (violation.pack, violation.policy, violation.level, violation.resource, violation.type, violation.message) \
        == ("admin_policy", "NoH100", "mandatory", "big", "request", "H100s need a reservation")
    assert caught.value.detail_lines() == ("mandatory admin_policy/NoH100: request big: H100s need a reservation",)


BROKEN = {
    "no such module": ("no_such_policy_module.Guard", "no module named 'no_such_policy_module'"),
    "no such class": (lambda d: policy_file(d, "class Other(AdminPolicy): pass\n", "Missing"), "has no 'Missing'"),
    "not an AdminPolicy": (lambda d: policy_file(d, "class Policy:\n    pass\n"),
                           "Policy is not a subclass of stix.admin_policy.AdminPolicy"),
    "import fails": (lambda d: policy_file(d, "raise RuntimeError('bad\\nimport')\n"),
                     "failed: RuntimeError: bad\\nimport"),
    "the policy raises": (lambda d: mutating(d, "raise KeyError('gpu')\n"), "failed: KeyError: 'gpu'"),
    "not implemented": (lambda d: policy_file(d, "class Policy(AdminPolicy): pass\n"),
                        "failed: NotImplementedError: Your policy must implement validate_and_mutate"),
    "wrong return type": (lambda d: policy_file(d, """
        class Policy(AdminPolicy):
            @classmethod
            def validate_and_mutate(cls, user_request):
                return user_request.task
        """), "returned Task, expected a MutatedUserRequest"),
    "task no longer validates": (lambda d: mutating(d, "task.resources.autostop = 'soon'\n"),
                                 "the task it returned does not validate: resources.autostop"),
    "num_nodes invalid": (lambda d: mutating(d, "task = task.model_copy(update={'num_nodes': 0})\n"),
                          "the task it returned does not validate: num_nodes: Input should be greater than or equal"),
    "bad autostop option": (lambda d: mutating(d, "options.idle_minutes_to_autostop = '30m'\n"),
                            "request_options.idle_minutes_to_autostop '30m': expected a number of minutes"),
    "bad down option": (lambda d: mutating(d, "options.down = 'yes'\n"), "request_options.down 'yes'"),
    "a task config naming a policy": (lambda d: mutating(d, "task.config = {'admin_policy': 'x.Y'}\n"),
                                      "config.admin_policy: cannot be set in a task"),
    "config no longer validates": (lambda d: mutating(d, "user_request.skypilot_config['allowed_clouds'] = 7\n"),
                                   "the config it returned does not validate"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_policy_is_one_line_naming_the_file_and_the_class(env, case):
    named, expected = BROKEN[case]
    name = named if isinstance(named, str) else named(env)
    with pytest.raises(PolicyError) as caught:
        target(env, name)
    message = caught.value.message
    assert "\n" not in message and caught.value.exit_code == 1
    assert message.startswith(f"{env / 'config.yaml'}: admin_policy {name}")
    assert expected in message


def test_the_cli_reports_a_broken_policy_in_one_line_and_changes_nothing(stix, tmp_path):
    stix.home.mkdir(parents=True, exist_ok=True)
    (stix.home / "config.yaml").write_text("admin_policy: no_such_policy_module.Guard\n")
    path = tmp_path / "t.yaml"
    path.write_text("name: t\nresources:\n  infra: local\nrun: echo hi\n")
    for command in ("up", "preview"):
        result = stix(command, "-y", str(path)) if command == "up" else stix(command, str(path))
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and "Traceback" not in result.stderr and len(lines) == 1, result.stderr
        assert lines[0].startswith(f"stix: error: {stix.home / 'config.yaml'}: admin_policy no_such_policy_module.Guard")
    assert stix("status").stdout.strip() == "No clusters."


def test_the_organisation_files_policy_binds_over_the_users(env, tmp_path, monkeypatch):
    org_dir = tmp_path / "org"
    org_dir.mkdir()
    org = mutating(org_dir, "task.resources.use_spot = True\n")
    user = mutating(env, "task.resources.labels = {'by': 'user'}\n")
    (org_dir / "org.yaml").write_text(f"admin_policy: {org}\n")
    (env / "config.yaml").write_text(f"admin_policy: {user}\norg_config: {org_dir / 'org.yaml'}\n")
    found = target_of(LaunchRequest(task()))
    assert found.task.resources.use_spot is True and found.task.resources.labels is None
    assert found.admin_changes == ("resources.use_spot: None -> True",)
    (env / "config.yaml").write_text(f"admin_policy: {user}\n")  # the org file through the environment
    monkeypatch.setenv("STIX_ORG_CONFIG", str(org_dir / "org.yaml"))
    assert target_of(LaunchRequest(task())).task.resources.use_spot is True


def test_the_policy_module_is_found_in_the_project(env, tmp_path, monkeypatch):
    """The user's file names the policy; its module lives in the project (not beside the file) and is found there."""
    from stix.project import init_project

    root = tmp_path / "proj"
    root.mkdir()
    init_project(root)
    name = mutating(root, "task.resources.use_spot = True\n")
    (env / "config.yaml").write_text(f"admin_policy: {name}\n")
    with pytest.raises(PolicyError, match="no module named"):  # outside the project (an import is kept once made)
        target_of(LaunchRequest(task()))
    monkeypatch.chdir(root)
    assert target_of(LaunchRequest(task())).task.resources.use_spot is True


def test_the_interface_keeps_skypilots_names_and_shapes():
    class Keep(AdminPolicy):
        @classmethod
        def validate_and_mutate(cls, user_request: UserRequest) -> MutatedUserRequest:
            return MutatedUserRequest(user_request.task, user_request.skypilot_config)

    request = UserRequest(task(), {}, None)
    assert Keep.validate_and_mutate(request).task is request.task and request.at_client_side
    assert issubclass(UserRequestRejectedByPolicy, Exception)


# --- the other requests: exec, jobs launch, serve up ----------------------------------------------------------

REJECT_ALL = """
class Policy(AdminPolicy):
    @classmethod
    def validate_and_mutate(cls, user_request):
        raise UserRequestRejectedByPolicy("not today")
"""


def session(env: Path):
    from stix.home import StixHome
    from stix.session import Session

    notes: list[str] = []
    return Session(StixHome.from_env(), lambda event: notes.append(getattr(event, "text", "")), None), notes


def test_exec_runs_the_policy_before_the_cluster_is_reached(env):
    from stix.errors import ClusterNotFound
    from stix.flows import ExecRequest, exec_

    (env / "config.yaml").write_text(f"admin_policy: {policy_file(env, REJECT_ALL)}\n")
    with pytest.raises(PolicyViolations) as caught:
        exec_(session(env)[0], ExecRequest("c1", task()))
    assert caught.value.violations[0].resource == "c1"
    name = mutating(env, "assert options is None; task.update_envs({'TEAM': 'ml'})")  # exec arms no autostop
    (env / "config.yaml").write_text(f"admin_policy: {name}\n")
    run, notes = session(env)
    with pytest.raises(ClusterNotFound):  # the policy ran (and said what it changed) before the cluster was looked up
        exec_(run, ExecRequest("c1", task()))
    assert notes == ["Admin policy changed envs.TEAM: None -> ml"]


def test_what_exec_prints_of_the_policy_is_what_it_runs(env, monkeypatch):
    from stix import flows
    from stix.flows import ExecRequest, exec_

    class Stop(Exception):
        pass

    ran: list[Task] = []

    def runnable(task, cloud):
        ran.append(task)
        raise Stop

    monkeypatch.setattr(flows.cluster_jobs, "load_info", lambda home, cluster: type("Info", (), {"cloud": "local"}))
    monkeypatch.setattr(flows, "check_runnable", runnable)
    name = mutating(env, "task.update_envs({'TEAM': 'ml'})")
    (env / "config.yaml").write_text(f"admin_policy: {name}\n")
    run, notes = session(env)
    with pytest.raises(Stop):
        exec_(run, ExecRequest("c1", task()))
    assert notes == ["Admin policy changed envs.TEAM: None -> ml"] and ran[0].envs["TEAM"] == "ml"
    setting_autostop = policy_file(env, """
        class Policy(AdminPolicy):
            @classmethod
            def validate_and_mutate(cls, user_request):
                user_request.request_options.idle_minutes_to_autostop = 5  # there are none to change for exec
                return MutatedUserRequest(user_request.task, user_request.skypilot_config)
        """)
    (env / "config.yaml").write_text(f"admin_policy: {setting_autostop}\n")
    with pytest.raises(PolicyError, match="AttributeError"):  # refused in one line, never printed and dropped
        exec_(run, ExecRequest("c1", task()))


def test_jobs_launch_runs_the_policy_on_each_task_before_anything_is_recorded(env):
    from stix.managed.client import ManagedLaunch, launch, policed
    from stix.managed.store import JobStore

    run, notes = session(env)
    (env / "config.yaml").write_text(f"admin_policy: {mutating(env, 'assert options is None; task.resources.use_spot = True')}\n")
    changed = policed(run, ManagedLaunch((task(), task()), "job", "<sdk>"))
    assert [t.resources.use_spot for t in changed.tasks] == [True, True]
    assert notes == ["Admin policy changed resources.use_spot: None -> True"] * 2
    (env / "config.yaml").write_text(f"admin_policy: {policy_file(env, REJECT_ALL)}\n")
    with pytest.raises(PolicyViolations) as caught:
        launch(run, ManagedLaunch((task(),), "job", "<sdk>", yes=True))
    assert caught.value.violations[0].resource == "job"
    assert JobStore(run.home).all() == []


def test_jobs_launch_on_the_controller_cluster_runs_the_policy_before_anything_is_planned(env, monkeypatch):
    from stix.managed import client, remote
    from stix.managed.client import ManagedLaunch

    monkeypatch.setattr(remote, "controller", lambda *args, **kwargs: pytest.fail("the controller cluster was reached"))
    run, notes = session(env)
    (env / "config.yaml").write_text(f"admin_policy: {policy_file(env, REJECT_ALL)}\n")
    with pytest.raises(PolicyViolations) as caught:
        remote.launch(run, ManagedLaunch((task(),), "job", "<sdk>", yes=True))
    assert caught.value.violations[0].resource == "job"
    (env / "config.yaml").write_text(f"admin_policy: {mutating(env, 'task.resources.use_spot = True')}\n")
    planned: list[Task] = []

    class Stop(Exception):
        pass

    def precheck(home, request):
        planned.extend(request.tasks)
        raise Stop  # what is planned (and sent) is what the policy returned

    monkeypatch.setattr(client, "precheck", precheck)
    with pytest.raises(Stop):
        remote.launch(run, ManagedLaunch((task(),), "job", "<sdk>", yes=True))
    assert [t.resources.use_spot for t in planned] == [True]
    assert notes == ["Admin policy changed resources.use_spot: None -> True"]


def test_serve_up_runs_the_policy_before_anything_is_planned(env):
    from stix.serve.client import load_request, policed, up
    from stix.serve.store import ServiceStore

    served = Task.model_validate({"name": "svc", "resources": {"infra": "local", "ports": 8080},
                                  "service": {"readiness_probe": "/", "replicas": 1}, "run": "serve"})
    run, notes = session(env)
    (env / "config.yaml").write_text(
        f"admin_policy: {mutating(env, 'assert options is None; task.service.replicas = 2')}\n")
    changed = policed(run, load_request(served), "svc")
    assert changed.task.service.replicas == 2 and changed.spec.policy.min_replicas == 2
    assert notes == ["Admin policy changed service.replicas: 1 -> 2"]
    (env / "config.yaml").write_text(f"admin_policy: {policy_file(env, REJECT_ALL)}\n")
    with pytest.raises(PolicyViolations) as caught:
        up(run, served, "svc", yes=True)
    assert caught.value.violations[0].resource == "svc"
    assert ServiceStore(run.home).all() == []


def test_serve_update_runs_the_policy_before_the_new_version_is_checked_or_recorded(env, monkeypatch):
    from stix.serve import client
    from stix.serve.spec import service_spec
    from stix.serve.store import ServiceStore

    served = Task.model_validate({"name": "svc", "resources": {"infra": "local", "ports": 8080},
                                  "service": {"readiness_probe": "/", "replicas": 1}, "run": "serve"})
    run, notes = session(env)
    store = ServiceStore(run.home)
    store.add_service("svc", served, service_spec(served))
    monkeypatch.setattr(client, "_ensure_controller", lambda home, what: None)
    (env / "config.yaml").write_text(f"admin_policy: {policy_file(env, REJECT_ALL)}\n")
    with pytest.raises(PolicyViolations) as caught:
        client.update(run, "svc", served, yes=True)
    assert caught.value.violations[0].resource == "svc" and store.get("svc").version == 1
    (env / "config.yaml").write_text(
        f"admin_policy: {mutating(env, 'assert options is None; task.service.replicas = 2')}\n")
    assert client.update(run, "svc", served, yes=True) == 2
    assert store.version("svc", 2).spec.policy.min_replicas == 2
    assert notes[0] == "Admin policy changed service.replicas: 1 -> 2"


def test_the_readme_example_policy_works_as_it_says(env):
    from tests.conftest import REPO

    text = (REPO / "README.md").read_text()
    section = text[text.index("## Admin policies"):]
    start = section.index("```python\n") + len("```python\n")
    (env / "policies_lib.py").write_text(section[start:section.index("```\n", start)])
    (env / "config.yaml").write_text("admin_policy: policies_lib.Guard\n")
    found = target_of(LaunchRequest(task(), "c1"))
    assert found.task.resources.use_spot is True and found.task.resources.labels == {"team": "ml"}
    assert found.request.idle_minutes == 30
    big = Task.model_validate({"num_nodes": 9, "resources": {"infra": "local"}, "run": "x"})
    with pytest.raises(PolicyViolations, match="more than 8 nodes needs approval"):
        target_of(LaunchRequest(big, "c1"))


def test_a_task_config_the_policy_sets_is_layered_like_the_files(env):
    found = target(env, mutating(env, "task.config = {'aws': {'labels': {'team': 'ml'}}}\n"))
    assert found.config.section("aws").labels == {"team": "ml"}
    assert found.admin_changes == ("config.aws.labels.team: None -> ml",)


def test_what_the_policy_imports_while_it_runs_is_found_beside_it(env):
    (env / "policy_helpers_late.py").write_text("TEAM = 'late'\n")
    found = target(env, mutating(env, """
        import policy_helpers_late
        task.resources.labels = {"team": policy_helpers_late.TEAM}
        """))
    assert found.task.resources.labels == {"team": "late"}


def test_overlapping_threads_keep_their_own_sys_path_entries_and_leave_none_behind(tmp_path):
    """The controllers police requests in threads: one thread's restore must not drop another's directory."""
    import sys
    import threading

    from stix.admin_policy import _importable

    before = list(sys.path)
    first_in, first_out, second_in = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with _importable([str(tmp_path / "a")]):
            first_in.set()
            second_in.wait(0.5)  # with the lock the second waits outside until this one is done
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with _importable([str(tmp_path / "b")]):
            second_in.set()
            first_out.wait(5)
            seen["b"] = str(tmp_path / "b") in sys.path

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"b": True}
    assert sys.path == before
