"""Small charts drawn on the server as SVG: no script, no library, readable when printed.

The plot stretches with the page (positions are percentages) while the text keeps its
size, so a chart reads the same on a 360 px phone as on a desktop screen or on paper.
The same input always gives the same bytes.
"""

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

PLANNED_COLOUR = "#9cb8d6"
AIRED_COLOUR = "#0b5394"
TEXT_COLOUR = "#1b1f24"
GRID_COLOUR = "#d0d7de"
PLOT_RIGHT = 84.0  # percent of the width where bars stop; the rest holds their values

LEGEND_HEIGHT = 28
LABEL_HEIGHT = 18
BAR_HEIGHT = 13
BAR_GAP = 3
GROUP_GAP = 12
AXIS_HEIGHT = 44

Bar = tuple[str, float, float]  # label, planned, aired


def number(value: float) -> str:
    """A number as Vietnamese write it: 1.234 for thousands, 12,5 for a decimal."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", ".")
    whole, _, fraction = f"{value:,.1f}".partition(".")
    return f"{whole.replace(',', '.')},{fraction}"


def nice_ceiling(value: float, *, ticks: int = 4, whole: bool = True) -> tuple[float, float]:
    """The top of the axis and its step: a round number at or above `value`.

    With `whole` the step is never below one, as counts have no fractions.
    """
    if value <= 0:
        return 1.0, 1.0
    raw = value / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = 10 * magnitude
    for factor in (1, 2, 5) if whole else (1, 2, 2.5, 5):
        if factor * magnitude >= raw:
            step = factor * magnitude
            break
    if whole:
        step = max(1.0, float(math.ceil(step)))
    return step * math.ceil(value / step - 1e-9), step


def _pct(value: float, top: float) -> str:
    return f"{PLOT_RIGHT * value / top:.2f}%"


def bar_chart(
    *,
    title: str,
    bars: Sequence[Bar],
    unit: str = "lượt",
    axis_label: str = "Số lượt cụm loa",
    planned_name: str = "Theo kế hoạch",
    aired_name: str = "Đã phát",
) -> Markup:
    """Grouped horizontal bars, planned beside aired, with values, an axis and a legend."""
    described = "; ".join(
        f"{label}: {planned_name.lower()} {number(planned)} {unit}, "
        f"{aired_name.lower()} {number(aired)} {unit}"
        for label, planned, aired in bars
    )
    summary = f"{title}. {described}." if bars else f"{title}. Chưa có số liệu."
    if not bars:
        return Markup(
            '<svg class="chart" role="img" width="100%" height="40" aria-label="{s}">'
            '<title>{t}</title><text x="0" y="24" fill="{c}" font-size="14">'
            "Chưa có số liệu để vẽ biểu đồ.</text></svg>"
        ).format(s=summary, t=title, c=TEXT_COLOUR)
    whole = all(float(v).is_integer() for _, p, a in bars for v in (p, a))
    top, step = nice_ceiling(max(max(p, a) for _, p, a in bars), whole=whole)
    group = LABEL_HEIGHT + 2 * BAR_HEIGHT + BAR_GAP + GROUP_GAP
    plot_top = LEGEND_HEIGHT
    plot_bottom = plot_top + group * len(bars)
    height = plot_bottom + AXIS_HEIGHT
    parts: list[str] = [
        f'<svg class="chart" role="img" width="100%" height="{height}" '
        f'aria-label="{escape(summary)}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="13" fill="{TEXT_COLOUR}">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(summary)}</desc>",
        # The legend, in the order the bars appear.
        f'<rect x="0" y="6" width="14" height="14" fill="{PLANNED_COLOUR}"/>',
        f'<text x="20" y="18">{escape(planned_name)}</text>',
        f'<rect x="130" y="6" width="14" height="14" fill="{AIRED_COLOUR}"/>',
        f'<text x="150" y="18">{escape(aired_name)}</text>',
    ]
    tick = 0.0
    while tick <= top + 1e-9:
        x = _pct(tick, top)
        anchor = "start" if tick == 0 else "middle"
        parts.append(
            f'<line x1="{x}" x2="{x}" y1="{plot_top}" y2="{plot_bottom + 4}" '
            f'stroke="{GRID_COLOUR}" stroke-width="1"/>'
            f'<text x="{x}" y="{plot_bottom + 18}" text-anchor="{anchor}" '
            f'font-size="12">{number(tick)}</text>'
        )
        tick = round(tick + step, 9)
    for index, (label, planned, aired) in enumerate(bars):
        y = plot_top + index * group
        parts.append(
            f'<text x="0" y="{y + LABEL_HEIGHT - 5}" font-weight="600">{escape(label)}</text>'
        )
        for offset, value, colour, name in (
            (0, planned, PLANNED_COLOUR, planned_name),
            (BAR_HEIGHT + BAR_GAP, aired, AIRED_COLOUR, aired_name),
        ):
            bar_y = y + LABEL_HEIGHT + offset
            width = _pct(value, top)
            parts.append(
                f'<rect x="0" y="{bar_y}" width="{width}" height="{BAR_HEIGHT}" fill="{colour}">'
                f"<title>{escape(label)} · {escape(name)}: {number(value)} {escape(unit)}</title>"
                "</rect>"
                f'<text x="{width}" dx="4" y="{bar_y + BAR_HEIGHT - 2}" font-size="12">'
                f"{number(value)}</text>"
            )
    parts.append(
        f'<line x1="0" x2="{PLOT_RIGHT:.2f}%" y1="{plot_bottom}" y2="{plot_bottom}" '
        f'stroke="{TEXT_COLOUR}" stroke-width="1"/>'
        f'<text x="{PLOT_RIGHT / 2:.2f}%" y="{height - 6}" text-anchor="middle" '
        f'font-size="12">{escape(axis_label)}</text>'
        "</svg>"
    )
    return Markup("".join(parts))
