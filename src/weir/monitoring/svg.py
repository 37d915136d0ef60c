"""Inline SVG charts for the drift report, built with the standard library only (no template engine).

Every chart carries its data so that a browser test (or a reader of the saved file) can check it: the
``<svg>`` element holds ``data-chart`` (``histogram``, ``categories`` or ``line``), ``data-labels`` and
one ``data-*`` JSON array per series, and each bar or point is an element with ``data-series``,
``data-index`` and ``data-value``. Every piece of text is escaped with :func:`html.escape`.

>>> svg = bar_chart(["a", "b"], {"reference": [0.5, 0.5], "current": [0.2, 0.8]}, overlay=False)
>>> svg.count('class="bar reference"'), svg.count('class="bar current"')
(2, 2)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from html import escape

COLOURS = {"reference": "#4c72b0", "current": "#dd8452"}
"""Fill of the two distributions; the performance chart cycles through :data:`PALETTE`."""
PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")

Values = Sequence[float | None]


def _attr(value: object) -> str:
    """``value`` as an escaped attribute value; lists and dicts become JSON (``NaN`` and infinities ``null``)."""
    if isinstance(value, list | tuple | dict):
        value = json.dumps(_finite(value), separators=(",", ":"), allow_nan=False)
    return escape(str(value), quote=True)


def _finite(value: object) -> object:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    return value


def _num(value: float) -> str:
    return f"{value:.4g}"


def _short(label: str, width: int = 12) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _top(values: Sequence[Values]) -> float:
    finite = [v for series in values for v in series if v is not None and math.isfinite(v)]
    top = max(finite, default=0.0)
    return top if top > 0 else 1.0


def bar_chart(
    labels: Sequence[str],
    series: Mapping[str, Values],
    *,
    overlay: bool,
    x_ticks: Sequence[tuple[float, str]] | None = None,
    width: int = 380,
    height: int = 170,
) -> str:
    """Bars of each series over ``labels``: overlaid and semi-transparent (``overlay``, a histogram on shared
    bins) or side by side (categories). ``x_ticks`` are ``(fraction of the axis, text)`` pairs; without them
    each label is written under its group."""
    left, right, top_m, bottom = 40, 8, 10, 30
    plot_w, plot_h = width - left - right, height - top_m - bottom
    names = list(series)
    n = max(len(labels), 1)
    top = _top(list(series.values()))
    slot = plot_w / n
    kind = "histogram" if overlay else "categories"
    data = " ".join(f'data-{escape(name, quote=True)}="{_attr(list(series[name]))}"' for name in names)
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" data-chart="{kind}" data-labels="{_attr(list(labels))}" {data}>',
        _axes(left, top_m, plot_w, plot_h, top),
    ]
    opacity = ' fill-opacity="0.55"' if overlay else ""
    for s, name in enumerate(names):
        colour = COLOURS.get(name, PALETTE[s % len(PALETTE)])
        for i, value in enumerate(series[name]):
            share = value if value is not None and math.isfinite(value) else 0.0
            bar_h = plot_h * share / top
            if overlay:
                x, w = left + i * slot + 0.5, max(slot - 1.0, 0.5)
            else:
                w = max((slot - 4.0) / len(names), 0.5)
                x = left + i * slot + 2.0 + s * w
            y = top_m + plot_h - bar_h
            label = labels[i] if i < len(labels) else ""
            tip = f"{name}: {label} — {_num(share)}"
            parts.append(
                f'<rect class="bar {escape(name, quote=True)}" data-series="{escape(name, quote=True)}" '
                f'data-index="{i}" data-label="{_attr(label)}" data-value="{_attr(value)}" x="{x:.2f}" '
                f'y="{y:.2f}" width="{w:.2f}" height="{bar_h:.2f}" fill="{colour}"'
                f"{opacity}><title>{escape(tip)}</title></rect>"
            )
    ticks = x_ticks if x_ticks is not None else [((i + 0.5) / n, _short(lab)) for i, lab in enumerate(labels)]
    for fraction, text in ticks:
        x = left + fraction * plot_w
        anchor = "end" if fraction >= 1 else "start" if fraction <= 0 else "middle"
        parts.append(
            f'<text class="tick" x="{x:.2f}" y="{height - bottom + 14}" text-anchor="{anchor}">{escape(text)}</text>'
        )
    parts.append(_legend(names, width - right, top_m))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(labels: Sequence[str], series: Mapping[str, Values], *, width: int = 900, height: int = 260) -> str:
    """One line per series over ``labels`` (evenly spaced windows); a missing value breaks its line."""
    left, right, top_m, bottom = 48, 12, 12, 34
    plot_w, plot_h = width - left - right, height - top_m - bottom
    finite = [v for values in series.values() for v in values if v is not None and math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if high == low:
        low, high = low - 0.5, high + 0.5
    n = len(labels)

    def x_of(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y_of(v: float) -> float:
        return top_m + plot_h * (high - v) / (high - low)

    data = {name: list(values) for name, values in series.items()}
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" data-chart="line" data-labels="{_attr(list(labels))}" '
        f'data-series="{_attr(data)}">',
        f'<line class="axis" x1="{left}" y1="{top_m + plot_h}" x2="{left + plot_w}" y2="{top_m + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{top_m}" x2="{left}" y2="{top_m + plot_h}"/>',
        f'<text class="tick" x="{left - 4}" y="{top_m + 4}" text-anchor="end">{_num(high)}</text>',
        f'<text class="tick" x="{left - 4}" y="{top_m + plot_h}" text-anchor="end">{_num(low)}</text>',
    ]
    for s, (name, values) in enumerate(series.items()):
        colour = PALETTE[s % len(PALETTE)]
        segments: list[list[str]] = []
        current: list[str] = []
        for i, v in enumerate(values):
            if v is None or not math.isfinite(v):
                segments.append(current)
                current = []
                continue
            current.append(f"{x_of(i):.2f},{y_of(v):.2f}")
        segments.append(current)
        for points in (seg for seg in segments if len(seg) > 1):
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(points)}"/>')
        for i, v in enumerate(values):
            if v is None or not math.isfinite(v):
                continue
            tip = f"{name} at {labels[i]}: {_num(v)}"
            parts.append(
                f'<circle class="point" data-series="{_attr(name)}" data-index="{i}" data-value="{_attr(v)}" '
                f'cx="{x_of(i):.2f}" cy="{y_of(v):.2f}" r="3" fill="{colour}"><title>{escape(tip)}</title></circle>'
            )
    step = max(1, math.ceil(n / 10))
    for i in range(0, n, step):
        parts.append(
            f'<text class="tick" x="{x_of(i):.2f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{escape(_short(labels[i], 16))}</text>"
        )
    parts.append(_legend(list(series), width - right, top_m))
    parts.append("</svg>")
    return "".join(parts)


def _axes(left: int, top_m: int, plot_w: int, plot_h: int, top: float) -> str:
    base = top_m + plot_h
    return (
        f'<line class="axis" x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}"/>'
        f'<line class="axis" x1="{left}" y1="{top_m}" x2="{left}" y2="{base}"/>'
        f'<text class="tick" x="{left - 4}" y="{top_m + 4}" text-anchor="end">{_num(top)}</text>'
        f'<text class="tick" x="{left - 4}" y="{base}" text-anchor="end">0</text>'
    )


def _legend(names: Sequence[str], right: int, top: int) -> str:
    parts = []
    for s, name in enumerate(names):
        colour = COLOURS.get(name, PALETTE[s % len(PALETTE)])
        y = top + 12 * s
        parts.append(
            f'<rect x="{right - 90}" y="{y}" width="9" height="9" fill="{colour}"/>'
            f'<text class="legend" x="{right - 77}" y="{y + 8}">{escape(_short(name, 14))}</text>'
        )
    return "".join(parts)


__all__ = ["COLOURS", "PALETTE", "bar_chart", "line_chart"]
