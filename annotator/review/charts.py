"""Geometry of the dashboard's server-rendered SVG charts: plain numbers, no database.

The templates draw what these functions lay out. We draw SVG on the server rather than
ship a JavaScript charting library: the page works without JavaScript, the strict
Content-Security-Policy needs no exception, and the numbers in the picture are the same
ones the CSV downloads carry. Colours come from CSS classes (static/dashboard.css); the
SVG only uses presentation attributes such as ``x``, ``y``, ``width`` and ``height``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from annotator.review.agreement import Estimate
from annotator.review.dashboard import Distribution, Progress

WIDTH = 720


def nice_ticks(largest: float, count: int = 4) -> list[float]:
    """Round axis ticks from 0 to at least ``largest``: steps of 1, 2 or 5 times a power of
    ten, so a reader can take values off the axis at a glance."""
    if largest <= 0:
        return [0, 1]
    raw = largest / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if step < 1 and largest >= 1:
        step = 1
    ticks = [0.0]
    while ticks[-1] < largest:
        ticks.append(round(ticks[-1] + step, 10))
    return [int(t) if float(t).is_integer() else t for t in ticks]


def fit(text: str, length: int) -> str:
    """``text`` cut to ``length`` characters with an ellipsis (the full text is in <title>)."""
    return text if len(text) <= length else text[: length - 1] + "…"


@dataclass(frozen=True)
class Tick:
    value: float
    label: str
    position: float  # x or y in the SVG


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    title: str


def _plot_area(width: int, height: int) -> tuple[float, float, float, float]:
    """Left, right, top and bottom of the plotting area of a chart over days: room for the
    axis labels on the left and right and the dates below."""
    return 48.0, width - 60.0, 16.0, height - 40.0


def _day_slots(days: list, left: float, right: float) -> tuple[float, list[float], list[Tick]]:
    """Each day's slot width, the centre of each slot and at most eight date ticks: shared by
    the charts over days, so their days line up."""
    slot = (right - left) / max(len(days), 1)
    centres = [round(left + (index + 0.5) * slot, 2) for index in range(len(days))]
    every = max(1, math.ceil(len(days) / 8))
    ticks = [
        Tick(0, f"{day.day.day} {day.day:%b}", centres[index])
        for index, day in enumerate(days)
        if index % every == 0
    ]
    return slot, centres, ticks


@dataclass(frozen=True)
class ProgressChart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    bars: list[Bar]
    line: str  # SVG points of the cumulative line
    dots: list[tuple[float, float]]
    left_ticks: list[Tick]  # per day
    right_ticks: list[Tick]  # cumulative
    x_ticks: list[Tick]


def progress_chart(progress: Progress, width: int = WIDTH, height: int = 260) -> ProgressChart:
    """Bars of submitted annotations per day (left axis) under a line of the running total
    (right axis); at most eight dates are written under the bars."""
    left, right, top, bottom = _plot_area(width, height)
    days = progress.days
    daily_ticks = nice_ticks(max((d.submitted for d in days), default=0))
    total_ticks = nice_ticks(days[-1].cumulative if days else 0)
    span = bottom - top

    def y_daily(value: float) -> float:
        return bottom - value / daily_ticks[-1] * span

    def y_total(value: float) -> float:
        return bottom - value / total_ticks[-1] * span

    slot, centres, x_ticks = _day_slots(days, left, right)
    bar_width = max(slot * 0.7, 1.0)
    bars, points = [], []
    for index, day in enumerate(days):
        x = left + index * slot + (slot - bar_width) / 2
        y = y_daily(day.submitted)
        label = day.day.isoformat()
        bars.append(
            Bar(
                x=round(x, 2),
                y=round(y, 2),
                width=round(bar_width, 2),
                height=round(bottom - y, 2),
                label=label,
                value=day.submitted,
                title=f"{label}: {day.submitted} submitted, {day.cumulative} in total",
            )
        )
        points.append((centres[index], round(y_total(day.cumulative), 2)))
    return ProgressChart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        bars=bars,
        line=" ".join(f"{x},{y}" for x, y in points),
        dots=points if len(points) <= 60 else [],
        left_ticks=[Tick(t, f"{t:g}", round(y_daily(t), 2)) for t in daily_ticks],
        right_ticks=[Tick(t, f"{t:g}", round(y_total(t), 2)) for t in total_ticks],
        x_ticks=x_ticks,
    )


@dataclass(frozen=True)
class Series:
    """One line of a line chart: its CSS class, its legend text and its points."""

    css: str
    label: str
    points: list[tuple[float, float]]

    @property
    def polyline(self) -> str:
        return " ".join(f"{x},{y}" for x, y in self.points)


@dataclass(frozen=True)
class CoverageChart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    series: list[Series]
    total_y: float  # where the line of all comments runs
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    dots: bool


def coverage_chart(progress: Progress, width: int = WIDTH, height: int = 220) -> CoverageChart:
    """Comments with at least one label, and with the target number, by the end of each
    day, against the line of all the project's comments (the days line up with
    ``progress_chart``'s bars)."""
    left, right, top, bottom = _plot_area(width, height)
    days = progress.days
    ticks = nice_ticks(progress.comments)
    span = bottom - top

    def y(value: float) -> float:
        return round(bottom - value / ticks[-1] * span, 2)

    _, xs, x_ticks = _day_slots(days, left, right)
    return CoverageChart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        series=[
            Series(
                "line-labelled",
                "at least one label",
                [(x, y(d.labelled)) for x, d in zip(xs, days, strict=True)],
            ),
            Series(
                "line-complete",
                f"{progress.target} or more labels",
                [(x, y(d.complete)) for x, d in zip(xs, days, strict=True)],
            ),
        ],
        total_y=y(progress.comments),
        y_ticks=[Tick(t, f"{t:g}", y(t)) for t in ticks],
        x_ticks=x_ticks,
        dots=len(days) <= 60,
    )


