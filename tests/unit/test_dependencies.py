"""Every third-party package the code imports is declared in pyproject, and the lock pins what pyproject asks."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib

from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
LOCK = REPO / "requirements-test.lock"


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return normalized(re.match(r"[A-Za-z0-9._-]+", requirement).group(0))


def declared() -> dict[str, str]:
    requirements = [*PYPROJECT["dependencies"], *PYPROJECT["optional-dependencies"]["test"]]
    return {requirement_name(r): r for r in requirements}


def imported_modules() -> dict[str, str]:
    """Top-level module -> one file importing it, over stix/, components/, tests/ (function-level imports too)."""
    found: dict[str, str] = {}
    for root in ("stix", "components", "tests", "bench"):
        for path in sorted((REPO / root).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(REPO)))
    local = {"stix", "tests", "components", "catalogs", "__future__"}
    return {m: f for m, f in found.items() if m not in local and m not in sys.stdlib_module_names}


def test_every_imported_package_is_declared():
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for module, where in imported_modules().items():
        names = {normalized(d) for d in distributions.get(module, [])}
        assert names, f"{module} (imported by {where}) is not installed"
        if not names & declared().keys():
            missing[module] = (sorted(names), where)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_lock_pins_every_declared_package_and_each_exact_pin():
    pins = dict(re.findall(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", LOCK.read_text(), re.M))
    pins = {normalized(name): version for name, version in pins.items()}
    for name, requirement in declared().items():
        assert name in pins, f"{requirement} is not in {LOCK.name}: run scripts/lock.sh"
        exact = re.search(r"==\s*([^\s,;]+)", requirement)
        if exact:
            assert pins[name] == exact.group(1), f"{LOCK.name} pins {name}=={pins[name]}, pyproject {requirement}"
    assert all("--hash=sha256:" in block for block in re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text())
               if re.match(r"[A-Za-z0-9]", block)), "every pin carries its hashes"


def test_setup_reinstalls_when_the_lock_changes():
    setup = (REPO / "scripts" / "setup.sh").read_text()
    stamp_line = next(line for line in setup.splitlines() if line.startswith("want="))
    assert '"$lock"' in stamp_line and 'lock="requirements-test.lock"' in setup
