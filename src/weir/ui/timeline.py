"""A model's alias history as a timeline: one lane per alias, one segment per version it pointed to.

Moves are placed on a time axis from the first move to the last; the segments still current run on to
"now" in a fixed strip at the right end (so moves minutes apart stay readable a month later).

>>> from datetime import datetime, UTC
>>> from weir.registry.records import AliasMove
>>> t = [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 3, 5)]
>>> moves = [AliasMove("m", "champion", 1, None, t[0], "ada", ""), AliasMove("m", "champion", 2, 1, t[1], "bo", ""),
...          AliasMove("m", "challenger", 3, None, t[2], "ada", "")]
>>> lanes = alias_timeline(moves)["lanes"]
>>> [(lane["alias"], [s["version"] for s in lane["segments"]]) for lane in lanes]
[('challenger', [3]), ('champion', [1, 2])]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from weir.registry.records import AliasMove
from weir.ui.charts import PALETTE

LEFT, WIDTH, NOW_STRIP, LANE = 90, 640, 90, 26


def alias_timeline(history: Sequence[AliasMove]) -> dict[str, Any]:
    """Lanes (``alias``, ``segments`` with ``x``, ``width``, ``version``, ``since``, ``until``, ``by``) and
    the axis's ends."""
    if not history:
        return {"lanes": [], "width": WIDTH, "height": 0}
    moves = sorted(history, key=lambda m: m.moved_at)
    first, last = moves[0].moved_at, moves[-1].moved_at
    span = (last - first).total_seconds()
    plot = WIDTH - LEFT - NOW_STRIP - 10

    def x_of(at: Any) -> float:
        return LEFT + (plot * (at - first).total_seconds() / span if span > 0 else 0.0)

    versions = sorted({m.version for m in moves if m.version is not None})
    colour = {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(versions)}
    lanes = []
    for lane, alias in enumerate(sorted({m.alias for m in moves})):
        mine = [m for m in moves if m.alias == alias]
        segments = []
        for move, after in zip(mine, [*mine[1:], None], strict=True):
            if move.version is None:  # the alias was deleted: nothing until the next move
                continue
            start = x_of(move.moved_at)
            end = x_of(after.moved_at) if after is not None else WIDTH - 10
            segments.append(
                {
                    "x": start,
                    "width": max(3.0, end - start),
                    "version": move.version,
                    "colour": colour[move.version],
                    "since": move.moved_at,
                    "until": None if after is None else after.moved_at,
                    "by": move.moved_by,
                    "reason": move.reason,
                    "y": 18 + lane * LANE,
                }
            )
        lanes.append({"alias": alias, "y": 18 + lane * LANE, "segments": segments})
    return {
        "lanes": lanes,
        "width": WIDTH,
        "height": 36 + len(lanes) * LANE,
        "first": first,
        "last": last,
        "now_x": WIDTH - NOW_STRIP,
        "left": LEFT,
    }
