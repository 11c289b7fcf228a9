"""Charts as inline SVG, drawn on the server: no script, no library, readable offline."""

from __future__ import annotations

from html import escape

from markupsafe import Markup


def trend_svg(points: list[tuple[str, float | None]], width: int = 600,
              height: int = 180) -> Markup:
    """A line of shares (0..1) over labelled points; a gap where a point has no value."""
    left, bottom, top = 40, 30, 10
    inner_w, inner_h = width - left - 30, height - bottom - top  # room for the last label
    step = inner_w / max(len(points) - 1, 1)
    parts = [f'<svg class="trend" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Validity rate by week">']
    for share in (0, 0.5, 1):
        y = top + inner_h * (1 - share)
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#c9d1db"/>'
                     f'<text x="4" y="{y + 4:.1f}" font-size="11">{share:.0%}</text>')
    line = []
    for i, (label, share) in enumerate(points):
        x = left + step * i
        parts.append(f'<text x="{x:.1f}" y="{height - 8}" font-size="10" '
                     f'text-anchor="middle">{escape(label[5:])}</text>')
        if share is None:
            continue
        y = top + inner_h * (1 - share)
        line.append(f"{x:.1f},{y:.1f}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#0b5cad">'
                     f'<title>{escape(label)}: {share:.1%}</title></circle>')
    if len(line) > 1:
        parts.insert(1, f'<polyline fill="none" stroke="#0b5cad" stroke-width="2" '
                        f'points="{" ".join(line)}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
