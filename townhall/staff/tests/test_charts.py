import re

import pytest

from townhall.web.charts import (
    Bar,
    Series,
    bar_chart,
    label_indices,
    line_chart,
    number,
    value_axis,
)


def small_line_chart(**overrides) -> str:
    arguments = {
        "chart_id": "growth",
        "title": "Subscribers over time",
        "description": "Chat rose from 0 to 3.",
        "x_labels": ["Mon", "Tue", "Wed"],
        "series": [Series("Chat", (0, 1, 3)), Series("Info", (2, 2, 2))],
        "x_axis_label": "Day",
        "y_axis_label": "Subscribers",
    }
    return str(line_chart(**{**arguments, **overrides}))


@pytest.mark.parametrize(
    ("values", "ticks"),
    [
        ([], [0, 1]),
        ([0, 0], [0, 1]),
        ([3], [0, 1, 2, 3]),
        ([5], [0, 1, 2, 3, 4, 5]),
        ([7], [0, 2, 4, 6, 8]),
        ([10], [0, 2, 4, 6, 8, 10]),
        ([11], [0, 5, 10, 15]),
        ([100], [0, 20, 40, 60, 80, 100]),
        ([1234], [0, 500, 1000, 1500]),
        ([-3, 4], [-4, -2, 0, 2, 4]),
    ],
)
def test_value_axis_uses_round_whole_steps(values: list[int], ticks: list[int]) -> None:
    assert value_axis(values) == ticks


def test_label_indices_keep_first_and_last() -> None:
    assert label_indices(3) == [0, 1, 2]
    assert label_indices(90) == [0, 18, 36, 53, 71, 89]


def test_number_drops_needless_decimals() -> None:
    assert [number(value) for value in (48, 181.3333, 110.66, 0.04, -0.04, 12.5)] == [
        "48",
        "181.3",
        "110.7",
        "0",
        "0",
        "12.5",
    ]


def test_line_chart_draws_one_polyline_per_series_at_exact_coordinates() -> None:
    svg = small_line_chart()

    # Plot area x 48..704, y 252 (zero) .. 40 (three): a step is 212/3 ≈ 70.7 high.
    assert re.findall(r'<polyline points="([^"]+)"', svg) == [
        "48,252 376,181.3 704,40",
        "48,110.7 376,110.7 704,110.7",
    ]
    assert re.findall(r'data-series="([^"]+)" data-last-value="([^"]+)"', svg) == [
        ("Chat", "3"),
        ("Info", "2"),
    ]
    assert '<circle cx="704" cy="40" r="4" fill="#0b5cad"/>' in svg
    # The second line is dashed, so the lines differ without colour too.
    assert svg.count("stroke-dasharray=") == 2


def test_line_chart_is_an_accessible_image_with_axes_and_legend() -> None:
    svg = small_line_chart()

    assert svg.startswith('<svg id="growth" class="chart"')
    assert 'role="img" aria-labelledby="growth-title growth-desc"' in svg
    assert '<title id="growth-title">Subscribers over time</title>' in svg
    assert '<desc id="growth-desc">Chat rose from 0 to 3.</desc>' in svg
    value_labels = re.findall(r'text-anchor="end" fill="#5d6877">(\d+)</text>', svg)
    assert value_labels == ["0", "1", "2", "3"]
    assert '<text x="48" y="270" text-anchor="start" fill="#5d6877">Mon</text>' in svg
    assert '<text x="376" y="270" text-anchor="middle" fill="#5d6877">Tue</text>' in svg
    assert '<text x="704" y="270" text-anchor="end" fill="#5d6877">Wed</text>' in svg
    assert '<text x="376" y="292" text-anchor="middle" fill="#5d6877">Day</text>' in svg
    assert 'transform="rotate(-90 14 146)">Subscribers</text>' in svg
    legend = re.search(r'<g class="chart__legend">(.*)</g></svg>', svg)
    assert legend is not None
    assert re.findall(r">(\w+)</text>", legend.group(1)) == ["Chat", "Info"]


