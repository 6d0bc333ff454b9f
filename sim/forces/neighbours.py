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
order every call. Every row has the same capacity, so a build scans the cells once, writing
each row in place (a list with rows of exactly their length would need a counting scan
first, a third of a build). A row that finds more pairs than its capacity keeps counting
without storing them; the build then grows every row to 1.25 times the longest one and
scans again (the first build, or a denser configuration later). Lengths in nm.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..periodic import minimum_image
from .cells import CellList, starts_from_counts

# slots per row before the first build: 150 mM with a 3.25 nm list radius gives rows of ~13
# owned pairs (the longest of 1e5 about 32); the first build grows the rows to fit
INITIAL_ROW_CAPACITY = 8


class VerletList:
    """Half neighbour list of N ions in a periodic orthorhombic box (edges nm).

    cutoff: r_c in nm; skin: extra list radius in nm (clipped so that r_c + skin stays within
    half the smallest box edge, where the minimum image is unique; with no room left the list
    is rebuilt on every call).

    After `refresh(pos)`: `ion_of_slot` (N,) the ion in each slot and `slot_of_ion` its
    inverse; `pos` (N, 3) positions in slot order; `partner[row_start[s]:row_end[s]]` the
    owned pairs of slot s (partner slots, sorted by ion number; row_start[s] = s x the row
    capacity); the incoming pairs of slot t are the entries in_start[t]:in_start[t+1],
    sorted by the owner's ion number; `in_position[p]`, where owned pair p sits among its
    partner's incoming entries, so that a force kernel can store per-pair values there
    (`pair_values`, three per pair) and the partner read its incoming values contiguously.
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
        self.row_end = np.zeros(n, dtype=np.int64)
        self.in_start = np.zeros(n + 1, dtype=np.int64)
        self._fill = np.zeros(n + 1, dtype=np.int64)
        self.slot_of_ion = np.zeros(n, dtype=np.int64)
        self._size_rows(INITIAL_ROW_CAPACITY)
        self._size_incoming(0)
        self.builds = 0
        self.scans = 0  # cell scans: one per build, two where the rows had to grow
        self._valid = False

    def _size_rows(self, capacity: int):
        """Rows of `capacity` slots each, the last one a spare (see scan_owned). The
        capacity is 2-3 times the mean row's length, so the two arrays of rows hold int32
        (half the memory; the ions and the pairs stay below 2^31, checked at each build)."""
        n = self.n
        self.row_capacity = capacity
        self.row_start = np.arange(n + 1, dtype=np.int64) * capacity
        self.partner = np.zeros(n * capacity, dtype=np.int32)
        self.in_position = np.zeros(n * capacity, dtype=np.int32)  # pair p -> incoming entry

    def _size_incoming(self, length: int):
        """The incoming side is packed: as long as the pairs."""
        # scratch for the force kernels: a pair's force on its owner (kJ/(mol nm), x y z)
        self.pair_values = np.zeros((length, 3))

    @property
    def n_pairs(self) -> int:
        return int(np.sum(self.row_end - self.row_start[: self.n]))

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
        longest = scan_owned(*args, self.row_capacity, self.row_end, self.partner)
        self.scans += 1
        if longest >= self.row_capacity:  # the spare slot is the last one of a row
            self._size_rows(int(1.25 * longest) + 2)
            scan_owned(*args, self.row_capacity, self.row_end, self.partner)
            self.scans += 1
        self.row_end += self.row_start[: self.n]
        pairs = int(np.sum(self.row_end - self.row_start[: self.n]))
        if pairs > self.pair_values.shape[0]:
            if pairs >= 2 ** 31:
                raise OverflowError(f"{pairs} pairs in the Verlet list: in_position holds "
                                    f"int32 indices (at most 2^31 - 1)")
            self._size_incoming(int(1.25 * pairs) + 16)
        transpose(self.row_start, self.row_end, self.partner, order, self.slot_of_ion,
                  self.in_start, self.in_position, self._fill)
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
def scan_owned(pos, order, box, ncell, cell_start, off_x, off_y, off_z, list_cut2, capacity,
               counts, partner):
    """The pairs within sqrt(list_cut2) that each slot owns: counts[s] = their number, and
    partner[s capacity:s capacity + counts[s]] = their slots, sorted by ion number, where
    counts[s] < capacity: each row needs one spare slot after its pairs. A longer row is
    counted but not stored (nor sorted). Returns the longest count. Loops run cell by
    neighbour cell, so the neighbour's index and periodic shift are worked out once for all
    ions of the cell; counts holds each row's cursor meanwhile. Along an axis of one or two
    cells the same cell is visited under different shifts; r_list <= half the box edge keeps
    a pair from being found twice."""
    n_cells = ncell[0] * ncell[1] * ncell[2]
    for cell in prange(n_cells):
        cx, cy, cz = _cell_coords(cell, ncell)
        first, last = cell_start[cell], cell_start[cell + 1]
        for s in range(first, last):
            counts[s] = s * capacity
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
                        spare = (s + 1) * capacity - 1
                        for t in range(cell_start[other], cell_start[other + 1]):
                            dx = xs - pos[t, 0]
                            dy = ys - pos[t, 1]
                            dz = zs - pos[t, 2]
                            if dx * dx + dy * dy + dz * dz >= list_cut2 or t == s:
                                continue
                            # branch-free: ownership is a coin flip the CPU cannot predict;
                            # the row's spare slot absorbs the last write, and every write
                            # past it while the row overflows
                            partner[min(k, spare)] = t
                            k += owns(a, order[t])
                        counts[s] = k
        for s in range(first, last):
            lo = s * capacity
            k = counts[s]
            counts[s] = k - lo
            if k - lo < capacity:  # insertion sort by ion number (rows are a few dozen long)
                for u in range(lo + 1, k):
                    t = partner[u]
                    key = order[t]
                    v = u - 1
                    while v >= lo and order[partner[v]] > key:
                        partner[v + 1] = partner[v]
                        v -= 1
                    partner[v + 1] = t
    longest = 0
    for s in range(counts.shape[0]):
        longest = max(longest, counts[s])
    return longest


@njit(cache=True, inline="always")
def _neighbour_cell(c, n, length):
    """Cell index c folded into 0..n-1 and the shift (nm) that brings its ions next to us."""
    if c < 0:
        return c + n, -length
    if c >= n:
        return c - n, length
    return c, 0.0


@njit(cache=True)
def transpose(row_start, row_end, partner, order, slot_of_ion, in_start, in_position, fill):
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
            in_position[p] = fill[t]
            fill[t] += 1
