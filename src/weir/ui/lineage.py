"""A model version's lineage as a small graph: feature service → training frame → version, with the
code version and the parent version also pointing at it (nodes and edges laid out for an SVG template).

>>> graph = lineage_graph("churn", 2, {"data_fingerprint": "sha256:ab12", "feature_service": "svc",
...                                    "feature_service_version": 3, "code": None, "parent_version": 1})
>>> [n["kind"] for n in graph["nodes"]], len(graph["edges"])
(['service', 'frame', 'parent', 'version'], 3)
"""

from __future__ import annotations

from typing import Any

from weir.types import JSONDict

NODE_W, NODE_H, GAP = 190, 38, 14


def lineage_graph(model: str, version: int, lineage: JSONDict) -> dict[str, Any]:
    """Nodes (``kind``, ``label``, ``detail``, ``href``, position) and edges (from one node to another)."""
    nodes: list[dict[str, Any]] = []

    def node(kind: str, column: int, label: str, detail: str = "", href: str | None = None) -> dict[str, Any]:
        row = sum(1 for n in nodes if n["column"] == column)
        found = {
            "kind": kind,
            "column": column,
            "label": label,
            "detail": detail,
            "href": href,
            "x": 10 + column * (NODE_W + 60),
            "y": 10 + row * (NODE_H + GAP),
        }
        nodes.append(found)
        return found

    inputs = []
    service, fingerprint = lineage.get("feature_service"), lineage.get("data_fingerprint")
    frame = None
    if service:
        service_version = lineage.get("feature_service_version")
        shown = f"{service} v{service_version}" if service_version else str(service)
        source = node("service", 0, "feature service", shown, f"/ui/features/services/{service}")
    else:
        source = None
    if fingerprint:
        short = str(fingerprint).removeprefix("sha256:")[:12]
        href = f"/ui/features/profiles/{fingerprint}.json" if service else None
        frame = node("frame", 1, "training frame", f"sha256:{short}…", href)
        inputs.append(frame)
    code = lineage.get("code")
    if code:
        commit = str(code.get("commit", ""))[:10] if isinstance(code, dict) else str(code)[:10]
        dirty = " (uncommitted changes)" if isinstance(code, dict) and code.get("dirty") else ""
        inputs.append(node("code", 1, "code version", f"{commit}{dirty}"))
    parent = lineage.get("parent_version")
    if parent is not None:
        inputs.append(node("parent", 1, "parent version", f"{model}/{parent}", f"/ui/models/{model}/{parent}"))
    rows = max(1, len(inputs))
    target = node("version", 2, "this version", f"{model}/{version}")
    target["y"] = 10 + (rows - 1) * (NODE_H + GAP) / 2
    edges = [_edge(n, target) for n in inputs]
    if source is not None:
        edges.insert(0, _edge(source, frame or target))
        if frame is not None:
            source["y"] = frame["y"]
    return {
        "nodes": nodes,
        "edges": edges,
        "width": 30 + 3 * NODE_W + 120,
        "height": 20 + rows * (NODE_H + GAP),
        "node_w": NODE_W,
        "node_h": NODE_H,
    }


def _edge(start: dict[str, Any], end: dict[str, Any]) -> dict[str, float]:
    return {
        "x1": start["x"] + NODE_W,
        "y1": start["y"] + NODE_H / 2,
        "x2": end["x"] - 4,
        "y2": end["y"] + NODE_H / 2,
    }
