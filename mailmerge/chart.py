"""A horizontal stacked bar chart as SVG, for the printed report: one bar per group, one segment per kind
of answer, the counts written in the segments.

Drawn here rather than by a charting library: the chart is a few rectangles, and the report needs it to
read in black and white (a photocopy of a printout), so each series has a fill that differs by more than
its colour: black, dark grey, hatching, light grey, white. WeasyPrint draws the SVG with the report's fonts.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

WIDTH = 460.0  # user units: the text column of an A4 page with the decree's margins is about 468 pt
FONT_SIZE = 9.0
CHARACTER = 0.52 * FONT_SIZE  # the average advance of a serif letter: enough to size the label column
BAR, GAP = 13.0, 7.0
LEGEND = 2 * FONT_SIZE + 6
TOTAL_SPACE = 34.0  # after each bar: its total
LABEL_SHARE = 0.36  # the label column takes at most this share of the width; longer group names are cut
FONTS = "Times New Roman, Tinos, Liberation Serif, DejaVu Serif, serif"  # the letters' (SVG does not inherit CSS)

# Fill and text colour of each series in turn; the hatching is a pattern defined once.
FILLS = (("#000000", "#ffffff"), ("#5a5a5a", "#ffffff"), ("url(#hatch)", "#000000"), ("#d0d0d0", "#000000"))
LAST_FILL = ("#ffffff", "#000000")
HATCH = (
    '<pattern id="hatch" patternUnits="userSpaceOnUse" width="4" height="4">'
    '<rect width="4" height="4" fill="#ffffff"/>'
    '<path d="M-1,1 l2,-2 M0,4 l4,-4 M3,5 l2,-2" stroke="#000000" stroke-width="0.7"/></pattern>'
)


@dataclass(frozen=True)
class Bar:
    label: str
    counts: tuple[int, ...]  # one per series, in the series' order


def fills(series: int) -> list[tuple[str, str]]:
    """(fill, text colour) for each of `series` series: white (unfilled) is always the last one's."""
    return [*FILLS[: series - 1], LAST_FILL]


def bar_chart(series: list[str], bars: list[Bar]) -> str:
    """The chart as an `<svg>` element: a legend of `series` on top, then one bar per group, its length
    the group's total on a scale common to all bars, so that groups of different sizes compare."""
    colours = fills(len(series))
    label_width = min(max((len(bar.label) for bar in bars), default=0) * CHARACTER + 8, WIDTH * LABEL_SHARE)
    largest = max((sum(bar.counts) for bar in bars), default=0) or 1
    scale = (WIDTH - label_width - TOTAL_SPACE) / largest
    height = LEGEND + len(bars) * (BAR + GAP)
    parts = [legend(series, colours)]
    for index, bar in enumerate(bars):
        top = LEGEND + index * (BAR + GAP)
        parts.append(bar_row(bar, top, label_width, scale, colours))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:g} {height:g}" '
        f'width="{WIDTH:g}pt" height="{height:g}pt" font-size="{FONT_SIZE:g}" font-family="{FONTS}" role="img">'
        f"<defs>{HATCH}</defs>{''.join(parts)}</svg>"
    )


def legend(series: list[str], colours: list[tuple[str, str]]) -> str:
    """A swatch and a name for each series, on one line while they fit, then a second."""
    items, x, y = [], 0.0, 0.0
    for name, (fill, _text) in zip(series, colours, strict=True):
        width = 14 + len(name) * CHARACTER + 12
        if x and x + width > WIDTH:
            x, y = 0.0, y + FONT_SIZE + 3
        items.append(
            f'<rect x="{x:g}" y="{y + 1:g}" width="10" height="{FONT_SIZE - 1:g}" fill="{fill}" '
            f'stroke="#000000" stroke-width="0.5"/>'
            f'<text x="{x + 14:g}" y="{y + FONT_SIZE - 0.5:g}">{escape(name)}</text>'
        )
        x += width
    return "".join(items)


def bar_row(bar: Bar, top: float, label_width: float, scale: float, colours: list[tuple[str, str]]) -> str:
    """The group's name, its segments with their counts, and its total after the bar."""
    baseline = top + BAR / 2 + FONT_SIZE * 0.35
    parts = [f'<text x="0" y="{baseline:g}">{escape(cut(bar.label, label_width))}</text>']
    x = label_width
    for count, (fill, text) in zip(bar.counts, colours, strict=True):
        if not count:
            continue
        width = count * scale
        parts.append(
            f'<rect x="{x:g}" y="{top:g}" width="{width:g}" height="{BAR:g}" fill="{fill}" '
            f'stroke="#000000" stroke-width="0.5"/>'
        )
        if width >= len(str(count)) * CHARACTER + 4:
            parts.append(count_label(count, x + width / 2, top, baseline, fill, text))
        x += width
    parts.append(f'<text x="{x + 4:g}" y="{baseline:g}">{sum(bar.counts)}</text>')
    return "".join(parts)


def count_label(count: int, middle: float, top: float, baseline: float, fill: str, colour: str) -> str:
    """A segment's count in its middle; on hatching, on a white patch so that the lines do not hide it."""
    text = f'<text x="{middle:g}" y="{baseline:g}" text-anchor="middle" fill={quoteattr(colour)}>{count}</text>'
    if not fill.startswith("url("):
        return text
    width = len(str(count)) * CHARACTER + 3
    patch = f'<rect x="{middle - width / 2:g}" y="{top + 2:g}" width="{width:g}" height="{BAR - 4:g}" fill="#ffffff"/>'
    return patch + text


def cut(label: str, width: float) -> str:
    """`label`, shortened with an ellipsis to fit `width`."""
    fits = int((width - 8) / CHARACTER)
    return label if len(label) <= fits else label[: max(fits - 1, 1)].rstrip() + "…"
