"""Articles per day as a small SVG bar chart, drawn by the server (no script, no library)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 540, 90, 14


def bar_chart(days: Sequence[tuple[str, int]], label: str) -> str:
    """An inline SVG: one bar per day, the highest day's count and the date range as text."""
    top = max((n for _, n in days), default=0)
    n = max(len(days), 1)
    step = (WIDTH - 2 * PAD) / n
    bars = []
    for i, (day, count) in enumerate(days):
        if not count:
            continue
        h = (HEIGHT - 2 * PAD) * count / top
        x = PAD + i * step
        y = HEIGHT - PAD - h
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 1, 1):.1f}" height="{h:.1f}">'
            f"<title>{escape(day)}: {count}</title></rect>"
        )
    first = escape(days[0][0]) if days else ""
    last = escape(days[-1][0]) if days else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-label="{escape(label)}">'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"/>'
        + "".join(bars)
        + f'<text x="{PAD}" y="{HEIGHT - 2}">{first}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 2}" text-anchor="end">{last}</text>'
        f'<text x="{PAD}" y="{PAD - 3}">max {top}/day</text></svg>'
    )
