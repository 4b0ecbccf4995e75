"""`stix exec CLUSTER 'command'`: Task.of_command is Task(run=..., envs=..., secrets=...) exactly (the same task, the
same fields set, the same refusals), without building the task's validator when nothing needs validating."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from stix.models.task import Task

NAMES = st.one_of(st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,8}\Z"), st.text(max_size=6))
TEXT = st.one_of(st.text(max_size=20), st.sampled_from(["", "echo hi", "\udcff", "a\x00b", "héllo"]))


@settings(max_examples=300, deadline=None)
@given(run=TEXT, envs=st.dictionaries(NAMES, TEXT, max_size=3), secrets=st.dictionaries(NAMES, TEXT, max_size=3))
def test_of_command_is_the_validated_task(run, envs, secrets):
    try:
        validated = Task(run=run, envs=dict(envs), secrets=dict(secrets))
    except ValidationError as exc:
        with pytest.raises(ValidationError) as raised:
            Task.of_command(run, envs, secrets)
        assert raised.value.errors(include_context=False) == exc.errors(include_context=False)
        return
    made = Task.of_command(run, envs, secrets)
    assert made.model_dump() == validated.model_dump()
    assert made == validated
    assert made.model_fields_set == validated.model_fields_set
    assert made.resources.model_fields_set == validated.resources.model_fields_set
    assert made.to_config() == validated.to_config()
    assert made.required_unset() == validated.required_unset() and made.env_values() == validated.env_values()


def test_a_plain_command_builds_no_task_validator():
    code = ("from stix.models.task import Task\nfrom stix.models.resources import Resources\n"
            "task = Task.of_command('echo hi', {'A': '1'}, {'TOKEN': 's'})\n"
            "print(task.run, task.num_nodes, task.resources.cpus, Task.__pydantic_complete__, "
            "Resources.__pydantic_complete__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["echo", "hi", "1", "None", "False", "False"]


def test_an_assignment_is_still_validated():
    task = Task.of_command("echo hi", {}, {})
    with pytest.raises(ValidationError):
        task.num_nodes = 0
