"""The object store's build from Go modules: command lines and stamp logic, without building."""

import json

import pytest

from stix import gobuild
from stix.errors import PrerequisiteMissing
from stix.objectstore import build
from tests.fake_programs import executable, isolated  # noqa: F401 (a fixture)


def fake_weed(path, output="version 30GB 4.53 linux amd64", code=0):
    return executable(path, f"echo '{output}'\nexit {code}\n")


def test_cached_under_the_version_beside_the_engine(isolated):
    assert build.binary_path() == isolated / "cache" / "objectstore" / build.VERSION / "bin" / "weed"
    assert build.VERSION == "v0.0.0-20261109003541-7506e5f91cd6"


def test_build_steps_are_the_engines_pattern(tmp_path):
    steps = build.build_steps("/usr/bin/go", tmp_path)
    assert [step.label for step in steps] == ["fetching modules", "compiling"]
    assert steps[0].command == ("/usr/bin/go", "get", f"github.com/seaweedfs/seaweedfs/weed@{build.VERSION}")
    assert steps[1].command == ("/usr/bin/go", "build", "-trimpath", "-ldflags", "-s -w", "-o",
                                str(tmp_path / "bin" / "weed"), "github.com/seaweedfs/seaweedfs/weed")
    assert gobuild.GO_ENV == {"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
    assert gobuild.go_env()["CGO_ENABLED"] == "0"


def test_an_unstamped_binary_that_runs_is_stamped_not_rebuilt(isolated):
    fake_weed(build.binary_path())
    assert not build.stamp_path().exists()
    assert build.find_weed(provide=False) == build.binary_path()
    stamp = json.loads(build.stamp_path().read_text())
    assert stamp["version"] == build.VERSION and stamp["reports"].startswith("version 30GB 4.53")


def test_a_stamped_binary_is_not_run_again(isolated):
    fake_weed(build.binary_path(), code=1)  # would fail the probe
    build.stamp_path().write_text(json.dumps({"version": build.VERSION}))
    assert build.cached() == build.binary_path()


def test_a_binary_that_does_not_run_is_not_stamped(isolated):
    fake_weed(build.binary_path(), code=1)
    assert build.cached() is None and not build.stamp_path().exists()
    with pytest.raises(PrerequisiteMissing, match="stix store install"):
        build.find_weed(provide=False)


def test_a_stamp_of_another_version_is_reprobed(isolated):
    fake_weed(build.binary_path(), code=1)
    build.stamp_path().write_text(json.dumps({"version": "v0.0.0-old"}))
    assert build.cached() is None


def test_missing_go_names_the_fix(isolated):
    with pytest.raises(PrerequisiteMissing, match="golang-go"):
        build.find_weed(provide=True, log=lambda line: None)


def test_the_real_cached_store_is_found():
    """This machine's cache holds the real build (never rebuilt here): found, and it runs."""
    weed = build.find_weed(provide=False)
    assert build.probe(weed).startswith("version")


def test_a_failing_step_names_itself_and_the_log(tmp_path):
    from stix.errors import ProvisionError

    lines = []
    steps = [gobuild.Step("fetching modules", ("true",)), gobuild.Step("compiling", ("sh", "-c", "echo boom; exit 3"))]
    with pytest.raises(ProvisionError, match=r"while compiling \(exit 3\); see .*build\.log"):
        gobuild.run_steps(steps, tmp_path, "the object store", ProvisionError, lines.append, 0.0)
    assert [line.split(" (")[0] for line in lines] == ["stix: fetching modules", "stix: compiling"]
    assert "boom" in (tmp_path / "build.log").read_text()
