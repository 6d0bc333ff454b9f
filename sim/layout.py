"""Where a membrane's channels and pumps lie when a scenario gives their number, not their
positions: a grid of cells over the box's lateral area (nm)."""

from __future__ import annotations

import math


def grid_positions(count: int, box_xy, at: float = 0.5) -> list[tuple[float, float]]:
    """Lay ``count`` channels on an nx x ny grid (nx*ny == count) with the aspect ratio
    closest to the box's, each at the centre of its cell (nm); `at` = 0 puts them at the
    cells' corners instead (pumps: between the pores of a grid of as many channels)."""
    lx, ly = box_xy
    best = min(((nx, count // nx) for nx in range(1, count + 1) if count % nx == 0),
               key=lambda g: abs(math.log((lx / g[0]) / (ly / g[1]))))
    nx, ny = best
    return [((ix + at) * lx / nx, (iy + at) * ly / ny) for iy in range(ny) for ix in range(nx)]
