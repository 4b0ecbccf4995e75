"""The cost chart as SVG geometry, computed here and drawn by a template: no chart library, no JavaScript."""

from __future__ import annotations

from dataclasses import dataclass

from stix.dashboard.data import CostDay

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 240, 56, 28, 12
SERIES = 6
"""Clusters drawn in their own colour (the most expensive); the rest are summed as 'other'."""


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int
    title: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    days: tuple[tuple[float, str], ...]
    """(x, 'MM-DD') under every other bar."""
    legend: tuple[tuple[int, str, str], ...]
    """(series, cluster, total)."""
    total: str
    day_count: int


def cost_chart(days: list[CostDay]) -> Chart:
    totals: dict[str, float] = {}
    for day in days:
        for name, cost in day.by_cluster.items():
            totals[name] = totals.get(name, 0.0) + cost
    ranked = sorted(totals, key=lambda name: (-totals[name], name))
    series = {name: i for i, name in enumerate(ranked[:SERIES])}
    other = [name for name in ranked[SERIES:]]
    top = max((day.total for day in days), default=0.0) or 1.0
    plot_h, plot_w = HEIGHT - BOTTOM - TOP, WIDTH - LEFT - 8
    slot = plot_w / max(len(days), 1)
    bars, labels = [], []
    for i, day in enumerate(days):
        x, base = LEFT + i * slot + slot * 0.15, float(HEIGHT - BOTTOM)
        parts = [(series[name], name, cost) for name, cost in day.by_cluster.items() if name in series]
        rest = sum(cost for name, cost in day.by_cluster.items() if name not in series)
        parts.sort()
        if rest:
            parts.append((SERIES, "other", rest))
        for index, name, cost in parts:
            height = cost / top * plot_h
            base -= height
            bars.append(Bar(round(x, 1), round(base, 1), round(slot * 0.7, 1), round(height, 1), index,
                            f"{day.day} {name}: ${cost:.2f}"))
        if i % 2 == 0 or len(days) <= 7:
            labels.append((round(x + slot * 0.35, 1), day.day[5:]))
    steps = (0, 0.5, 1) if totals else (0,)  # nothing billed: one $0.00 line, no scale made up
    ticks = tuple(Tick(round(HEIGHT - BOTTOM - plot_h * f, 1), f"${top * f:.2f}") for f in steps)
    legend = tuple((i, name, f"${totals[name]:.2f}") for name, i in series.items())
    if other:
        legend += ((SERIES, f"{len(other)} other", f"${sum(totals[n] for n in other):.2f}"),)
    return Chart(WIDTH, HEIGHT, tuple(bars), ticks, tuple(labels), legend, f"${sum(totals.values()):.2f}",
                 len(days))
