from pathlib import Path

import pytest

from stix.errors import TaskError
from stix.loader import load_task


def write(tmp_path: Path, text: str | bytes, name: str = "task.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def error_of(path: Path) -> str:
    with pytest.raises(TaskError) as info:
        load_task(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_full_skeleton_task(tmp_path):
    task = load_task(write(tmp_path, """
name: train
num_nodes: 2
workdir: .
resources:
  infra: local
  cpus: 2+
envs:
  LR: 0.1
  DEBUG: true
  NAME: x
setup: pip install x
run: python train.py
"""))
    assert task.num_nodes == 2
    assert task.resources.cloud_name == "local"
    assert task.env_values() == {"LR": "0.1", "DEBUG": "true", "NAME": "x"}


def test_example_hello_is_valid():
    task = load_task(Path(__file__).resolve().parents[2] / "examples" / "hello.yaml")
    assert task.num_nodes == 2 and task.setup and task.run


def test_legacy_cloud_field(tmp_path):
    assert load_task(write(tmp_path, "resources:\n  cloud: local\nrun: x\n")).resources.cloud_name == "local"
    assert load_task(write(tmp_path, "resources:\n  infra: aws/us-east-1\n")).resources.cloud_name == "aws"


def test_missing_file(tmp_path):
    assert error_of(tmp_path / "nope.yaml") == f"{tmp_path / 'nope.yaml'}: no such task file"


def test_yaml_syntax_error_has_line_and_column(tmp_path):
    path = write(tmp_path, "name: x\nrun: [a, b\nsetup: y\n")
    assert error_of(path).startswith(f"{path}:3:")
    assert "YAML syntax error" in error_of(path)


def test_unknown_field_with_suggestion(tmp_path):
    path = write(tmp_path, "name: x\nresources:\n  clod: local\n")
    assert error_of(path) == f"{path}:3:3: resources.clod: unknown field; did you mean 'cloud'?"


def test_unknown_top_level_field(tmp_path):
    path = write(tmp_path, "nmae: x\n")
    assert error_of(path) == f"{path}:1:1: nmae: unknown field; did you mean 'name'?"


@pytest.mark.parametrize("text, where", [("0[:\n", "1:1: 0["), ("a[b]: 1\n", "1:1: a[b]"),
                                         ("resources:\n  x[1]: 2\n", "2:3: resources.x[1]")])
def test_unknown_keys_with_brackets_are_named_as_written(tmp_path, text, where):
    """Found by the fuzz test: a key with '[' looked like one of pydantic's union markers and was lost."""
    path = write(tmp_path, text)
    assert error_of(path) == f"{path}:{where}: unknown field"


def test_unknown_cloud_with_suggestion(tmp_path):
    path = write(tmp_path, "resources:\n  cloud: lcoal\n")
    assert error_of(path) == f"{path}:2:10: resources.cloud: unknown cloud 'lcoal'; did you mean 'local'?"


def test_unknown_infra(tmp_path):
    path = write(tmp_path, "resources:\n  infra: mars/olympus\n")
    assert error_of(path).startswith(f"{path}:2:10: resources.infra: unknown cloud 'mars'")


@pytest.mark.parametrize("value", ["0", "-3"])
def test_num_nodes_below_one(tmp_path, value):
    path = write(tmp_path, f"name: x\nnum_nodes: {value}\n")
    message = error_of(path)
    assert message.startswith(f"{path}:2:12: num_nodes: ")
    assert "greater than or equal to 1" in message


def test_num_nodes_wrong_type(tmp_path):
    path = write(tmp_path, "num_nodes: many\n")
    assert error_of(path).startswith(f"{path}:1:12: num_nodes: Input should be a valid integer")


def test_invalid_env_name(tmp_path):
    path = write(tmp_path, "envs:\n  1BAD: x\n")
    assert "invalid environment variable name '1BAD'" in error_of(path)


def test_not_a_mapping(tmp_path):
    path = write(tmp_path, "- a\n- b\n")
    assert error_of(path) == f"{path}:1:1: a task must be a mapping of fields, got a list"


def test_empty_file(tmp_path):
    assert "the task file is empty" in error_of(write(tmp_path, ""))


def test_binary_garbage(tmp_path):
    assert "binary, not YAML" in error_of(write(tmp_path, b"\xff\xfe\x00garbage\x9c"))
    assert "not UTF-8" in error_of(write(tmp_path, b"run: \xff\xfe garbage\n"))


def test_oversized_file(tmp_path):
    assert "the limit is" in error_of(write(tmp_path, "run: x\n" + "#" * (17 * 1024 * 1024)))


def test_directory_instead_of_file(tmp_path):
    assert "is a directory" in error_of(tmp_path)


def test_pipeline_refused_clearly(tmp_path):
    path = write(tmp_path, "run: a\n---\nrun: b\n")
    assert error_of(path) == f"{path}:1:1: a pipeline of 2 tasks runs as a managed job: stix jobs launch {path}"


def test_pipeline_records_where_each_task_starts(tmp_path):
    from stix.loader import load_pipeline

    path = write(tmp_path, "name: pipe\n---\nname: a\nrun: a\n---\n\nname: b\nrun: b\n")
    pipeline = load_pipeline(path)
    assert pipeline.name == "pipe" and [t.name for t in pipeline.tasks] == ["a", "b"]
    assert pipeline.lines == (3, 7)


def test_line_breaks_inside_keys_stay_on_one_line(tmp_path):
    path = write(tmp_path, 'file_mounts:\n  name: {"\\n": null}\n')
    message = error_of(path)
    assert "\\n" in message and "\n" not in message


@pytest.mark.parametrize("text, where", [
    # an unknown key, third in its mapping, on line 6
    ("name: deep\nenvs:\n  A: 1\nresources:\n  cpus: 2\n  memory: 8\n  acelerators: A100\nrun: x\n",
     ":7:3: resources.acelerators: unknown field; did you mean 'accelerators'?"),
    # a bad value under the second item of a list, last key of its mapping
    ("run: x\nresources:\n  any_of:\n    - cpus: 2\n    - cpus: 4\n      disk_size: -5\n",
     ":6:18: resources.any_of.1.disk_size:"),
    # a bad env name that is not the first key, after a multi-line value
    ("envs:\n  A: |\n    one\n    two\n  OK_TOO: 2\n  9BAD: 3\nrun: x\n", ":6:3: envs: invalid environment variable name '9BAD'"),
])
def test_located_errors_deep_in_a_file(tmp_path, text, where):
    assert where in error_of(write(tmp_path, text))


@pytest.mark.parametrize("value", ["2024-01-31", "[s3cr3t-1, s3cr3t-2]", "{inner: s3cr3t-1}"])
def test_a_wrongly_typed_secret_is_named_never_echoed(tmp_path, value):
    message = error_of(write(tmp_path, f"run: x\nsecrets:\n  OTHER: fine\n  TOKEN: {value}\n"))
    assert ":4:10: secrets.TOKEN:" in message
    for leaked in ("s3cr3t", "2024", "czNj"):
        assert leaked not in message


@pytest.mark.parametrize("value, text", [("12345678", 12345678), ("true", True), ("3.25", 3.25)])
def test_non_string_secrets_are_redacted(tmp_path, value, text):
    task = load_task(write(tmp_path, f"run: x\nsecrets:\n  TOKEN: {value}\n  LATER: null\n"))
    assert task.secrets["TOKEN"] == text
    shown = task.to_yaml() + repr(task) + str(task) + str(task.to_yaml_config())
    assert str(value) not in shown and "<redacted>" in shown
    assert task.secret_values()["TOKEN"] == str(value).lower() if value == "true" else str(value)


@pytest.mark.parametrize("destination, refused", [
    ("~/../x", True), ("../x", True), ("a/../../x", True), ("~root/.ssh/authorized_keys", True), ("~/..", True),
    ("~/a/../b", False), ("rel/dir", False), ("/abs/../x", False), ("~", False), ("~/data", False),
])
def test_file_mount_destinations_stay_in_the_home(tmp_path, destination, refused):
    path = write(tmp_path, f"run: x\nfile_mounts:\n  /first: ./a\n  '{destination}': ./b\n")
    if refused:
        assert f":4:3: file_mounts: file_mounts[{destination!r}]: destination leaves the node's home" in error_of(path)
    else:
        assert destination in load_task(path).file_mounts


def test_a_list_of_secrets_checks_each_name(tmp_path):
    """The list form is refused for a bad name as the mapping form is (the name is exported unquoted)."""
    from stix.models.task import Task

    assert "invalid environment variable name" in error_of(write(tmp_path, "run: x\nsecrets: ['A;touch /tmp/x']\n"))
    with pytest.raises(ValueError, match="invalid environment variable name"):
        Task(secrets=["A;touch /tmp/x"])
    with pytest.raises(ValueError, match="holds names only"):
        Task(secrets=["A", 1])
    assert Task(secrets=["HF_TOKEN"]).secrets == {"HF_TOKEN": None}


def test_secret_flags_keep_the_other_names_of_a_list(tmp_path):
    from stix.loader import EnvOverrides

    path = write(tmp_path, "run: x\nsecrets: [HF_TOKEN, WANDB_KEY]\n")
    task = load_task(path, EnvOverrides(secrets={"HF_TOKEN": "x"}))
    assert task.secrets == {"HF_TOKEN": "x", "WANDB_KEY": None}
    with pytest.raises(TaskError, match="secrets.WANDB_KEY: required but not set"):
        load_task(path, EnvOverrides(secrets={"HF_TOKEN": "x"}), require_env=True)
    bad = write(tmp_path, "run: x\nsecrets: 5\n", "bad.yaml")
    with pytest.raises(TaskError, match="secrets"):
        load_task(bad, EnvOverrides(secrets={"HF_TOKEN": "x"}))
