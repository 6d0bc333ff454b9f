"""Pair forces within a cut-off: WCA repulsion and the real-space part of Ewald.

WCA (Weeks, Chandler & Andersen 1971), the purely repulsive Lennard-Jones potential

    U(r) = 4 eps [(sigma/r)^12 - (sigma/r)^6] + eps   for r < 2^(1/6) sigma, else 0,

with Lorentz mixing sigma_ij = (d_i + d_j) / 2 of the ion diameters, so that opposite charges
cannot collapse onto each other. Real-space Ewald (when alpha > 0):

    U(r) = k_e q_i q_j erfc(alpha r) / r,   k_e = 138.935458 / eps_w  kJ nm/(mol e^2).

The erfc comes from a table in r^2 (sim.forces.real_space_table, to about 1e-9 of the bare
Coulomb pair). Both are evaluated in one pass over a Verlet neighbour list
(sim.forces.neighbours). The pass also flags every ion that is closer than OVERLAP_FRACTION
sigma_ij to a partner (WCA energy above 44 kT, a Boltzmann weight below 1e-19): only a
noise step of four or more standard deviations into a contact gets there, and the next
step's force would throw the ion half a nanometre or more. The engine rejects such moves
(sim.run.Simulation.compute_forces).

Each pair is evaluated once (Newton's third law) without atomics or per-thread copies: the
owner of a pair (see sim.forces.neighbours) sums it into its own force and stores the same
three products (F/r) (r_s - r_t) in a per-pair buffer; a second pass gives each ion its
incoming pairs, read back from the buffer in the owners' ion order, contiguously. Every ion's
sum has a fixed order, so forces are bit-identical for any number of threads and whenever the
list was last rebuilt. (Storing the components rather than F/r, which made the second pass
gather the owners' positions again: both passes 0.72 of their time at the flagship, 0.81 at
N = 1e4, 2026-12-07, docs/performance.md; the same bits.)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..periodic import minimum_image
from .neighbours import VerletList
from .real_space_table import real_space_table, screening

WCA_CUTOFF_FACTOR = 2.0 ** (1.0 / 6.0)
OVERLAP_FRACTION = 0.8  # r < 0.8 sigma_ij: U_WCA > 44 kT (with eps = 1 kT), an overlap


class ShortRangeForces:
    """WCA + real-space Coulomb for a fixed set of ions.

    diameters (S,) nm per species; wca_epsilon kJ/mol; coulomb_prefactor kJ nm/(mol e^2)
    (0 disables Coulomb); alpha nm^-1; coulomb_cutoff nm; skin nm, the Verlet list's margin
    (sim.forces.neighbours; a larger skin means longer lists but rarer rebuilds).
    """

    def __init__(self, box, species, charges, diameters, wca_epsilon, coulomb_prefactor=0.0,
                 alpha=0.0, coulomb_cutoff=0.0, skin=None):
        diameters = np.asarray(diameters, dtype=np.float64)
        self.sigma = 0.5 * (diameters[:, None] + diameters[None, :])
        self.wca_cut2 = (WCA_CUTOFF_FACTOR * self.sigma) ** 2
        self.overlap_cut2 = (OVERLAP_FRACTION * self.sigma) ** 2
        self.wca_epsilon = float(wca_epsilon)
        self.prefactor = float(coulomb_prefactor)
        self.alpha = float(alpha)
        self.coulomb_cutoff = float(coulomb_cutoff) if coulomb_prefactor else 0.0
        self.screening, self.inv_spacing = real_space_table(self.alpha, self.coulomb_cutoff)
        self.cutoff = max(float(np.sqrt(self.wca_cut2.max())), self.coulomb_cutoff)
        self.species = np.ascontiguousarray(species, dtype=np.int64)
        self.charges = np.ascontiguousarray(charges, dtype=np.float64)
        n = len(self.species)
        self.neighbours = VerletList(box, self.cutoff, n,
                                     float(default_skin(self.cutoff)) if skin is None else skin)
        self._species_slot = np.zeros(n, dtype=np.int64)
        self._charges_slot = np.zeros(n)
        self._own = np.zeros((n, 3))  # force from owned pairs, slot order
        self._row_energy = np.zeros((n, 2))  # WCA and Coulomb energy of owned pairs
        self._slot_overlap = np.zeros(n, dtype=np.uint8)  # 1: in an overlap, slot order
        self.overlapping = np.zeros(n, dtype=np.uint8)  # 1: closer than 0.8 sigma to another
        self.n_overlapping = 0

    @property
    def n_slots(self) -> int:
        """The rows of the list: the ions (see the phases below)."""
        return self.species.shape[0]

    def compute(self, pos, forces):
        """Add pair forces kJ/(mol nm) into forces (N,3); pos (N,3) nm wrapped into the box.
        Return (U_wca, U_real) kJ/mol. Sets `overlapping` (per ion) and `n_overlapping`
        (see the module docstring)."""
        self.begin(pos)
        self.owned(0, self.n_slots)
        self.incoming(0, self.n_slots, forces)
        return self.finish()

    # The phases of compute, for a caller that runs other work beside them (sim.forces.
    # overlap): begin, owned over every slot range, incoming over every slot range (after all
    # of owned), finish. Each slot's sums are the same however the ranges are cut.
    def begin(self, pos):
        """Copy positions (N, 3) nm into the list's slot order, rebuilding it if needed."""
        nb = self.neighbours
        if nb.refresh(pos):
            take_slots(self.species, self.charges, nb.ion_of_slot, self._species_slot,
                       self._charges_slot)
        self._slot_overlap[:] = 0

    def owned(self, lo: int, hi: int):
        """Pass 1 over slots lo..hi-1 (releases the GIL)."""
        nb = self.neighbours
        owned_pair_forces(lo, hi, nb.pos, self._species_slot, nb.box, self.sigma,
                          self.overlap_cut2, self._charges_slot, nb.row_start, nb.row_end,
                          nb.partner, self.wca_cut2, self.wca_epsilon, self.prefactor,
                          self.screening, self.inv_spacing, self.coulomb_cutoff ** 2,
                          self.cutoff ** 2, nb.in_position, nb.pair_values, self._own,
                          self._row_energy, self._slot_overlap)

    def incoming(self, lo: int, hi: int, forces):
        """Pass 2 over slots lo..hi-1: adds their ions' pair forces into forces (releases
        the GIL)."""
        nb = self.neighbours
        incoming_pair_forces(lo, hi, nb.in_start, nb.pair_values, nb.ion_of_slot, self._own,
                             self._slot_overlap, forces, self.overlapping)

    def finish(self):
        """(U_wca, U_real) kJ/mol of the evaluation; sets n_overlapping."""
        self.n_overlapping = int(np.count_nonzero(self.overlapping))
        return _energy_sums(self._row_energy, self.neighbours.slot_of_ion)


