"""stix.cli.lazy: the command line's group converts one command to run it, and is otherwise the group typer makes
(the same commands in the same order, each with the same options and help; the same --help and suggestions)."""

from __future__ import annotations

import json
import subprocess
import sys

import typer.main

from stix import cli
from stix.cli.lazy import click_command


def test_the_lazy_group_has_typers_commands_in_order_with_the_same_options():
    eager, lazy = typer.main.get_command(cli.app), click_command(cli.app)
    assert list(lazy.commands) == list(eager.commands)
    assert lazy.commands.made() == []

    def shape(command):
        params = [(p.name, tuple(p.opts), tuple(p.secondary_opts), p.required, repr(p.default)) for p in command.params]
        subcommands = {name: shape(sub) for name, sub in getattr(command, "commands", {}).items()}
        return command.name, command.help, command.hidden, params, subcommands

    assert {name: shape(c) for name, c in lazy.commands.items()} == {name: shape(c) for name, c in eager.commands.items()}
    assert shape(lazy)[:4] == shape(eager)[:4]


def test_running_a_command_converts_that_one_only(config_dirs, capsys):
    lazy = click_command(cli.app)
    assert lazy.main(["status", "--format", "json"], prog_name="stix", standalone_mode=False) is None
    assert json.loads(capsys.readouterr().out) == []
    assert lazy.commands.made() == ["status"]
    assert lazy.main(["jobs", "queue", "--format", "json"], prog_name="stix", standalone_mode=False) is None
    assert lazy.commands.made() == ["status", "jobs"]


def run_main(argv: list[str], eager: bool = False) -> subprocess.CompletedProcess:
    """stix's main in a fresh interpreter; eager: with the group typer makes instead of the lazy one."""
    patch = "import typer.main, stix.cli.lazy\nstix.cli.lazy.click_command = typer.main.get_command\n" if eager else ""
    code = f"import sys\n{patch}sys.argv = ['stix', *{argv!r}]\nfrom stix.cli import main\nmain()"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "120", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}, stdin=subprocess.DEVNULL)


def test_help_and_a_mistyped_command_read_as_typers():
    for argv in (["--help"], ["jobs", "--help"], ["logs", "--help"], ["lgos"], ["jobs", "queu"], ["engine"]):
        mine, theirs = run_main(argv), run_main(argv, eager=True)
        assert (mine.returncode, mine.stdout, mine.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr), argv
    assert "Did you mean 'logs'?" in run_main(["lgos"]).stderr
    shown = run_main(["--help"])
    assert shown.returncode == 0 and "Commands" in shown.stdout and " logs " in shown.stdout, shown.stdout
