"""Chart geometry: round axis ticks, bars that fit the plot, interval bars on a 0..1 scale."""

from datetime import date, timedelta

import pytest

from annotator.review.charts import (
    coverage_chart,
    distribution_chart,
    fit,
    interval_bar,
    nice_ticks,
    progress_chart,
)
from annotator.review.dashboard import Day, Distribution, LabelCount, Progress


@pytest.mark.parametrize(
    ("largest", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (7, [0, 2, 4, 6, 8]),
        (95, [0, 50, 100]),
        (1234, [0, 500, 1000, 1500]),
    ],
)
def test_ticks_are_round_and_reach_the_largest_value(largest, ticks):
    assert nice_ticks(largest) == ticks


def test_fit_cuts_long_labels_with_an_ellipsis():
    assert fit("short", 10) == "short"
    assert fit("a much longer label", 8) == "a much …"


def progress(counts):
    start, total, days = date(2026, 3, 1), 0, []
    for offset, count in enumerate(counts):
        total += count
        days.append(Day(start + timedelta(days=offset), count, total))
    return Progress(days=days, comments=100, labelled=total, complete=0, target=2)


def test_progress_bars_stand_on_the_axis_and_the_tallest_reaches_the_top_tick():
    chart = progress_chart(progress([2, 0, 4]))
    assert [bar.value for bar in chart.bars] == [2, 0, 4]
    for bar in chart.bars:
        assert bar.y + bar.height == pytest.approx(chart.bottom)
        assert chart.left <= bar.x and bar.x + bar.width <= chart.right
    assert chart.bars[1].height == 0
    assert chart.left_ticks[-1].value == 4
    assert chart.bars[2].y == pytest.approx(chart.top)
    assert chart.bars[0].title == "2026-03-01: 2 submitted, 2 in total"
    # The right axis reaches the running total of 6.
    assert chart.right_ticks[-1].value >= 6
    assert len(chart.line.split()) == 3


def test_a_long_progress_chart_writes_at_most_eight_dates():
    chart = progress_chart(progress([1] * 100))
    assert len(chart.x_ticks) <= 8
    assert chart.x_ticks[0].label == "1 Mar"
    assert chart.dots == []  # too many to mark each day


def test_coverage_lines_rise_toward_the_line_of_all_comments():
    start = date(2026, 3, 1)
    days = [Day(start, 5, 5, 4, 1), Day(start + timedelta(days=1), 5, 10, 8, 2)]
    chart = coverage_chart(Progress(days=days, comments=10, labelled=8, complete=2, target=2))
    labelled, complete = chart.series
    assert complete.label == "2 or more labels"
    assert chart.y_ticks[-1].value == 10
    assert chart.total_y == pytest.approx(chart.top)
    # Higher counts are higher up the chart (smaller y), and x matches the progress bars.
    assert labelled.points[1][1] < labelled.points[0][1]
    assert labelled.points[1][1] < complete.points[1][1]
    assert labelled.polyline.count(",") == 2
    bars = progress_chart(Progress(days=days, comments=10, labelled=8, complete=2, target=2)).bars
    assert [x for x, _ in labelled.points] == [bar.x + bar.width / 2 for bar in bars]


def test_distribution_bars_scale_to_the_most_given_answer():
    dist = Distribution(
        key="stance_article",
        title="Stance",
        kind="single",
        answered=4,
        counts=[
            LabelCount("support", "Support", 3, 0.75),
            LabelCount("deny", "Deny", 1, 0.25),
            LabelCount("query", "A label far too long to be written in full beside a bar", 0, 0),
        ],
    )
    chart = distribution_chart(dist)
    widths = [bar.width for bar in chart.bars]
    assert widths[0] == pytest.approx(widths[1] * 3, abs=0.05)
    assert widths[2] == 0
    assert chart.bars[0].text == "3 (75%)"
    assert chart.bars[2].label.endswith("…")
    assert chart.bars[2].full_label.startswith("A label far too long")
    assert chart.label_width + max(widths) + 6 < chart.width


def test_interval_bars_clamp_to_zero_and_one_and_skip_what_is_undefined():
    bar = interval_bar(0.5, -0.2, 1.3)
    assert bar.low == 4
    assert bar.high == bar.width - 4
    assert bar.value == pytest.approx(bar.width / 2)
    empty = interval_bar(None, None, None)
    assert (empty.value, empty.low, empty.high) == (None, None, None)
    assert len(empty.marks) == 2
