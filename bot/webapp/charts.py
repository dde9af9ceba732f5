"""Chart geometry for the server-side SVG charts: numbers in, coordinates out (the templates draw them).

Every chart is also a table and a CSV file; these functions only place bars, labels and arrows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Bar:
    label: str
    value: float
    display: str
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0


@dataclass
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    horizontal: bool = False
    max_value: float = 0.0
    gridlines: list[tuple[float, str]] = field(default_factory=list)


def nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def column_chart(
    items: list[tuple[str, float, str]], *, width: int = 640, height: int = 220, scale: float | None = None
) -> BarChart:
    """Vertical bars (e.g. one per week). ``items``: (label, value, text shown); ``scale``: a fixed top value
    (a score out of 100), else the next round number above the largest value."""
    top, bottom, left, right = 10, 30, 36, 8
    top_value = scale or nice_max(max((v for _, v, _ in items), default=0))
    inner_w, inner_h = width - left - right, height - top - bottom
    slot = inner_w / max(len(items), 1)
    bars = []
    for i, (label, value, display) in enumerate(items):
        h = inner_h * (value / top_value)
        bars.append(Bar(label, value, display, left + i * slot + slot * 0.15, top + inner_h - h, slot * 0.7, h))
    grid = [(top + inner_h - inner_h * f, _fmt(top_value * f)) for f in (0.0, 0.5, 1.0)]
    return BarChart(width, height, bars, max_value=top_value, gridlines=grid)


def bar_list(items: list[tuple[str, float, str]], *, width: int = 420, row: int = 28) -> BarChart:
    """Horizontal bars with their labels on the left (values mix, funnel)."""
    label_w, right = 150, 80
    top_value = max((v for _, v, _ in items), default=0) or 1
    bars = []
    for i, (label, value, display) in enumerate(items):
        w = (width - label_w - right) * (value / top_value)
        bars.append(Bar(label, value, display, label_w, i * row + 4, max(w, 1.0 if value else 0.0), row - 8))
    return BarChart(width, max(row * len(items), row), bars, horizontal=True, max_value=top_value)


@dataclass
class Node:
    label: str
    x: float
    y: float
    anchor: str


@dataclass
class Arrow:
    source: str
    target: str
    value: int
    path: str
    width: float
    self_loop: bool


@dataclass
class Graph:
    width: int
    height: int
    nodes: list[Node]
    arrows: list[Arrow]


def department_graph(edges: list[tuple[str, str, int]], *, size: int = 420) -> Graph:
    """Departments on a circle; a curved arrow from the giving to the receiving department, as wide as
    its share of kudos (a loop for kudos within one department)."""
    names = sorted({a for a, _, _ in edges} | {b for _, b, _ in edges})
    margin = 120  # room for the department names left and right
    cx, cy = size / 2 + margin, size / 2
    r = size / 2 - 70
    pos: dict[str, tuple[float, float]] = {}
    nodes = []
    for i, name in enumerate(names):
        angle = -math.pi / 2 + 2 * math.pi * i / max(len(names), 1)
        x, y = cx + r * math.cos(angle), cy + r * math.sin(angle)
        pos[name] = (x, y)
        anchor = "middle" if abs(math.cos(angle)) < 0.3 else ("start" if math.cos(angle) > 0 else "end")
        lx, ly = cx + (r + 22) * math.cos(angle), cy + (r + 22) * math.sin(angle)
        nodes.append(Node(name, lx, ly + 4, anchor))
    top = max((n for _, _, n in edges), default=1)
    arrows = []
    for a, b, n in edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        width = 1.5 + 8 * n / top
        if a == b:
            dx, dy = (x1 - cx) / r, (y1 - cy) / r
            ox, oy = x1 + dx * 40, y1 + dy * 40
            path = f"M{x1:.1f},{y1:.1f} C{ox - dy * 30:.1f},{oy + dx * 30:.1f} {ox + dy * 30:.1f},{oy - dx * 30:.1f} {x1 + dy * 4:.1f},{y1 - dx * 4:.1f}"
            arrows.append(Arrow(a, b, n, path, width, True))
            continue
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        # bend to the right of the direction of travel, so A→B and B→A do not overlap
        nx, ny = -(y2 - y1), x2 - x1
        length = math.hypot(nx, ny) or 1
        qx, qy = mx + nx / length * 30, my + ny / length * 30
        # stop short of the target node so the arrow head stays visible
        tx, ty = x2 - (x2 - qx) * 0.12, y2 - (y2 - qy) * 0.12
        arrows.append(Arrow(a, b, n, f"M{x1:.1f},{y1:.1f} Q{qx:.1f},{qy:.1f} {tx:.1f},{ty:.1f}", width, False))
    return Graph(size + 2 * margin, size, nodes, arrows)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
