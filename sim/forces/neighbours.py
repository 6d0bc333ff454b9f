"""Verlet neighbour list with a skin, for pair forces computed once per pair (Newton's third law).

The list holds every pair closer than r_list = r_c + skin when it is built; it stays valid
(contains every pair closer than r_c) until some ion has moved more than skin / 2 since, which
`refresh` checks on every call and then rebuilds. Brownian ions wander as sqrt(6 D t) and
the farthest of N goes 2-3 times further: a 0.4 nm skin lasted 8-12 steps of 0.05 ps in a
150 mM electrolyte of 1e3-1e5 ions.

Each pair is stored once, in the row of its *owner*: of ions a < b (original ion numbers) a
owns the pair when a + b is even, b when it is odd, so every ion owns about half of its pairs
wherever it sits in the numbering. Rows are sorted by the partner's ion number, and each ion's
incoming pairs (those it does not own) by the owner's. A force kernel that sums an ion's owned
pairs in row order and its incoming pairs in that order therefore gives a result that depends
on the positions only: not on when the list was built, not on the number of threads. Pairs in
the list but beyond r_c contribute exactly zero.

Memory layout: at each build the ions are renumbered in cell order (their "slot"), so the
partners of an ion are close in memory; `refresh` copies the current positions into slot
order every call. Arrays grow (only) at a build that finds more pairs than they hold.
Lengths in nm.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..periodic import minimum_image
from .cells import CellList, starts_from_counts


class VerletList:
    """Half neighbour list of N ions in a periodic orthorhombic box (edges nm).

    cutoff: r_c in nm; skin: extra list radius in nm (clipped so that r_c + skin stays within
    half the smallest box edge, where the minimum image is unique; with no room left the list
    is rebuilt on every call).

    After `refresh(pos)`: `ion_of_slot` (N,) the ion in each slot and `slot_of_ion` its
    inverse; `pos` (N, 3) positions in slot order; `partner[row_start[s]:row_end[s]]` the
    owned pairs of slot s (partner slots, sorted by ion number); `in_owner[in_start[t]:
    in_start[t+1]]` the owners of the incoming pairs of slot t, sorted by the owner's ion
    number; `in_position[p]`, where owned pair p sits among its partner's incoming entries,
    so that a force kernel can store a per-pair value there and the partner read its
    incoming values contiguously.
    """

    def __init__(self, box, cutoff: float, n_particles: int, skin: float = 0.4):
        box = np.asarray(box, dtype=np.float64)
        self.box = box
        self.cutoff = float(cutoff)
        self.skin = max(0.0, min(float(skin), 0.5 * float(box.min()) - self.cutoff))
        self.cells = CellList(box, self.cutoff + self.skin, n_particles)
        n = n_particles
        self.n = n
        self.ion_of_slot = self.cells.order  # slot -> ion number, filled by the binning
        self.pos = np.zeros((n, 3))
        self._ref = np.zeros((n, 3))  # positions (slot order) at the last build
        self._disp2 = np.zeros(n)
        self.row_start = np.zeros(n + 1, dtype=np.int64)
        self.row_end = np.zeros(n, dtype=np.int64)
        self.in_start = np.zeros(n + 1, dtype=np.int64)
        self._fill = np.zeros(n + 1, dtype=np.int64)
        self.slot_of_ion = np.zeros(n, dtype=np.int64)
        self._allocate_pairs(max(16, 8 * n))
        self.builds = 0
        self._valid = False

    def _allocate_pairs(self, capacity: int):
        self.partner = np.zeros(capacity, dtype=np.int64)
        self.in_owner = np.zeros(capacity, dtype=np.int64)
        self.in_position = np.zeros(capacity, dtype=np.int64)  # pair p -> its incoming entry
        self.pair_values = np.zeros(capacity)  # scratch for the force kernels, one per pair

    @property
    def n_pairs(self) -> int:
        return int(self.row_start[self.n]) - self.n  # each row has one spare slot

    def invalidate(self):
        self._valid = False

    def refresh(self, pos) -> bool:
        """Copy positions (N, 3) nm, wrapped into the box, into slot order; rebuild the list
        when it may have become incomplete. Returns whether it was rebuilt."""
        if self._valid:
            max_disp2 = gather_positions(pos, self.ion_of_slot, self._ref, self.box,
                                         self.pos, self._disp2)
            if max_disp2 <= 0.25 * self.skin * self.skin:
                return False
        self._build(pos)
        return True

    def _build(self, pos):
        c = self.cells
        c.build(pos)
        order = c.order
        # the copy into slot order; the displacement it returns is not needed here
        gather_positions(pos, order, self._ref, self.box, self.pos, self._disp2)
        self._ref[:] = self.pos
        list_cut2 = (self.cutoff + self.skin) ** 2
        args = (self.pos, order, self.box, c.ncell, c.cell_start, c.offsets[0], c.offsets[1],
                c.offsets[2], list_cut2)
        self.row_start[:] = 0
        scan_owned(*args, self._fill, False, self.row_start, self.partner)
        self._fill[: self.n] += 1
        np.cumsum(self._fill[: self.n], out=self.row_start[1:])
        if self.row_start[self.n] > self.partner.shape[0]:
            self._allocate_pairs(int(1.25 * self.row_start[self.n]) + 16)
        scan_owned(*args, self.row_end, True, self.row_start, self.partner)
        self.row_end += self.row_start[: self.n]
        transpose(self.row_start, self.row_end, self.partner, order, self.slot_of_ion,
                  self.in_start, self.in_owner, self.in_position, self._fill)
        self.builds += 1
        self._valid = True


@njit(cache=True, inline="always")
def owns(a, b):
    """Whether ion a owns the pair (a, b): the smaller number when a + b is even."""
    return (a < b) == ((a + b) % 2 == 0)


@njit(cache=True, parallel=True)
def gather_positions(pos, ion_of_slot, ref, box, out, disp2):
    """out[s] = pos[ion_of_slot[s]]; returns the largest squared displacement (nm^2) from ref."""
    n = out.shape[0]
    for s in prange(n):
        i = ion_of_slot[s]
        acc = 0.0
        for d in range(3):
            x = pos[i, d]
            out[s, d] = x
            dd = minimum_image(x - ref[s, d], box[d])
            acc += dd * dd
        disp2[s] = acc
    largest = 0.0
    for s in range(n):
        largest = max(largest, disp2[s])
    return largest


@njit(cache=True, inline="always")
def _cell_coords(cell, ncell):
    return cell // (ncell[1] * ncell[2]), (cell // ncell[2]) % ncell[1], cell % ncell[2]


@njit(cache=True, parallel=True)
def scan_owned(pos, order, box, ncell, cell_start, off_x, off_y, off_z, list_cut2, counts,
               write, row_start, partner):
    """The pairs within sqrt(list_cut2) that each slot owns: counts[s] = their number, and
    with write, partner[row_start[s]:...] = their slots, sorted by ion number. A row needs
    one spare slot after its pairs. Loops run cell by neighbour cell, so the neighbour's
    index and periodic shift are worked out once for all ions of the cell; counts holds each
    row's cursor meanwhile. Along an axis of one or two cells the same cell is visited under
    different shifts; r_list <= half the box edge keeps a pair from being found twice."""
    n_cells = ncell[0] * ncell[1] * ncell[2]
    for cell in prange(n_cells):
        cx, cy, cz = _cell_coords(cell, ncell)
        first, last = cell_start[cell], cell_start[cell + 1]
        for s in range(first, last):
            counts[s] = row_start[s]
        for ox in off_x:
            nx, sx = _neighbour_cell(cx + ox, ncell[0], box[0])
            for oy in off_y:
                ny, sy = _neighbour_cell(cy + oy, ncell[1], box[1])
                for oz in off_z:
                    nz, sz = _neighbour_cell(cz + oz, ncell[2], box[2])
                    other = (nx * ncell[1] + ny) * ncell[2] + nz
                    for s in range(first, last):
                        a = order[s]
                        xs, ys, zs = pos[s, 0] - sx, pos[s, 1] - sy, pos[s, 2] - sz
                        k = counts[s]
                        for t in range(cell_start[other], cell_start[other + 1]):
                            dx = xs - pos[t, 0]
                            dy = ys - pos[t, 1]
                            dz = zs - pos[t, 2]
                            if dx * dx + dy * dy + dz * dz >= list_cut2 or t == s:
                                continue
                            # branch-free: ownership is a coin flip the CPU cannot predict
                            if write:
                                partner[k] = t  # the row's spare slot absorbs the last one
                            k += owns(a, order[t])
                        counts[s] = k
        for s in range(first, last):
            lo = row_start[s]
            k = counts[s]
            counts[s] = k - lo
            if write:  # insertion sort of the row by ion number (rows are a few dozen long)
                for u in range(lo + 1, k):
                    t = partner[u]
                    key = order[t]
                    v = u - 1
                    while v >= lo and order[partner[v]] > key:
                        partner[v + 1] = partner[v]
                        v -= 1
                    partner[v + 1] = t


@njit(cache=True, inline="always")
def _neighbour_cell(c, n, length):
    """Cell index c folded into 0..n-1 and the shift (nm) that brings its ions next to us."""
    if c < 0:
        return c + n, -length
    if c >= n:
        return c - n, length
    return c, 0.0


@njit(cache=True)
def transpose(row_start, row_end, partner, order, slot_of_ion, in_start, in_owner,
              in_position, fill):
    """Incoming pairs of every slot, sorted by the owner's ion number (a counting sort over
    the rows taken in ion order); fills slot_of_ion, the inverse of order."""
    n = row_start.shape[0] - 1
    for s in range(n):
        slot_of_ion[order[s]] = s
    for s in range(n + 1):  # loops, not slice assignments: those compile slowly
        fill[s] = 0
    for s in range(n):
        for p in range(row_start[s], row_end[s]):
            fill[partner[p] + 1] += 1
    starts_from_counts(fill, in_start)
    for a in range(n):
        s = slot_of_ion[a]
        for p in range(row_start[s], row_end[s]):
            t = partner[p]
            in_owner[fill[t]] = s
            in_position[p] = fill[t]
            fill[t] += 1
