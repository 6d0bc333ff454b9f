"""Cell lists for pair interactions within a cut-off in a periodic orthorhombic box.

Cells are at least one cut-off wide, so all partners of an ion lie in its own and the 26
neighbouring cells. Neighbour cells are visited with an explicit periodic shift; along an
axis with only one or two cells the same cell is visited under different shifts, and since
the cut-off is at most half the box, at most one image of a pair is within it (no pair is
counted twice). The binning is a counting sort: deterministic, O(N).
"""

from __future__ import annotations

import numpy as np
from numba import njit


class CellList:
    """Pre-allocated cell-list storage for N particles in a box, cut-off rc (nm)."""

    def __init__(self, box, cutoff: float, n_particles: int):
        box = np.asarray(box, dtype=np.float64)
        if cutoff > 0.5 * box.min() + 1e-12:
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

    def build(self, pos):
        """Bin positions (N,3) nm, wrapped into the box."""
        bin_particles(pos, self.box, self.ncell, self.cell_of, self.cell_start, self.order,
                      self._fill)


@njit(cache=True)
def bin_particles(pos, box, ncell, cell_of, cell_start, order, fill):
    """Counting sort of particles into cells; order lists particles cell by cell."""
    n_cells = cell_start.shape[0] - 1
    for c in range(n_cells + 1):  # loops, not slice assignments: those compile slowly
        cell_start[c] = 0
    for i in range(pos.shape[0]):
        cx = min(int(pos[i, 0] / box[0] * ncell[0]), ncell[0] - 1)
        cy = min(int(pos[i, 1] / box[1] * ncell[1]), ncell[1] - 1)
        cz = min(int(pos[i, 2] / box[2] * ncell[2]), ncell[2] - 1)
        c = (cx * ncell[1] + cy) * ncell[2] + cz
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
