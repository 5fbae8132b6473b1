"""Small line and bar charts rendered on the server as inline SVG.

No JavaScript and no external assets: a chart is markup like any other, works offline and
prints. Each chart is an accessible image (``role="img"`` named by its ``<title>`` and
described by its ``<desc>``); pages show the same numbers in a table as well, which is what
screen reader users and anyone who needs exact values read.

The renderer knows nothing about languages: callers pass every text, already translated.
Values are counts, so the value axis uses whole-number steps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# Colours reach at least 4.5:1 against white (WCAG 1.4.11 asks 3:1 for graphics); the dash
# patterns tell the lines apart without colour.
COLORS = ("#0b5cad", "#c2410c", "#15803d", "#7e22ce", "#0f766e", "#a16207")
DASHES = ("", "8 5", "2 4", "12 4 2 4", "4 4", "1 3")
TEXT_COLOR = "#5d6877"
GRID_COLOR = "#dde2ea"
AXIS_COLOR = "#8a94a3"
FONT_SIZE = 12
FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif'
# A rough average glyph width at FONT_SIZE, to lay out legend entries side by side.
CHARACTER_WIDTH = 7

# Line chart geometry: the legend on top, value labels on the left, dates below.
LINE_MARGIN_LEFT = 48
LINE_MARGIN_RIGHT = 16
LINE_MARGIN_TOP = 40
LINE_MARGIN_BOTTOM = 48
LEGEND_BASELINE = 18
LEGEND_SWATCH_WIDTH = 24
MAX_VALUE_INTERVALS = 5
MAX_X_LABELS = 6

# Bar chart geometry: one horizontal bar per row (long names stay readable on a tablet).
BAR_LABEL_WIDTH = 180
BAR_ROW_HEIGHT = 32
BAR_THICKNESS = 20
BAR_MARGIN_TOP = 8
BAR_MARGIN_BOTTOM = 32
# Room right of the longest bar for its value.
BAR_VALUE_ROOM = 56

_ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a line chart: a value for each label of the x axis."""

    label: str
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float


