"""ClusterConnections' bound on how many nodes one command works on at once."""

from __future__ import annotations

import pytest

from stix.errors import UsageError
from stix.ssh import runner


def test_parallel_limit_defaults_to_32_and_follows_the_environment(monkeypatch):
    monkeypatch.delenv(runner.PARALLEL_ENV, raising=False)
    assert runner.parallel_limit() == 32
    monkeypatch.setenv(runner.PARALLEL_ENV, "4")
    assert runner.parallel_limit() == 4


@pytest.mark.parametrize("bad", ["0", "-1", "2.5", "many", "5000"])
def test_a_bad_parallel_limit_is_a_one_line_error(monkeypatch, bad):
    monkeypatch.setenv(runner.PARALLEL_ENV, bad)
    with pytest.raises(UsageError, match="STIX_SSH_PARALLEL"):
        runner.parallel_limit()
