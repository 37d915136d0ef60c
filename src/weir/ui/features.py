"""What the features pages show: feature views with their versions and online freshness (the
materialisation watermark, and the values held online with the event time of the newest), feature
services with the training frames built from them, and each feature's reference profile as a chart."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from weir.errors import StoreUnavailableError
from weir.features import FeatureStore
from weir.features.definitions import group_refs
from weir.types import JSONDict

logger = logging.getLogger(__name__)


def freshness(store: FeatureStore, view: str, online: bool, now: datetime) -> dict[str, Any]:
    """The view's watermark and what it holds online (nothing is read for an offline-only view); when the
    online store does not answer, ``unavailable`` holds why, and the page shows the rest."""
    if not online:
        return {"watermark": None, "values": None, "newest": None, "age": None}
    try:
        held = store.online.summary(view)
    except StoreUnavailableError as exc:
        logger.warning("Online freshness of view %r unavailable: %s", view, exc)
        watermark = store.catalog.watermark(view)
        return {"watermark": watermark, "values": None, "newest": None, "age": None, "unavailable": exc.message}
    newest = None if held.newest_event_us is None else datetime.fromtimestamp(held.newest_event_us / 1e6, UTC)
    return {
        "watermark": store.catalog.watermark(view),
        "values": held.values,
        "newest": newest,
        "age": None if newest is None else _age(now - newest),
    }


def overview(store: FeatureStore, now: datetime | None = None) -> dict[str, Any]:
    """Every view (latest version, freshness) and service (latest version, newest frame)."""
    now = now or datetime.now(UTC)
    latest = store.catalog.definitions()
    views = [
        {"def": d, "fresh": freshness(store, d.name, d.spec.get("online", True), now)}
        for d in latest
        if d.kind == "view"
    ]
    services = []
    for d in latest:
        if d.kind == "service":
            newest = store.catalog.profiles(d.name, limit=1)
            services.append(
                {"def": d, "views": sorted(group_refs(d.spec["features"])), "frame": next(iter(newest), None)}
            )
    return {"views": views, "services": services, "entities": [d for d in latest if d.kind == "entity"]}


def profile_chart(stats: JSONDict) -> dict[str, Any] | None:
    """One feature's profile as a chart of shares of its rows (as :func:`weir.monitoring.report.chart_svg`
    draws it): its histogram, or its most frequent values."""
    if "histogram" in stats:
        counts, edges = stats["histogram"]["counts"], stats["histogram"]["edges"]
        total = max(1, sum(counts))
        labels = [f"{edges[i]:.4g} – {edges[i + 1]:.4g}" for i in range(len(counts))]
        return {"kind": "histogram", "labels": labels, "edges": edges, "reference": [c / total for c in counts]}
    if stats.get("top"):
        total = max(1, int(stats.get("count", 0)))
        top = stats["top"]
        return {
            "kind": "categories",
            "labels": [t["value"] for t in top],
            "reference": [t["count"] / total for t in top],
        }
    return None


def view_profiles(store: FeatureStore, view: str, fields: list[str]) -> dict[str, dict[str, Any]]:
    """Each feature of ``view``: its profile in the newest training frame of a service that uses it."""
    frames = []
    for d in store.catalog.definitions("service"):
        used = [f for f in group_refs(d.spec["features"]).get(view, []) if f in fields]
        if used:
            frames += [(p, used) for p in store.catalog.profiles(d.name, limit=1)]
    found: dict[str, dict[str, Any]] = {}
    for profile, used in sorted(frames, key=lambda pair: pair[0]["created_at"], reverse=True):
        for feature in used:
            stats = profile["features"].get(feature) or profile["features"].get(f"{view}__{feature}")
            if feature not in found and stats is not None:
                found[feature] = {"stats": stats, "chart": profile_chart(stats), "frame": profile}
    return found


def _age(delta: Any) -> str:
    seconds = delta.total_seconds()
    if seconds < 0:
        return "in the future"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{int(seconds)} s"
