"""The bad-input corpus: every file's first line says where the error is and what it says.

Each file starts with `# expect: LINE:COL: message`; the loader (with required envs
checked, as `stix up` does) must fail with exactly that location and message.
"""

from pathlib import Path

import pytest

from stix.errors import TaskError
from stix.loader import load_pipeline

CORPUS = Path(__file__).resolve().parents[1] / "bad_inputs"
FILES = sorted(CORPUS.glob("*.yaml"))


def expectation(path: Path) -> tuple[str, str]:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), path
    where, message = first[len("# expect: "):].split(": ", 1)
    return where, message


def test_corpus_is_large_enough():
    assert len(FILES) >= 60


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_bad_input(path: Path):
    where, message = expectation(path)
    with pytest.raises(TaskError) as info:
        load_pipeline(path, require_env=True)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{path}:{where}"), text
    assert message in text, text


def test_ten_megabyte_file_is_refused_quickly_with_a_clear_message(tmp_path):
    import time

    path = tmp_path / "huge.yaml"
    path.write_text("run: |\n" + ("  echo " + "x" * 70 + "\n") * 150_000 + "num_nodes: zero\n")
    assert path.stat().st_size > 10 * 1024 * 1024
    started = time.monotonic()
    with pytest.raises(TaskError, match=r"num_nodes: Input should be a valid integer"):
        load_pipeline(path)
    assert time.monotonic() - started < 30


def test_binary_garbage(tmp_path):
    path = tmp_path / "garbage.yaml"
    path.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(TaskError, match=r":1:1: task file is binary, not YAML text"):
        load_pipeline(path)


def test_alias_bomb_is_refused(tmp_path):
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("config:\n" + "\n".join("  " + line for line in lines) + "\n")
    with pytest.raises(TaskError, match="more than 500000 YAML nodes"):
        load_pipeline(path)
