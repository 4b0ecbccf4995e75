"""What the CLI's start imports: `stix exec`, `queue`, `logs` and `cancel` pay for no module they do not use (the
task models, paramiko, rich, the config), each checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(code: str, *modules: str) -> dict[str, bool]:
    probe = f"{code}\nimport sys\nprint(' '.join(str(m in sys.modules) for m in {list(modules)!r}))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return dict(zip(modules, (word == "True" for word in done.stdout.split()[-len(modules):])))


def test_the_cli_starts_without_the_task_models_paramiko_or_rich():
    loaded = loaded_after("import stix.cli", "stix.models.task", "stix.overrides", "paramiko", "rich", "stix.config")
    assert not any(loaded.values()), loaded


def test_the_home_and_the_job_client_need_no_config_models_or_paramiko():
    loaded = loaded_after("from stix.home import StixHome; StixHome.from_env(); import stix.cluster_jobs",
                          "stix.config", "pydantic", "paramiko", "stix.ssh.runner")
    assert not any(loaded.values()), loaded


def test_a_note_printed_to_a_pipe_needs_no_rich_console():
    code = ("from stix.cli.common import _session\nfrom stix.events import Note\n"
            "_session().note('Job 7 submitted to dev; a :smile: stays as it is.')")
    loaded = loaded_after(code, "rich")
    assert loaded == {"rich": False}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout == "Job 7 submitted to dev; a :smile: stays as it is.\n"


def test_the_models_build_their_validators_on_first_use():
    """defer_build: importing the models builds no validator; a Task builds its own, not the job group's or the
    config's (each is built when something validates one)."""
    code = ("from stix.models.task import Task\nfrom stix.models.job_group import JobGroup\n"
            "from stix.models.config import StixConfig\nbefore = Task.__pydantic_complete__\nTask(run='true')\n"
            "print(before, Task.__pydantic_complete__, JobGroup.__pydantic_complete__, StixConfig.__pydantic_complete__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "False", "False"]


def test_queue_logs_and_status_read_their_options_without_pydantic():
    """typer's coercion goes through pydantic; stix.cli.coercion keeps these commands from importing it."""
    code = ("import sys\nsys.argv = ['stix', 'status', '--format', 'json']\nfrom stix.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n")
    loaded = loaded_after(code, "pydantic", "typer._adapters")
    assert not any(loaded.values()), loaded
