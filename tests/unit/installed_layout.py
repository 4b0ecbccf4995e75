"""The package as it is installed, built from the source tree for tools that read files.

pyproject maps the repository's top-level components/ and catalogs/ under the stix package
([tool.setuptools.package-dir]), so code imports them as stix.components.<cloud>. Tools that walk
the files under a package's directory (mypy, grimp, hence lint-imports) miss them in the repository
itself, because repo/stix/ has no components/ folder. This builds that layout out of symlinks: a
real stix/ folder with a link for each entry of the repository's stix/, plus one link per mapped
subpackage. Nothing is copied, so reported paths resolve to the repository's files.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def build(root: Path) -> Path:
    """Lay out the installed stix package under `root`; return `root` (put it first on sys.path)."""
    package_dirs: dict[str, str] = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"]
    top = root / "stix"
    top.mkdir(parents=True)
    for entry in (REPO / package_dirs["stix"]).iterdir():
        if entry.name != "__pycache__":
            (top / entry.name).symlink_to(entry)
    for package, folder in package_dirs.items():
        if package == "stix":
            continue
        parent, _, name = package.rpartition(".")
        assert parent == "stix", f"only direct subpackages of stix are mapped, not {package}"
        (top / name).symlink_to(REPO / folder, target_is_directory=True)
    return root