def number(value: float) -> str:
    """A coordinate or value as short text: at most one decimal, no trailing ``.0``."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def value_axis(values: Iterable[float], max_intervals: int = MAX_VALUE_INTERVALS) -> list[int]:
    """The ticks of a value axis that starts at (or below) zero and covers ``values``.

    Steps are 1, 2 or 5 times a power of ten, with at most ``max_intervals`` intervals:
    ``[0, 1, 2, 3]`` for a largest value of 3, ``[0, 2, 4, 6, 8]`` for 7.
    """
    values = list(values)
    low = min([0.0, *values])
    high = max([0.0, *values])
    raw_step = (high - low) / max_intervals
    if raw_step <= 1:
        step = 1
    else:
        magnitude = 10 ** math.floor(math.log10(raw_step))
        step = next(
            multiple * magnitude for multiple in (1, 2, 5, 10) if multiple * magnitude >= raw_step
        )
    first = math.floor(low / step)
    last = max(math.ceil(high / step), first + 1)
    return [index * step for index in range(first, last + 1)]


def label_indices(count: int, max_labels: int = MAX_X_LABELS) -> list[int]:
    """Which of ``count`` x positions get a label: the first, the last and evenly between."""
    if count <= max_labels:
        return list(range(count))
    return sorted({round(index * (count - 1) / (max_labels - 1)) for index in range(max_labels)})


def _join(parts: Iterable[SafeString]) -> SafeString:
    return format_html_join("", "{}", ((part,) for part in parts))


def _check_id(chart_id: str) -> None:
    if not _ID_PATTERN.fullmatch(chart_id):
        raise ValueError(f"Not a valid HTML id: {chart_id!r}")


def _svg(
    chart_id: str, width: int, height: int, title: str, description: str, body: SafeString
) -> SafeString:
    return format_html(
        '<svg id="{id}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}"'
        ' width="{w}" height="{h}" role="img" aria-labelledby="{id}-title {id}-desc"'
        ' font-family="{font}" font-size="{size}">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{description}</desc>'
        "{body}</svg>",
        id=chart_id,
        w=width,
        h=height,
        font=FONT_FAMILY,
        size=FONT_SIZE,
        title=title,
        description=description,
        body=body,
    )


def _text(x: float, y: float, content: str, *, anchor: str = "start", **extra: str) -> SafeString:
    attributes = format_html_join("", ' {}="{}"', sorted(extra.items()))
    return format_html(
        '<text x="{}" y="{}" text-anchor="{}" fill="{}"{}>{}</text>',
        number(x),
        number(y),
        anchor,
        TEXT_COLOR,
        attributes,
        content,
    )


def _legend(series: Sequence[Series], left: float) -> SafeString:
    parts = []
    x = left
    for index, line in enumerate(series):
        color, dash = COLORS[index % len(COLORS)], DASHES[index % len(DASHES)]
        parts.append(
            format_html(
                '<g class="chart__legend-item"><line x1="{}" y1="{}" x2="{}" y2="{}"'
                ' stroke="{}" stroke-width="3"{}/>{}</g>',
                number(x),
                LEGEND_BASELINE - 4,
                number(x + LEGEND_SWATCH_WIDTH),
                LEGEND_BASELINE - 4,
                color,
                format_html(' stroke-dasharray="{}"', dash) if dash else "",
                _text(x + LEGEND_SWATCH_WIDTH + 6, LEGEND_BASELINE, line.label),
            )
        )
        x += LEGEND_SWATCH_WIDTH + 6 + len(line.label) * CHARACTER_WIDTH + 20
    return format_html('<g class="chart__legend">{}</g>', _join(parts))


def _x_label_anchor(index: int, count: int) -> str:
    # The outermost labels align with the plot's edges so that they are never cut off.
    if count > 1 and index == 0:
        return "start"
    if count > 1 and index == count - 1:
        return "end"
    return "middle"


def line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    x_axis_label: str,
    y_axis_label: str,
    value_titles: Sequence[str] = (),
    width: int = 720,
    height: int = 300,
) -> SafeString:
    """A line chart with one line per ``series``, a legend, gridlines and axis labels.

    ``x_labels`` names each position (e.g. a date); every series has one value per label.
    ``value_titles`` (one per series, optional) become the lines' hover titles, e.g.
    "Chat: 12 today".
    """
    _check_id(chart_id)
    if not x_labels:
        raise ValueError("A line chart needs at least one position on the x axis")
    for line in series:
        if len(line.values) != len(x_labels):
            raise ValueError(f"Series {line.label!r} has {len(line.values)} values")
    left, right = LINE_MARGIN_LEFT, width - LINE_MARGIN_RIGHT
    top, bottom = LINE_MARGIN_TOP, height - LINE_MARGIN_BOTTOM
    ticks = value_axis(value for line in series for value in line.values)
    low, high = ticks[0], ticks[-1]

    def x_at(index: int) -> float:
        if len(x_labels) == 1:
            return (left + right) / 2
        return left + index * (right - left) / (len(x_labels) - 1)

    def y_at(value: float) -> float:
        return bottom - (value - low) * (bottom - top) / (high - low)

    grid = _join(
        format_html(
            '<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{}"/>{}',
            left,
            right,
            AXIS_COLOR if tick == 0 else GRID_COLOR,
            _text(left - 8, y_at(tick) + 4, str(tick), anchor="end"),
            y=number(y_at(tick)),
        )
        for tick in ticks
    )
    indices = label_indices(len(x_labels))
    x_ticks = _join(
        _text(
            x_at(index),
            bottom + 18,
            x_labels[index],
            anchor=_x_label_anchor(index, len(x_labels)),
        )
        for index in indices
    )
    lines = []
    for index, line in enumerate(series):
        color, dash = COLORS[index % len(COLORS)], DASHES[index % len(DASHES)]
        points = " ".join(
            f"{number(x_at(position))},{number(y_at(value))}"
            for position, value in enumerate(line.values)
        )
        hover = value_titles[index] if index < len(value_titles) else line.label
        last_x, last_y = x_at(len(line.values) - 1), y_at(line.values[-1])
        lines.append(
            format_html(
                '<g class="chart__series" data-series="{}" data-last-value="{}"><title>{}</title>'
                '<polyline points="{}" fill="none" stroke="{}" stroke-width="2.5"'
                ' stroke-linejoin="round" stroke-linecap="round"{}/>'
                '<circle cx="{}" cy="{}" r="4" fill="{}"/></g>',
                line.label,
                number(line.values[-1]),
                hover,
                points,
                color,
                format_html(' stroke-dasharray="{}"', dash) if dash else "",
                number(last_x),
                number(last_y),
                color,
            )
        )
    axis_labels = _join(
        [
            _text((left + right) / 2, height - 8, x_axis_label, anchor="middle"),
            _text(
                14,
                (top + bottom) / 2,
                y_axis_label,
                anchor="middle",
                transform=f"rotate(-90 14 {number((top + bottom) / 2)})",
            ),
        ]
    )
    body = format_html(
        '<g class="chart__grid">{}</g><g class="chart__x-labels">{}</g>{}{}{}',
        grid,
        x_ticks,
        axis_labels,
        _join(lines),
        _legend(series, left),
    )
    return _svg(chart_id, width, height, title, description, body)


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    bars: Sequence[Bar],
    value_axis_label: str,
    width: int = 720,
) -> SafeString:
    """A horizontal bar chart: a row per bar with its label, the bar and its value.

    Bars are scaled to the largest value; with only zeros every bar is empty.
    """
    _check_id(chart_id)
    if any(bar.value < 0 for bar in bars):
        raise ValueError("Bar values must not be negative")
    height = BAR_MARGIN_TOP + len(bars) * BAR_ROW_HEIGHT + BAR_MARGIN_BOTTOM
    left = BAR_LABEL_WIDTH
    full_length = width - left - BAR_VALUE_ROOM
    largest = max((bar.value for bar in bars), default=0)
    rows = []
    for index, bar in enumerate(bars):
        row_top = BAR_MARGIN_TOP + index * BAR_ROW_HEIGHT
        bar_top = row_top + (BAR_ROW_HEIGHT - BAR_THICKNESS) / 2
        middle = row_top + BAR_ROW_HEIGHT / 2 + 4
        length = full_length * bar.value / largest if largest else 0
        rows.append(
            format_html(
                '<g class="chart__bar" data-label="{}" data-value="{}"><title>{}: {}</title>'
                "{}"
                '<rect x="{}" y="{}" width="{}" height="{}" rx="3" fill="{}"/>'
                "{}</g>",
                bar.label,
                number(bar.value),
                bar.label,
                number(bar.value),
                _text(left - 8, middle, bar.label, anchor="end"),
                left,
                number(bar_top),
                number(length),
                BAR_THICKNESS,
                COLORS[0],
                _text(left + length + 6, middle, number(bar.value), **{"font-weight": "600"}),
            )
        )
    axis_bottom = BAR_MARGIN_TOP + len(bars) * BAR_ROW_HEIGHT
    body = format_html(
        '<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{}"/>{}{}',
        BAR_MARGIN_TOP,
        axis_bottom,
        AXIS_COLOR,
        _join(rows),
        _text(left + full_length / 2, height - 8, value_axis_label, anchor="middle"),
        x=left,
    )
    return _svg(chart_id, width, height, title, description, body)
