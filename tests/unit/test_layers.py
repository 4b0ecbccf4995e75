"""Layer rules are code: import-linter contracts (pyproject [tool.importlinter]), no import cycles,
and a node agent that runs on a bare Python.

The checks read the package as it is installed (stix.components, stix.catalogs), laid out by
tests/unit/installed_layout.py, and include function-level imports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit import installed_layout

REPO = installed_layout.REPO

# Run in the laid-out tree (first on sys.path), so grimp finds stix.components and stix.catalogs.
GRAPH_SCRIPT = """
import json, sys
import grimp
graph = grimp.build_graph("stix", include_external_packages=True, cache_dir=None)
edges = {}
for module in sorted(graph.modules):
    imported = sorted(graph.find_modules_directly_imported_by(module))
    edges[module] = {
        other: [f"{d['line_number']}: {d['line_contents']}" for d in graph.get_import_details(importer=module, imported=other)]
        for other in imported
    }
json.dump({"internal": sorted(m for m in graph.modules if not graph.is_module_squashed(m) and (m == "stix" or m.startswith("stix."))),
           "edges": edges}, sys.stdout)
"""


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    return installed_layout.build(tmp_path_factory.mktemp("installed"))


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "PYTHONPATH": str(cwd)}
    return subprocess.run(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def graph(layout) -> dict:
    result = _run([sys.executable, "-c", GRAPH_SCRIPT], layout, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "stix.components.aws" in data["internal"], "the graph must see components/ as stix.components"
    return data


def _lint_imports() -> str:
    found = Path(sys.executable).parent / "lint-imports"
    return str(found) if found.exists() else (shutil.which("lint-imports") or "lint-imports")


def test_import_contracts_are_kept(layout):
    result = _run([_lint_imports(), str(REPO / "pyproject.toml"), "--no-cache"], layout, timeout=120)
    assert result.returncode == 0, f"lint-imports failed:\n{result.stdout}\n{result.stderr}"
    assert "stix.components" not in result.stderr, result.stderr


def test_the_contracts_see_the_whole_package(graph):
    # A contract over a module the graph lacks would check nothing.
    for module in ("stix.models", "stix.agent", "stix.components", "stix.engine", "stix.cli", "stix.catalogs"):
        assert module in graph["internal"], module


def test_the_node_agent_imports_only_the_standard_library(graph):
    """The agent is uploaded to nodes and run by whatever python3 they have: nothing else exists there."""
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    bad = {}
    for module, imported in graph["edges"].items():
        if module != "stix.agent" and not module.startswith("stix.agent."):
            continue
        for other, lines in imported.items():
            internal = other == "stix" or other.startswith("stix.")
            if internal and not other.startswith("stix.agent."):
                bad[f"{module} -> {other}"] = lines
            elif not internal and other.split(".")[0] not in stdlib:
                bad[f"{module} -> {other}"] = lines
    assert not bad, "the node agent imports more than the standard library:\n" + json.dumps(bad, indent=2)


def _strongly_connected(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph is small but recursion limits are not worth the risk)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _one_cycle(component: list[str], edges: dict[str, list[str]]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first within the component)."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in edges.get(node, ()):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return component


def test_no_import_cycles(graph):
    internal = set(graph["internal"])
    edges = {m: [o for o in imported if o in internal] for m, imported in graph["edges"].items() if m in internal}
    cycles = [c for c in _strongly_connected(sorted(internal), edges)
              if len(c) > 1 or c[0] in edges.get(c[0], ())]
    report = []
    for component in cycles:
        cycle = _one_cycle(component, edges)
        report.append(f"cycle among {len(component)} modules: " + " -> ".join(cycle))
        for importer, imported in zip(cycle, cycle[1:]):
            for line in graph["edges"][importer][imported]:
                report.append(f"    {importer} -> {imported}  (line {line})")
    assert not cycles, "import cycles:\n" + "\n".join(report)


def test_cycle_finder_finds_a_cycle():
    edges = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": []}
    components = [c for c in _strongly_connected(["a", "b", "c", "d"], edges) if len(c) > 1]
    assert components == [["a", "b", "c"]]
    assert _one_cycle(components[0], edges) == ["a", "b", "c", "a"]
