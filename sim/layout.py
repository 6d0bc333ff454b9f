"""Where a membrane's channels and pumps lie when a scenario gives their number, not their
positions: a grid of cells over the box's lateral area (nm)."""

from __future__ import annotations

import math

from .yaml_input import brief, text


def grid_positions(count: int, box_xy, at: float = 0.5) -> list[tuple[float, float]]:
    """Lay ``count`` channels on an nx x ny grid (nx*ny == count) with the aspect ratio
    closest to the box's, each at the centre of its cell (nm); `at` = 0 puts them at the
    cells' corners instead (pumps: between the pores of a grid of as many channels)."""
    lx, ly = box_xy
    best = min(((nx, count // nx) for nx in range(1, count + 1) if count % nx == 0),
               key=lambda g: abs(math.log((lx / g[0]) / (ly / g[1]))))
    nx, ny = best
    return [((ix + at) * lx / nx, (iy + at) * ly / ny) for iy in range(ny) for ix in range(nx)]


def read_position(r, f, pos, key: str, values, ctx, where: str = "box") -> tuple[float, float]:
    """A schema reader (sim.schema) of [x, y] (lengths) inside the box's lateral edges,
    each in [0, edge); `where` names what it must lie in, in the message."""
    if not isinstance(pos, list) or len(pos) != 2:
        r.fail(key, f"must be [x, y] with units, got {brief(pos)}")
    xy = []
    for k, (v, lim) in enumerate(zip(pos, ctx["box"]["lateral"])):
        q = r.value(f.item, v, f"{key}[{k}]", values, ctx)
        if q >= lim:
            r.fail(f"{key}[{k}]", f"{text(v)} is outside the {where}: must be in "
                                  f"[0 nm, {lim:g} nm)")
        xy.append(q)
    return tuple(xy)
