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


def test_daemon_survives_a_poke_the_moment_it_starts(tmp_path):
    """submit pokes (SIGUSR1) as soon as daemon.pid exists; an early poke must not kill the daemon."""
    import json
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "STIX_AGENT_HOME": str(tmp_path)}
    (tmp_path / "cluster.json").write_text(json.dumps({
        "cloud": "local", "cpus": 1, "gpus": 0, "key": "", "known_hosts": "",
        "nodes": [{"rank": 0, "name": "n", "ip": "127.0.0.1", "port": 22, "user": "u", "home": str(tmp_path)}]}))
    daemon = subprocess.Popen([sys.executable, str(AGENT_SOURCE), "daemon"], env=env)
    try:
        pid_file = tmp_path / "daemon.pid"
        deadline = time.monotonic() + 10
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.001)
        for _ in range(50):
            os.kill(daemon.pid, signal.SIGUSR1)
        time.sleep(0.3)
        assert daemon.poll() is None, "the daemon died of an early SIGUSR1"
    finally:
        daemon.kill()
        daemon.wait()
