"""The report's bar chart (SVG drawn by `mailmerge.chart`) and the plain words for why mail did not arrive."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mailmerge.bounce_reasons import plain_reason
from mailmerge.chart import Bar, bar_chart

SVG = "{http://www.w3.org/2000/svg}"
SERIES = ["attending", "delegate", "declined", "not reached", "no answer yet"]


def segments(svg: str) -> list[tuple[float, float, str]]:
    """(y, width, fill) of the bars' rectangles: those below the legend, without the white patches."""
    root = ET.fromstring(svg)
    rects = [r for r in root.iter(f"{SVG}rect") if r.get("stroke") and float(r.get("y")) > 15]
    return [(float(r.get("y")), float(r.get("width")), r.get("fill")) for r in rects]


def test_bars_share_one_scale_and_each_series_has_a_fill_that_survives_black_and_white():
    svg = bar_chart(SERIES, [Bar("Phường 1", (4, 0, 2, 1, 3)), Bar("Quận", (1, 1, 0, 0, 0))])
    first, second = sorted({y for y, _w, _f in segments(svg)})
    widths = {y: [(w, f) for yy, w, f in segments(svg) if yy == y] for y in (first, second)}
    unit = widths[first][0][0] / 4
    assert [round(w / unit, 6) for w, _f in widths[first]] == [4, 2, 1, 3]
    assert [round(w / unit, 6) for w, _f in widths[second]] == [1, 1]  # same scale: a short bar for 2
    fills = [f for _w, f in widths[first]]
    assert fills == ["#000000", "url(#hatch)", "#d0d0d0", "#ffffff"]
    legend = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")][: len(SERIES)]
    assert legend == SERIES
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert texts[len(SERIES) :] == ["Phường 1", "4", "2", "1", "3", "10", "Quận", "1", "1", "2"]


def test_a_long_group_name_is_cut_and_markup_in_it_is_text():
    svg = bar_chart(SERIES, [Bar("Ủy ban MTTQ Việt Nam Phường 10 <b>& các khu phố trực thuộc</b>", (1, 0, 0, 0, 0))])
    label = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")][len(SERIES)]
    assert label.startswith("Ủy ban MTTQ Việt Nam") and label.endswith("…") and len(label) < 60


def test_reasons_in_plain_words_from_the_enhanced_status_code():
    assert plain_reason("5.1.1 smtp; 550 5.1.1 <x@example.org>: User unknown").startswith("the mailbox does not exist")
    assert plain_reason("550 5.2.2 Mailbox full") == "the mailbox is full"
    assert plain_reason("4.2.2 smtp; 452 mailbox full") == "the mailbox is full (temporary)"
    assert plain_reason("5.7.26 DMARC policy").endswith("(SPF, DKIM, DMARC)")
    assert plain_reason("5.9.9") == "a problem of the mail exchange"
    assert plain_reason("5.2.99 something") == "a problem with the mailbox"
    assert plain_reason("550 go away") == "the receiving server gave no standard reason"
