"""Small charts drawn on the server as inline SVG: the admin needs no chart library and
no script to show the daily indicators over time (closed network, nothing external)."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 150
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 20, 22


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def bar_chart(title: str, days: list[date], values: dict[date, float]) -> Markup:
    """Bars of ``values`` over ``days`` (a missing day is a zero), with the title, the
    maximum on the y axis, the first and last day under it, and each bar's day and
    value as its tooltip."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    peak = max((values.get(d, 0.0) for d in days), default=0.0) or 1.0
    step = plot_w / max(len(days), 1)
    bar = max(step * 0.8, 1.0)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="13" font-size="12" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="#999"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#999"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" font-size="10" text-anchor="end">'
        f"{_number(peak)}</text>",
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" font-size="10" text-anchor="end">0</text>',
    ]
    for i, day in enumerate(days):
        value = values.get(day, 0.0)
        h = plot_h * value / peak
        x = LEFT + i * step + (step - bar) / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="#4a7ab7"><title>{day.isoformat()}: {_number(value)}</title></rect>'
        )
    if days:
        y = HEIGHT - 6
        parts.append(f'<text x="{LEFT}" y="{y}" font-size="10">{days[0].isoformat()}</text>')
        parts.append(
            f'<text x="{WIDTH - RIGHT}" y="{y}" font-size="10" text-anchor="end">'
            f"{days[-1].isoformat()}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped above
