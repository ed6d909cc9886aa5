"""Charts for the desk, drawn on the server as SVG with pygal and inlined in the page beside the
table that holds the same numbers (the table is the accessible, printable version).

The SVG is safe to inline: no script (pygal's own config script is taken out, and none of its
JavaScript is linked), no XML declaration, every text escaped by the XML writer, and ids
unique per chart so that several charts on one page do not share styles. Without JavaScript
pygal's tooltips do not show, so each value is printed on the chart.

Texts (title, labels, "no data") are given by the caller already in the reader's language.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pygal  # type: ignore[import-untyped]
from pygal.style import Style  # type: ignore[import-untyped]

Number = int | float
# Fonts that have Chinese glyphs first, so that labels do not fall back to boxes.
FONTS = (
    '"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", '
    '"Source Han Sans SC", "WenQuanYi Micro Hei", sans-serif'
)
STYLE = Style(
    font_family=FONTS,
    label_font_family=FONTS,
    major_label_font_family=FONTS,
    value_font_family=FONTS,
    value_label_font_family=FONTS,
    tooltip_font_family=FONTS,
    title_font_family=FONTS,
    legend_font_family=FONTS,
    no_data_font_family=FONTS,
    background="transparent",
    plot_background="transparent",
    colors=("#2f6fb0", "#5aa469", "#e0a030", "#d9534f", "#8e6bbf", "#4bb3c4", "#a0a0a0"),
)


def _strip_scripts(root: Any) -> Any:
    """An xml filter: take every <script> element out of the drawing."""
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag.rsplit("}", 1)[-1].lower() == "script":
                parent.remove(child)
    return root


def _config(title: str, no_data: str, width: int, height: int) -> dict[str, Any]:
    return {
        "title": title,
        "js": [],
        "disable_xml_declaration": True,
        "no_data_text": no_data,
        "style": STYLE,
        "width": width,
        "height": height,
        "print_values": True,
        "explicit_size": False,
        "truncate_label": -1,  # never cut a label short
        "truncate_legend": -1,
    }


def _render(chart: Any) -> str:
    chart.add_xml_filter(_strip_scripts)
    return str(chart.render(is_unicode=True))


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[Number | None],
    *,
    horizontal: bool = False,
    value_format: Callable[[Number], str] | None = None,
    no_data: str = "—",
    width: int = 640,
    height: int = 360,
) -> str:
    """One series of bars, one per label; a None value (no data) draws no bar and no number.
    ``value_format`` words a value (e.g. ``lambda v: f"{v:.0%}"``); ``no_data`` is shown when
    there are no values at all."""
    if len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels for {len(values)} values")
    kind = pygal.HorizontalBar if horizontal else pygal.Bar
    chart = kind(**_config(title, no_data, width, height), show_legend=False)
    chart.x_labels = list(labels)
    if value_format is not None:
        chart.value_formatter = value_format
    if any(value is not None for value in values):
        chart.add(title, list(values))
    return _render(chart)


def pie_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[Number],
    *,
    donut: bool = False,
    value_format: Callable[[Number], str] | None = None,
    no_data: str = "—",
    width: int = 480,
    height: int = 360,
) -> str:
    """One slice per label, with a legend; slices of 0 are left out, and with nothing to share
    out (every value 0) the chart shows ``no_data`` instead of an empty circle."""
    if len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels for {len(values)} values")
    chart = pygal.Pie(
        **_config(title, no_data, width, height),
        inner_radius=0.45 if donut else 0,
        legend_at_bottom=True,
    )
    if value_format is not None:
        chart.value_formatter = value_format
    for label, value in zip(labels, values, strict=True):
        if value:
            chart.add(label, value)
    return _render(chart)