def default_skin(cutoff):
    """Verlet skin (nm) for a pair cut-off (nm, scalar or array): 0.4 nm, less below a 1.5 nm
    cut-off, where the list would be mostly skin. At N = 1e4, 150 mM, r_c = 2.95 nm, dt =
    0.05 ps the step took 11.2 / 11.1 / 10.8 / 10.8 ms at skins 0.3 / 0.4 / 0.6 / 0.8 nm: flat,
    and a thinner list leaves more room under half the box edge."""
    return np.minimum(0.4, 0.2 * np.asarray(cutoff, dtype=np.float64) + 0.1)


@njit(cache=True)
def take_slots(species, charges, ion_of_slot, species_out, charges_out):
    for s in range(ion_of_slot.shape[0]):
        species_out[s] = species[ion_of_slot[s]]
        charges_out[s] = charges[ion_of_slot[s]]


@njit(cache=True)
def _energy_sums(row_energy, slot_of_ion):
    """(U_wca, U_real) summed in ion order, which does not change when the list is rebuilt."""
    u_w = 0.0
    u_c = 0.0
    for i in range(row_energy.shape[0]):
        u_w += row_energy[slot_of_ion[i], 0]
        u_c += row_energy[slot_of_ion[i], 1]
    return u_w, u_c


@njit(cache=True, parallel=True, nogil=True)
def owned_pair_forces(lo, hi, pos, species, box, sigma, overlap_cut2, charges, row_start,
                      row_end, partner,
                      wca_cut2, wca_eps, prefactor, screening_table, inv_spacing, coul_cut2,
                      cut2, in_position, incoming_force, own, row_energy, slot_overlap):
    """Pass 1, over slots lo..hi-1: the WCA and real-space Ewald forces of each slot's owned
    pairs.

    screening_table, inv_spacing: the real-space table (sim.forces.real_space_table).
    own[s] = sum over owned pairs of F/r (r_s - r_t) in kJ/(mol nm); the force of pair p on
    its owner, F/r (r_s - r_t) (0 beyond the cut-off), goes to incoming_force[in_position[p]];
    row_energy[s] = (U_wca, U_real) of the owned pairs in kJ/mol; slot_overlap[s] and
    slot_overlap[t] are set to 1 for both slots of an overlapping pair (zeroed by the caller
    before the pass; several owners may write one slot at once: they all write 1, and pass 2
    reads it after every range of pass 1 has ended)."""
    for s in prange(lo, hi):
        si = species[s]
        qi = charges[s]
        xi, yi, zi = pos[s, 0], pos[s, 1], pos[s, 2]
        fx = 0.0
        fy = 0.0
        fz = 0.0
        e_w = 0.0
        e_c = 0.0
        for p in range(row_start[s], row_end[s]):
            t = partner[p]
            dx = minimum_image(xi - pos[t, 0], box[0])
            dy = minimum_image(yi - pos[t, 1], box[1])
            dz = minimum_image(zi - pos[t, 2], box[2])
            r2 = dx * dx + dy * dy + dz * dz
            f_over_r = 0.0
            if r2 < cut2:  # about a third of the list is skin
                sj = species[t]
                if r2 < wca_cut2[si, sj]:  # rare: contacts
                    if r2 < overlap_cut2[si, sj]:
                        slot_overlap[s] = 1
                        slot_overlap[t] = 1
                    s2 = sigma[si, sj] * sigma[si, sj] / r2
                    s6 = s2 * s2 * s2
                    e_w += 4.0 * wca_eps * (s6 * s6 - s6) + wca_eps
                    f_over_r += 24.0 * wca_eps * (2.0 * s6 * s6 - s6) / r2
                if r2 < coul_cut2:
                    inv_r = 1.0 / math.sqrt(r2)
                    qq = prefactor * qi * charges[t]
                    h_e, h_f = screening(screening_table, inv_spacing, r2)
                    e_c += qq * (inv_r - h_e)
                    f_over_r += qq * (inv_r * inv_r * inv_r - h_f)
            gx = f_over_r * dx
            gy = f_over_r * dy
            gz = f_over_r * dz
            q = in_position[p]
            incoming_force[q, 0] = gx
            incoming_force[q, 1] = gy
            incoming_force[q, 2] = gz
            fx += gx
            fy += gy
            fz += gz
        own[s, 0] = fx
        own[s, 1] = fy
        own[s, 2] = fz
        row_energy[s, 0] = e_w
        row_energy[s, 1] = e_c


@njit(cache=True, parallel=True, nogil=True)
def incoming_pair_forces(lo, hi, in_start, incoming_force, ion_of_slot, own, slot_overlap,
                         forces, overlapping):
    """Pass 2, over slots lo..hi-1: add own - incoming pair forces into forces (ion order),
    the incoming ones read in the owners' ion order; overlapping[i] = 1 (ion order) if any
    of its pairs is closer than the overlap distance."""
    for t in prange(lo, hi):
        gx = 0.0
        gy = 0.0
        gz = 0.0
        for u in range(in_start[t], in_start[t + 1]):
            gx += incoming_force[u, 0]
            gy += incoming_force[u, 1]
            gz += incoming_force[u, 2]
        i = ion_of_slot[t]
        forces[i, 0] += own[t, 0] - gx
        forces[i, 1] += own[t, 1] - gy
        forces[i, 2] += own[t, 2] - gz
        overlapping[i] = slot_overlap[t]
