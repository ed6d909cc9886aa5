"""Server-side SVG charts (bot/web/charts.py): well-formed, labelled, script-free, inlinable."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bot.web.charts import bar_chart, pie_chart

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> str:
    """Every text the drawing shows, joined."""
    return " ".join("".join(node.itertext()) for node in ET.fromstring(svg).iter(f"{SVG}text"))


def assert_inlinable(svg: str) -> ET.Element:
    assert not svg.lstrip().startswith("<?xml")
    root = ET.fromstring(svg)  # parses: well-formed XML
    assert root.tag == f"{SVG}svg"
    assert "<script" not in svg.lower() and "javascript" not in svg.lower()
    assert not any(el.tag.endswith("script") for el in root.iter())
    assert not any(name.lower().startswith("on") for el in root.iter() for name in el.attrib)
    return root


def test_a_bar_chart_shows_its_labels_and_values_and_no_script() -> None:
    svg = bar_chart("满意度 <本周>", ["很满意", "满意", "一般", "时间长"], [5, 3, None, 1])
    assert_inlinable(svg)
    shown = texts(svg)
    assert "满意度 <本周>" in shown  # escaped by the writer, read back as written
    assert all(label in shown for label in ("很满意", "满意", "一般", "时间长"))
    assert "5" in shown and "3" in shown


def test_a_horizontal_bar_chart_formats_its_values() -> None:
    svg = bar_chart(
        "按期办结率",
        ["民政科", "社保科"],
        [0.75, 1.0],
        horizontal=True,
        value_format="{:.0%}".format,
    )
    assert_inlinable(svg)
    assert "75%" in texts(svg) and "100%" in texts(svg)


def test_a_pie_chart_has_a_legend_and_leaves_out_empty_slices() -> None:
    svg = pie_chart(
        "好差评", ["非常满意", "满意", "基本满意", "不满意", "非常不满意"], [4, 2, 1, 0, 0]
    )
    assert_inlinable(svg)
    shown = texts(svg)
    assert {"非常满意", "满意", "基本满意"} <= set(shown.split())
    assert "非常不满意" not in shown


def test_nothing_to_draw_says_so() -> None:
    empty_pie = pie_chart("好差评", ["满意", "不满意"], [0, 0], no_data="暂无数据")
    empty_bars = bar_chart("预约", ["周六", "周日"], [None, None], no_data="暂无数据")
    for svg in (empty_pie, empty_bars):
        assert_inlinable(svg)
        assert "暂无数据" in texts(svg)


def test_two_charts_on_one_page_do_not_share_ids() -> None:
    first, second = (bar_chart("a", ["x"], [1]), bar_chart("b", ["x"], [2]))
    assert ET.fromstring(first).get("id") != ET.fromstring(second).get("id")


def test_labels_and_values_must_pair_up() -> None:
    with pytest.raises(ValueError, match="2 labels for 1 values"):
        bar_chart("t", ["a", "b"], [1])
