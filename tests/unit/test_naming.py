from pathlib import Path

import pytest

from stix.errors import UsageError
from stix.naming import default_cluster_name, validate_cluster_name


def test_default_name_from_task_or_file():
    assert default_cluster_name("My_Train Job", Path("x.yaml")) == "my-train-job"
    assert default_cluster_name(None, Path("examples/hello.yaml")) == "hello"
    assert default_cluster_name("9lives", Path("x.yaml")) == "c-9lives"


@pytest.mark.parametrize("bad", ["", "Upper", "-lead", "trail-", "a" * 41, "semi;colon", "../up", "abc\n", "abc\r", None])
def test_invalid_cluster_names(bad):
    with pytest.raises(UsageError):
        validate_cluster_name(bad)


def test_valid_cluster_name():
    assert validate_cluster_name("train-a100-2") == "train-a100-2"


def test_generated_names_are_skypilots_kind():
    import re

    from stix.naming import generated_cluster_name

    assert re.fullmatch(r"stix-[0-9a-f]{4}-ada-lovelace", generated_cluster_name("Ada Lovelace"))
    assert re.fullmatch(r"stix-[0-9a-f]{4}", generated_cluster_name("_"))
    assert len(generated_cluster_name("x" * 80)) == 40


def test_local_user_falls_back_to_the_uid(monkeypatch):
    import getpass
    import os

    from stix.naming import generated_cluster_name, local_user

    monkeypatch.setattr(getpass, "getuser", lambda: "alice")
    assert local_user() == "alice" and generated_cluster_name().endswith("-alice")

    def nobody():
        raise KeyError("no passwd entry")

    monkeypatch.setattr(getpass, "getuser", nobody)
    assert local_user() == str(os.getuid())
