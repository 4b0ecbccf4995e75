"""One documented exception tree: every error class is defined in stix/errors.py."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import stix.errors

REPO = Path(__file__).resolve().parents[2]


def test_every_error_class_lives_in_stix_errors():
    error_names = {name for name, value in vars(stix.errors).items()
                   if isinstance(value, type) and issubclass(value, BaseException)}
    error_names |= {name for name, value in vars(builtins).items()
                    if isinstance(value, type) and issubclass(value, BaseException)}
    elsewhere = []
    for path in [*REPO.glob("stix/**/*.py"), *REPO.glob("components/**/*.py")]:
        if path.name == "errors.py" and path.parent.name == "stix":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {getattr(base, "id", getattr(base, "attr", "")) for base in node.bases}
                if bases & error_names:
                    elsewhere.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.name}")
    assert not elsewhere, f"define errors in stix/errors.py: {elsewhere}"


def test_the_tree_in_the_docstring_names_every_error():
    documented = stix.errors.__doc__ or ""
    defined = [name for name, value in vars(stix.errors).items()
               if isinstance(value, type) and issubclass(value, stix.errors.StixError)]
    assert defined and all(name in documented for name in defined)
