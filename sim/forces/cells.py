"""Cell lists in a periodic orthorhombic box: pair interactions within a cut-off, and the
overlap test of the initial placement.

Cells are at least one cut-off wide, so all partners of an ion lie in its own and the 26
neighbouring cells. The list is filled in one of two ways:

- all particles at once (:meth:`CellList.build`): a counting sort, deterministic, O(N), that
  lists the particles cell by cell in `order` (cell c holds order[cell_start[c]:
  cell_start[c + 1]], ascending particle number), as the pair loops of
  sim.forces.neighbours want them: contiguous;
- one particle at a time (:meth:`CellList.sequential` and :func:`link`): a linked list,
  head[c] the last particle put into cell c and next[i] the one put in before i (-1 ends
  the chain), for random sequential placement, where each candidate is tested against the
  ions placed so far and a sorted list would have to be rebuilt after every ion.

Neighbour cells are visited with an explicit periodic shift; along an axis with only one or
two cells the same cell is visited under different shifts, and since the cut-off is at most
half the box, at most one image of a pair is within it (no pair is counted twice). A search
that only asks whether any particle is within reach (the placement) needs no such bound.
"""

from __future__ import annotations

import numpy as np
from numba import njit


class CellList:
    """Pre-allocated cell-list storage for N particles in a box (edges nm), cells at least
    `cutoff` (nm) wide.

    single_image: refuse a cut-off beyond half the smallest box edge, where the pair loops
    would meet two images of a pair (or miss one under the minimum image); pass False for a
    search that only asks whether some particle is within reach.
    """

    def __init__(self, box, cutoff: float, n_particles: int, single_image: bool = True):
        box = np.asarray(box, dtype=np.float64)
        if single_image and cutoff > 0.5 * box.min() + 1e-12:
            raise ValueError(f"pair cut-off {cutoff:g} nm exceeds half the smallest box edge "
                             f"{0.5 * box.min():g} nm (minimum image would miss partners)")
        self.box = box
        self.cutoff = float(cutoff)
        self.ncell = np.maximum(1, np.floor(box / cutoff).astype(np.int64))
        n_cells = int(np.prod(self.ncell))
        self.cell_start = np.zeros(n_cells + 1, dtype=np.int64)
        self.cell_of = np.zeros(n_particles, dtype=np.int64)
        self.order = np.zeros(n_particles, dtype=np.int64)
        self._fill = np.zeros(n_cells, dtype=np.int64)
        self.offsets = [np.array([-1, 0, 1], dtype=np.int64)] * 3
        self.n_particles = n_particles

    def build(self, pos):
        """Bin positions (N,3) nm, wrapped into the box."""
        bin_particles(pos, self.box, self.ncell, self.cell_of, self.cell_start, self.order,
                      self._fill)

    def sequential(self):
        """Empty (head, next) arrays for filling the cells one particle at a time with
        :func:`link`: head (cells,) and next (N,), both -1 (no particle)."""
        return (-np.ones(int(np.prod(self.ncell)), dtype=np.int64),
                -np.ones(self.n_particles, dtype=np.int64))


@njit(cache=True, inline="always")
def cell_coordinates(x, y, z, box, ncell):
    """(cx, cy, cz) of the cell holding a point of the box [0, L) (nm): floor(x / L n),
    clipped to n - 1 since x / L * n can round up to n for x just below L."""
    cx = min(int(x / box[0] * ncell[0]), ncell[0] - 1)
    cy = min(int(y / box[1] * ncell[1]), ncell[1] - 1)
    cz = min(int(z / box[2] * ncell[2]), ncell[2] - 1)
    return cx, cy, cz


@njit(cache=True, inline="always")
def cell_index(cx, cy, cz, ncell):
    """Flat index (cx ny + cy) nz + cz of a cell, each coordinate folded periodically into
    0..n-1 first, so that a neighbour such as (cx - 1, cy, cz + 1) may be passed as it is."""
    return ((cx % ncell[0]) * ncell[1] + cy % ncell[1]) * ncell[2] + cz % ncell[2]


@njit(cache=True, inline="always")
def link(i, cell, head, nxt):
    """Put particle i into `cell` of a sequential filling (see :meth:`CellList.sequential`)."""
    nxt[i] = head[cell]
    head[cell] = i


@njit(cache=True)
def bin_particles(pos, box, ncell, cell_of, cell_start, order, fill):
    """Counting sort of particles into cells; order lists particles cell by cell."""
    n_cells = cell_start.shape[0] - 1
    for c in range(n_cells + 1):  # loops, not slice assignments: those compile slowly
        cell_start[c] = 0
    for i in range(pos.shape[0]):
        cx, cy, cz = cell_coordinates(pos[i, 0], pos[i, 1], pos[i, 2], box, ncell)
        c = cell_index(cx, cy, cz, ncell)
        cell_of[i] = c
        cell_start[c + 1] += 1
    for c in range(n_cells):
        cell_start[c + 1] += cell_start[c]
    for c in range(n_cells):
        fill[c] = cell_start[c]
    for i in range(pos.shape[0]):
        c = cell_of[i]
        order[fill[c]] = i
        fill[c] += 1


@njit(cache=True)
def starts_from_counts(counts, starts):
    """Counting-sort offsets: counts[b + 1] holds the size of bin b on entry. Sets
    starts[b] = first index of bin b (starts[-1] = total) and counts[b] = starts[b], the
    cursor from which the caller writes bin b's items."""
    n_bins = starts.shape[0] - 1
    starts[0] = 0
    for b in range(n_bins):
        starts[b + 1] = starts[b] + counts[b + 1]
    for b in range(n_bins):
        counts[b] = starts[b]
