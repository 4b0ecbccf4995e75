"""Several clusters at once: selection by names, globs and -a; one confirmation; failures that do not stop the rest."""

from __future__ import annotations

import pytest

from stix.batch import for_each, select
from stix.errors import Aborted, ClusterNotFound, ConfirmationRequired, ProvisionError, UsageError
from stix.events import Note
from stix.home import StixHome
from stix.session import Session

KNOWN = ["dev-b", "dev-a", "prod", "other"]


def test_names_globs_and_all():
    assert select(KNOWN, ["dev-*"], False) == ["dev-a", "dev-b"]
    assert select(KNOWN, ["prod", "dev-?", "dev-a"], False) == ["prod", "dev-a", "dev-b"]  # in order, once each
    assert select(KNOWN, ["[op]*"], False) == ["other", "prod"]
    assert select(KNOWN, [], True) == ["dev-a", "dev-b", "other", "prod"]
    assert select([], [], True) == []
    assert select(KNOWN, ["gone"], False, present=lambda name: name == "gone") == ["gone"]


@pytest.mark.parametrize("patterns, all_, error, message", [
    (["dev-*", "test-*"], False, ClusterNotFound, "no cluster matches 'test-*' (stix status lists clusters)"),
    (["dev-a", "gone"], False, ClusterNotFound, "cluster 'gone' not found (stix status lists clusters)"),
    (["Dev"], False, UsageError, "invalid cluster name 'Dev'"),
    ([], False, UsageError, "name a cluster, a glob such as 'dev-*', or pass -a/--all"),
    (["dev-a"], True, UsageError, "name clusters or pass -a/--all, not both"),
])
def test_bad_selections(patterns, all_, error, message):
    with pytest.raises(error) as raised:
        select(KNOWN, patterns, all_)
    assert raised.value.message.startswith(message)


def session(tmp_path, answer=None, notes=None) -> Session:
    asked: list[str] = []

    def confirm(question: str) -> bool:
        asked.append(question)
        return bool(answer)

    events = (lambda event: notes.append(event)) if notes is not None else (lambda event: None)
    made = Session(StixHome(tmp_path / "home"), events, None if answer is None else confirm)
    made.asked = asked  # type: ignore[attr-defined]
    return made


def test_one_confirmation_for_all_then_each_without_asking(tmp_path):
    done: list[tuple[str, bool]] = []
    s = session(tmp_path, answer=True)
    for_each(s, ["a", "b", "c"], lambda name, yes: done.append((name, yes)), "Destroy", yes=False)
    assert s.asked == ["Destroy 3 clusters: a, b, c?"]
    assert done == [("a", True), ("b", True), ("c", True)]


def test_one_cluster_keeps_its_own_question(tmp_path):
    done: list[tuple[str, bool]] = []
    s = session(tmp_path, answer=True)
    for_each(s, ["a"], lambda name, yes: done.append((name, yes)), "Destroy", yes=False)
    assert s.asked == [] and done == [("a", False)]


def test_no_and_no_terminal_change_nothing(tmp_path):
    done: list[str] = []
    with pytest.raises(Aborted):
        for_each(session(tmp_path, answer=False), ["a", "b"], lambda name, yes: done.append(name), "Stop", yes=False)
    with pytest.raises(ConfirmationRequired):
        for_each(session(tmp_path), ["a", "b"], lambda name, yes: done.append(name), "Stop", yes=False)
    assert done == []


def test_a_failure_does_not_stop_the_others_and_the_error_names_it(tmp_path):
    done: list[str] = []
    notes: list = []

    def action(name: str, yes: bool) -> None:
        if name == "b":
            raise ProvisionError("the engine said no")
        done.append(name)

    with pytest.raises(ProvisionError) as raised:
        for_each(session(tmp_path, notes=notes), ["a", "b", "c"], action, "Destroy", yes=True)
    assert done == ["a", "c"]
    assert raised.value.message == "destroy failed for 1 of 3 clusters: b (the engine said no)"
    assert Note("b: the engine said no", "warning") in notes


def test_interrupts_are_not_swallowed(tmp_path):
    def action(name: str, yes: bool) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        for_each(session(tmp_path), ["a", "b"], action, "Stop", yes=True)
