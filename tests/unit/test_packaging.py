"""Every Python package in the tree ships in the wheel (the package list is explicit)."""

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_package_is_listed():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    dirs = config["package-dir"]
    found = set()
    for package, folder in dirs.items():
        for init in (REPO / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / folder)
            name = ".".join([package, *relative.parts]) if relative.parts else package
            if not any(part.startswith((".", "__")) for part in relative.parts):
                found.add(name)
    assert found - listed == set(), f"packages missing from pyproject: {sorted(found - listed)}"