def test_line_chart_labels_at_most_six_days_of_ninety() -> None:
    days = [f"D{index}" for index in range(90)]

    svg = small_line_chart(x_labels=days, series=[Series("Chat", tuple(range(90)))])

    labels = re.findall(r'y="270" text-anchor="\w+" fill="#5d6877">(D\d+)</text>', svg)
    assert labels == ["D0", "D18", "D36", "D53", "D71", "D89"]
    (points,) = re.findall(r'<polyline points="([^"]+)"', svg)
    assert len(points.split()) == 90
    # 89 on an axis up to 100: 252 - 89 * 212 / 100.
    assert points.split()[-1] == "704,63.3"


def test_line_chart_with_a_single_day_puts_it_in_the_middle() -> None:
    svg = small_line_chart(x_labels=["Today"], series=[Series("Chat", (4,))])

    assert '<polyline points="376,40"' in svg
    assert '<text x="376" y="270" text-anchor="middle" fill="#5d6877">Today</text>' in svg


def test_chart_text_is_escaped() -> None:
    svg = small_line_chart(
        title="<script>alert(1)</script>", series=[Series('A "B" & <C>', (1, 2, 3))]
    )

    assert "<script>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert 'data-series="A &quot;B&quot; &amp; &lt;C&gt;"' in svg


def test_line_chart_refuses_mismatched_series_and_bad_ids() -> None:
    with pytest.raises(ValueError, match="has 2 values"):
        small_line_chart(series=[Series("Chat", (1, 2))])
    with pytest.raises(ValueError, match="valid HTML id"):
        small_line_chart(chart_id='x" onload="alert(1)')
    with pytest.raises(ValueError, match="at least one position"):
        small_line_chart(x_labels=[], series=[])


def test_bar_chart_scales_bars_to_the_largest_value() -> None:
    svg = str(
        bar_chart(
            chart_id="topics",
            title="Subscribers per topic",
            description="Traffic: 3. Events: 1. News: 0.",
            bars=[Bar("Traffic", 3), Bar("Events", 1), Bar("News", 0)],
            value_axis_label="Subscribers",
        )
    )

    # Bars start at x=180 and the largest is 720 - 180 - 56 = 484 wide; rows are 32 high.
    assert re.findall(r'<rect x="180" y="([\d.]+)" width="([\d.]+)"', svg) == [
        ("14", "484"),
        ("46", "161.3"),
        ("78", "0"),
    ]
    assert re.findall(r'data-label="(\w+)" data-value="(\d+)"><title>([^<]+)</title>', svg) == [
        ("Traffic", "3", "Traffic: 3"),
        ("Events", "1", "Events: 1"),
        ("News", "0", "News: 0"),
    ]
    assert '<text x="172" y="28" text-anchor="end" fill="#5d6877">Traffic</text>' in svg
    assert 'x="670" y="28" text-anchor="start" fill="#5d6877" font-weight="600">3</text>' in svg
    assert 'viewBox="0 0 720 136"' in svg
    assert 'role="img" aria-labelledby="topics-title topics-desc"' in svg
    assert '<title id="topics-title">Subscribers per topic</title>' in svg
    assert '<text x="422" y="128" text-anchor="middle" fill="#5d6877">Subscribers</text>' in svg


def test_bar_chart_with_only_zeros_draws_empty_bars() -> None:
    svg = str(
        bar_chart(
            chart_id="topics",
            title="T",
            description="D",
            bars=[Bar("Traffic", 0), Bar("Events", 0)],
            value_axis_label="Subscribers",
        )
    )

    assert re.findall(r'<rect x="180" y="[\d.]+" width="([\d.]+)"', svg) == ["0", "0"]


def test_bar_chart_refuses_negative_values() -> None:
    with pytest.raises(ValueError, match="negative"):
        bar_chart(
            chart_id="t", title="T", description="D", bars=[Bar("X", -1)], value_axis_label="S"
        )
