"""STIX_TIMINGS: each step and engine invocation timed and reported; off, nothing is recorded."""

from __future__ import annotations

from stix import timings


def test_steps_are_recorded_and_reported_when_on(monkeypatch):
    monkeypatch.setattr(timings, "ENABLED", True)
    monkeypatch.setattr(timings, "_steps", [])
    with timings.step("preview"):
        pass
    with timings.step("engine: stack select"):
        pass

    @timings.timed("install agent")
    def install() -> str:
        return "done"

    assert install() == "done" and install.__name__ == "install"
    report = timings.report()
    assert [name for name, _, _ in timings._steps] == ["preview", "engine: stack select", "install agent"]
    assert "stix-timings preview" in report and "stix-timings install agent" in report
    assert "engine invocations                                 1" in report


def test_nothing_is_recorded_when_off(monkeypatch):
    monkeypatch.setattr(timings, "ENABLED", False)
    monkeypatch.setattr(timings, "_steps", [])
    with timings.step("preview"):
        pass

    def fn() -> int:
        return 1

    assert timings.timed("x")(fn) is fn
    assert timings._steps == []