@dataclass(frozen=True)
class HorizontalBar:
    y: float
    width: float
    label: str
    full_label: str
    value: int
    text: str  # "12 (40%)"
    text_x: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    label_width: float
    row: float
    bar_height: float
    bars: list[HorizontalBar]
    axis_y: float


def distribution_chart(distribution: Distribution, width: int = 480) -> BarChart:
    """One horizontal bar per answer, longest for the most given, with count and share.

    Narrower than the progress chart: two sit side by side, and the text stays legible."""
    label_width, row, bar_height = 170.0, 26.0, 18.0
    room = width - label_width - 90
    largest = distribution.largest or 1
    bars = []
    for index, count in enumerate(distribution.counts):
        bar_width = round(count.count / largest * room, 2)
        bars.append(
            HorizontalBar(
                y=index * row + 6,
                width=bar_width,
                label=fit(count.label, 24),
                full_label=count.label,
                value=count.count,
                text=f"{count.count} ({count.share:.0%})",
                text_x=label_width + bar_width + 6,
            )
        )
    return BarChart(
        width=width,
        height=int(len(bars) * row + 12),
        label_width=label_width,
        row=row,
        bar_height=bar_height,
        bars=bars,
        axis_y=len(bars) * row + 6,
    )


@dataclass(frozen=True)
class IntervalBar:
    """A 95% interval drawn on a 0..1 scale, with marks at 0.667 and 0.8 (Krippendorff's
    "tentative" and "reliable" thresholds)."""

    width: int
    low: float | None
    high: float | None
    value: float | None
    marks: tuple[float, ...]


def interval_bar(value: float | None, low: float | None, high: float | None) -> IntervalBar:
    width, pad = 120, 4.0

    def x(v: float | None) -> float | None:
        if v is None:
            return None
        return round(pad + min(max(v, 0.0), 1.0) * (width - 2 * pad), 2)

    return IntervalBar(
        width=width,
        low=x(low),
        high=x(high),
        value=x(value),
        marks=(x(0.667), x(0.8)),
    )


# -- figures as text -------------------------------------------------------------------------


def shown(estimate: Estimate, *, percent: bool = False) -> dict[str, Any]:
    """An estimate as the page writes it: the value and its 95% interval, "—" if undefined."""

    def text(value: float | None) -> str:
        if value is None:
            return "—"
        return f"{value:.0%}" if percent else f"{value:.2f}"

    interval = ""
    if estimate.value is not None and estimate.low is not None and estimate.high is not None:
        interval = f"{text(estimate.low)} to {text(estimate.high)}"
    return {"value": text(estimate.value), "interval": interval, "units": estimate.units}


def number(value: float | None, digits: int = 4) -> str | float:
    """A measure for CSV: rounded, empty when undefined."""
    return "" if value is None else round(value, digits)
