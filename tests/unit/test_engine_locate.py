import json
import os

import pytest

from stix.engine import PULUMI_VERSION
from stix.engine import locate
from stix.errors import EngineError
from tests.fake_programs import executable, isolated  # noqa: F401 (a fixture)


def fake_cli(path, version):
    return executable(path, f"echo v{version}\n")


def test_path_copy_at_pinned_version_wins(isolated):
    fake_cli(isolated / "path-bin" / "pulumi", PULUMI_VERSION)
    engine = locate.find_engine(provide=False)
    assert engine.source == "PATH"


def test_path_copy_at_other_version_is_ignored_and_cache_used(isolated):
    fake_cli(isolated / "path-bin" / "pulumi", "3.100.0")
    cached = fake_cli(locate.engine_dir() / "bin" / "pulumi", PULUMI_VERSION)
    (locate.engine_dir() / "stamp.json").write_text(json.dumps({"version": PULUMI_VERSION, "source": "cache (built from Go modules)"}))
    engine = locate.find_engine(provide=False)
    assert engine.path == cached and engine.source.startswith("cache")
    assert engine.root == locate.engine_dir()


def test_nothing_installed_without_provide_says_how(isolated):
    with pytest.raises(EngineError, match="stix engine install"):
        locate.find_engine(provide=False)


def test_missing_go_names_the_fix(isolated, monkeypatch):
    from stix.engine.build import build_from_go_modules
    from stix.errors import PrerequisiteMissing

    with pytest.raises(PrerequisiteMissing, match="golang-go"):
        build_from_go_modules(isolated / "b", isolated / "out" / "pulumi", log=lambda line: None)


def test_real_engine_is_cached_and_reports_pinned_version(engine):
    assert engine.version == PULUMI_VERSION
    assert locate.probe_version(engine.path) == PULUMI_VERSION
    assert os.access(engine.path, os.X_OK)
