"""The node agent's pure parts, imported from the file stix uploads."""

import importlib.util
import time

from stix.agent import AGENT_SOURCE


def agent():
    spec = importlib.util.spec_from_file_location("node_agent", AGENT_SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tail_offset_finds_the_last_lines(tmp_path):
    tail_offset = agent().tail_offset
    path = tmp_path / "log"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(1000)))
    with open(path, "rb") as handle:
        handle.seek(tail_offset(path, 3))
        assert handle.read() == b"line 997\nline 998\nline 999\n"
    path.write_bytes(b"a\nb\nc")  # no final newline
    with open(path, "rb") as handle:
        handle.seek(tail_offset(path, 2))
        assert handle.read() == b"b\nc"
    assert tail_offset(path, 10) == 0
    assert tail_offset(path, 0) == path.stat().st_size


def test_tail_offset_reads_only_the_end_of_a_large_log(tmp_path):
    tail_offset = agent().tail_offset
    path = tmp_path / "big.log"
    line = b"x" * 99 + b"\n"
    with open(path, "wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # 200 MiB, sparse: reading it all would take seconds
        handle.seek(0, 2)
        handle.write(line * 100)
    started = time.perf_counter()
    offset = tail_offset(path, 50)
    assert time.perf_counter() - started < 0.05
    assert offset == path.stat().st_size - 50 * len(line)


def test_agent_uses_only_the_standard_library():
    import ast
    import sys

    tree = ast.parse(AGENT_SOURCE.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported - set(sys.stdlib_module_names)
