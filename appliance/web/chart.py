"""A price-history chart as plain numbers for a server-rendered SVG (no script, no library).

The template draws a polyline through ``points`` and the labels; everything here is numbers
and escaped text, so the chart can carry nothing that runs.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 640, 220, 64, 16, 12, 36


@dataclass
class Chart:
    """What ``entry.html`` draws: the line, dots with titles, axis labels, the currency."""

    currency: str
    points: str = ""
    dots: list[dict[str, Any]] = field(default_factory=list)
    y_labels: list[dict[str, Any]] = field(default_factory=list)
    x_labels: list[dict[str, Any]] = field(default_factory=list)
    left_out: int = 0  # observations in another currency or without a price


def _when(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    return dt.datetime.fromisoformat(str(v).rstrip("Z"))


def price_chart(history: list[dict[str, Any]]) -> Chart | None:
    """The chart of the current observations' prices over time, in the currency most of them
    use; None with fewer than one priced observation."""
    priced = [h for h in history if h.get("is_current") and h.get("unit_price") is not None]
    if not priced:
        return None
    currency = Counter(h.get("currency") or "" for h in priced).most_common(1)[0][0]
    pts = sorted(
        ((_when(h["observed_at"]), float(h["unit_price"]), h) for h in priced
         if (h.get("currency") or "") == currency),
        key=lambda p: (p[0], p[2]["id"]),
    )  # fmt: skip
    chart = Chart(currency=currency, left_out=len(history) - len(pts))
    t0, t1 = pts[0][0], pts[-1][0]
    lo, hi = min(p[1] for p in pts), max(p[1] for p in pts)
    if hi == lo:
        lo, hi = lo * 0.9, hi * 1.1 if hi else 1.0
    span_t = (t1 - t0).total_seconds() or 1.0
    inner_w, inner_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B

    def x(t: dt.datetime) -> float:
        if t1 == t0:
            return PAD_L + inner_w / 2
        return PAD_L + inner_w * (t - t0).total_seconds() / span_t

    def y(v: float) -> float:
        return PAD_T + inner_h * (1 - (v - lo) / (hi - lo))

    coords = [(round(x(t), 1), round(y(v), 1)) for t, v, _ in pts]
    chart.points = " ".join(f"{a},{b}" for a, b in coords)
    for (cx, cy), (t, v, h) in zip(coords, pts, strict=True):
        chart.dots.append({"x": cx, "y": cy, "title": f"{t:%Y-%m-%d}: {v:g} {currency}",
                           "mail_id": h.get("mail_id")})  # fmt: skip
    for k in range(3):
        v = lo + (hi - lo) * k / 2
        chart.y_labels.append({"x": PAD_L - 6, "y": round(y(v) + 4, 1), "text": f"{v:.4g}"})
    chart.x_labels.append({"x": PAD_L, "y": HEIGHT - 12, "text": f"{t0:%Y-%m-%d}"})
    if t1 != t0:
        chart.x_labels.append({"x": WIDTH - PAD_R, "y": HEIGHT - 12, "text": f"{t1:%Y-%m-%d}"})
    return chart
