"""stix.cli.coercion: the commands read their options without pydantic, and take and refuse exactly what typer's
own (pydantic) coercion takes and refuses, with its messages."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.models import OptionInfo

from stix.cli.coercion import _NO, plain_converter


def typer_coerced(annotation, value):
    """What typer's pydantic adapter makes of a value: ('ok', result) or ('error', message)."""
    from pydantic import ValidationError
    from typer._adapters import build_adapter

    try:
        return "ok", build_adapter(annotation, OptionInfo()).validate_python(value)
    except ValidationError as exc:
        return "error", exc.errors()[0]["msg"]


SPELLINGS = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"\A[ +-]?[0-9_]{0,22}(\.[0-9]{0,20})?([eE][+-]?[0-9]{1,3})?\Z"),
    st.sampled_from(["0", "-0", "007", "1_000", " 5", "5 ", "1e3", "inf", "nan", "-", ".5", "5.", "1.0", "\udcff"]),
)


@settings(max_examples=400, deadline=None)
@given(annotation=st.sampled_from([str, int, float, list[str], list[int], list[float]]), value=SPELLINGS)
def test_a_value_taken_without_pydantic_is_what_typer_would_make_of_it(annotation, value):
    convert = plain_converter(annotation, OptionInfo())
    assert convert is not None
    value = [value, value] if annotation in (list[str], list[int], list[float]) else value
    mine = convert(value)
    if mine is _NO:
        return  # left to typer's adapter
    kind, theirs = typer_coerced(annotation, value)
    assert kind == "ok" and mine == theirs and type(mine) is type(theirs), (value, mine, theirs)
    if isinstance(mine, list):
        assert [type(item) for item in mine] == [type(item) for item in theirs]


def test_bounded_parsed_and_other_types_stay_with_typer():
    from pathlib import Path

    assert plain_converter(int, OptionInfo(min=1)) is None
    assert plain_converter(str, OptionInfo(parser=str.upper)) is None
    assert plain_converter(Path, OptionInfo()) is None
    assert plain_converter(tuple[int, int], OptionInfo()) is None


def run_cli(tmp_path, *argv: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """The command line in a fresh interpreter (an empty home), and which of the watched modules it loaded."""
    watched = ["pydantic", "typer._adapters"]
    probe = (f"import sys\nsys.argv = ['stix', *{list(argv)!r}]\nfrom stix.cli import main\n"
             f"try:\n    main()\nexcept SystemExit:\n    pass\n"
             f"print('LOADED', *[m for m in {watched!r} if m in sys.modules], file=sys.stderr)")
    env = {"STIX_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path, stdin=subprocess.DEVNULL)
    loaded = done.stderr.strip().splitlines()[-1].split()
    assert loaded[0] == "LOADED", done.stderr
    return done, set(loaded[1:])


@pytest.mark.parametrize("argv", [
    ("queue", "dev", "-s", "--format", "json"),
    ("logs", "dev", "3", "--no-follow", "--tail", "100"),
    ("cancel", "dev", "3", "4"),
    ("status", "--format", "json"),
])
def test_the_job_commands_read_their_options_without_pydantic(tmp_path, argv):
    done, loaded = run_cli(tmp_path, *argv)
    assert "not found" in done.stderr or argv[0] == "status", done.stderr  # got past the options to the cluster
    assert loaded == set(), loaded


def test_exec_of_a_command_builds_no_typer_adapter(tmp_path):
    done, loaded = run_cli(tmp_path, "exec", "-d", "dev", "--cpus", "0.5", "--num-nodes", "1", "echo hi")
    assert "not found" in done.stderr, done.stderr
    assert "typer._adapters" not in loaded


def test_a_bad_value_still_gets_typers_message(tmp_path):
    done, loaded = run_cli(tmp_path, "logs", "dev", "3", "--tail", "ten")
    assert "Invalid value for '--tail': Input should be a valid integer" in done.stderr, done.stderr
    assert "typer._adapters" in loaded  # the refusal is typer's own
    done, _ = run_cli(tmp_path, "logs", "dev", "+3", "--no-follow")  # a spelling only typer's adapter takes
    assert "not found" in done.stderr and "Invalid value" not in done.stderr, done.stderr
