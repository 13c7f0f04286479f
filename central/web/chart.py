"""A bar chart of registrations per day as inline SVG, rendered on the server (no script, no
CDN): the police network often has no Internet, and an SVG prints and screenshots cleanly."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 720, 220
_LEFT, _BOTTOM, _TOP = 40, 28, 16


def bar_chart(points: Sequence[tuple[str, int]], title: str) -> str:
    """`points` are (YYYY-MM-DD, count), oldest first."""
    peak = max((n for _, n in points), default=0) or 1
    inner_w, inner_h = WIDTH - _LEFT - 8, HEIGHT - _BOTTOM - _TOP
    step = inner_w / max(len(points), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">',
             f"<title>{escape(title)}</title>",
             f'<line x1="{_LEFT}" y1="{_TOP + inner_h}" x2="{WIDTH - 8}" y2="{_TOP + inner_h}" '
             'stroke="#555"/>',
             f'<text x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end" font-size="11">{peak}</text>',
             f'<text x="{_LEFT - 4}" y="{_TOP + inner_h}" text-anchor="end" '
             'font-size="11">0</text>']
    for i, (day, count) in enumerate(points):
        height = inner_h * count / peak
        x = _LEFT + i * step + step * 0.15
        parts.append(f'<rect x="{x:.1f}" y="{_TOP + inner_h - height:.1f}" '
                     f'width="{step * 0.7:.1f}" height="{height:.1f}" fill="#2b6cb0">'
                     f"<title>{escape(day)}: {count}</title></rect>")
        if i % 5 == 0 or i == len(points) - 1:
            parts.append(f'<text x="{x + step * 0.35:.1f}" y="{HEIGHT - 10}" '
                         f'text-anchor="middle" font-size="10">{escape(day[5:])}</text>')
    parts.append("</svg>")
    return "".join(parts)
