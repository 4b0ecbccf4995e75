import pytest

from stix.envs import parse_assignments, read_env_file, substitute
from stix.errors import TaskError, UsageError
from stix.loader import EnvOverrides, load_task


def test_assignments_and_local_environment():
    assert parse_assignments(["A=1", "B=x=y", "C"], "--env", {"C": "from-env"}) == {"A": "1", "B": "x=y", "C": "from-env"}
    with pytest.raises(UsageError, match="--env MISSING: not set in the local environment"):
        parse_assignments(["MISSING"], "--env", {})
    with pytest.raises(UsageError, match="not a valid variable name"):
        parse_assignments(["1X=2"], "--env", {})


def test_env_file(tmp_path):
    path = tmp_path / "app.env"
    path.write_text("# comment\nexport A=1\nB='two words'\nC=\"q\"\nD=plain # trailing\n\n")
    assert read_env_file(str(path)) == {"A": "1", "B": "two words", "C": "q", "D": "plain"}
    path.write_text("NOT AN ASSIGNMENT\n")
    with pytest.raises(UsageError, match=r"app.env:1: expected KEY=VALUE"):
        read_env_file(str(path))


def test_substitute_only_known_names():
    env = {"A": "x", "B": "y"}
    assert substitute({"/d/${A}": ["$B-2", "$UNSET", "${A}${B}"]}, env) == {"/d/x": ["y-2", "$UNSET", "xy"]}


def test_precedence_task_then_overrides(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("envs:\n  A: task\n  B: task\n  REQ: null\nfile_mounts:\n  /m/${A}: /src/${REQ}\nrun: x\n")
    with pytest.raises(TaskError, match=r":4:3: envs.REQ: required but not set; pass --env REQ=VALUE"):
        load_task(path, require_env=True)
    task = load_task(path, EnvOverrides(envs={"A": "cli", "REQ": "given"}), require_env=True)
    assert task.env_values() == {"A": "cli", "B": "task", "REQ": "given"}
    assert task.file_mounts == {"/m/cli": "/src/given"}


def test_secrets_override_and_are_not_substituted(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("secrets:\n  TOKEN: null\nfile_mounts:\n  /m: /src/${TOKEN}\nrun: x\n")
    task = load_task(path, EnvOverrides(secrets={"TOKEN": "s3cr3t"}), require_env=True)
    assert task.secret_values() == {"TOKEN": "s3cr3t"}
    assert task.file_mounts == {"/m": "/src/${TOKEN}"}


def test_env_files_then_env_flags_in_order(tmp_path, monkeypatch):
    """Several --env-file: later files win; --env wins over every file; a bare --env K reads the environment."""
    from stix.cli.common import _overrides

    first, second = tmp_path / "a.env", tmp_path / "b.env"
    first.write_text("A=first\nB=first\nC=first\n")
    second.write_text("B=second\nC=second\n")
    monkeypatch.setenv("FROM_SHELL", "shell")
    overrides = _overrides(["C=flag", "FROM_SHELL"], [str(first), str(second)], ["TOKEN=t"])
    assert dict(overrides.envs) == {"A": "first", "B": "second", "C": "flag", "FROM_SHELL": "shell"}
    assert dict(overrides.secrets) == {"TOKEN": "t"}
    path = tmp_path / "t.yaml"
    path.write_text("envs:\n  A: task\n  D: task\nrun: x\n")
    assert load_task(path, overrides).env_values() == {"A": "first", "D": "task", "B": "second", "C": "flag",
                                                       "FROM_SHELL": "shell"}


@pytest.mark.parametrize("item", ["FOO\n=1", "FOO\n", "A B=1", "=1", "FOO\r=1"])
def test_names_with_line_breaks_are_refused(item):
    with pytest.raises(UsageError, match="not a valid variable name"):
        parse_assignments([item], "--secret", {"FOO\n": "x", "FOO": "x"})



def test_errors_name_the_key_never_the_value(tmp_path):
    with pytest.raises(UsageError) as info:
        parse_assignments(["BAD-NAME=s3cr3t"], "--secret", {})
    assert str(info.value) == "--secret: 'BAD-NAME' is not a valid variable name"
    path = tmp_path / "app.env"
    for line, expected in (("s3cr3t-pasted-alone", "app.env:2: expected KEY=VALUE"),
                           ("BAD NAME=s3cr3t", "app.env:2: expected KEY=VALUE; 'BAD NAME' is not a valid variable name")):
        path.write_text(f"A=1\n{line}\n")
        with pytest.raises(UsageError) as info:
            read_env_file(str(path))
        assert str(info.value).endswith(expected) and "s3cr3t" not in str(info.value)
