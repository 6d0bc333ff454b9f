"""Pair forces within a cut-off: WCA repulsion and the real-space part of Ewald.

WCA (Weeks, Chandler & Andersen 1971), the purely repulsive Lennard-Jones potential

    U(r) = 4 eps [(sigma/r)^12 - (sigma/r)^6] + eps   for r < 2^(1/6) sigma, else 0,

with Lorentz mixing sigma_ij = (d_i + d_j) / 2 of the ion diameters, so that opposite charges
cannot collapse onto each other. Real-space Ewald (when alpha > 0):

    U(r) = k_e q_i q_j erfc(alpha r) / r,   k_e = 138.935458 / eps_w  kJ nm/(mol e^2).

Both are evaluated in one pass over cell-list neighbours. The pass also flags every ion
that is closer than OVERLAP_FRACTION sigma_ij to a partner (WCA energy above 44 kT, a
Boltzmann weight below 1e-19): only a noise step of four or more standard deviations into a
contact gets there, and the next step's force would throw the ion half a nanometre or more.
The engine rejects such moves (sim.run.Simulation.compute_forces). Each ion's force is summed by the
thread that owns the ion, over its partners in a fixed order (no Newton's-third-law
scatter): twice the pair evaluations, but no atomics and results that are bit-identical for
any number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .cells import CellList

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
WCA_CUTOFF_FACTOR = 2.0 ** (1.0 / 6.0)
OVERLAP_FRACTION = 0.8  # r < 0.8 sigma_ij: U_WCA > 44 kT (with eps = 1 kT), an overlap


# Abramowitz & Stegun 7.1.26: erfc(x) = t P(t) exp(-x^2), t = 1/(1 + p x), |error| < 1.5e-7.
# The exp(-x^2) is needed for the force anyway, so erfc costs one division and a polynomial
# (the libm erfc was a third of the pair loop). The error is four orders of magnitude below
# the Ewald truncation errors that the tuner allows.
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


@njit(cache=True, inline="always")
def erfc_and_gaussian(x):
    """(erfc(x), exp(-x^2)) for x >= 0, erfc to 1.5e-7 absolute."""
    g = math.exp(-x * x)
    t = 1.0 / (1.0 + _AS_P * x)
    poly = t * (_AS_A[0] + t * (_AS_A[1] + t * (_AS_A[2] + t * (_AS_A[3] + t * _AS_A[4]))))
    return poly * g, g


class ShortRangeForces:
    """WCA + real-space Coulomb for a fixed set of ions.

    diameters (S,) nm per species; wca_epsilon kJ/mol; coulomb_prefactor kJ nm/(mol e^2)
    (0 disables Coulomb); alpha nm^-1; coulomb_cutoff nm.

    Each call bins the ions into cells and copies positions, species and charges into cell
    order, so that the inner loop reads contiguous memory and applies a per-cell periodic
    shift instead of a minimum-image rounding per pair.
    """

    def __init__(self, box, species, charges, diameters, wca_epsilon, coulomb_prefactor=0.0,
                 alpha=0.0, coulomb_cutoff=0.0):
        diameters = np.asarray(diameters, dtype=np.float64)
        self.sigma = 0.5 * (diameters[:, None] + diameters[None, :])
        self.wca_cut2 = (WCA_CUTOFF_FACTOR * self.sigma) ** 2
        self.overlap_cut2 = (OVERLAP_FRACTION * self.sigma) ** 2
        self.wca_epsilon = float(wca_epsilon)
        self.prefactor = float(coulomb_prefactor)
        self.alpha = float(alpha)
        self.coulomb_cutoff = float(coulomb_cutoff) if coulomb_prefactor else 0.0
        self.cutoff = max(float(np.sqrt(self.wca_cut2.max())), self.coulomb_cutoff)
        self.species = np.ascontiguousarray(species, dtype=np.int64)
        self.charges = np.ascontiguousarray(charges, dtype=np.float64)
        n = len(self.species)
        self.cells = CellList(box, self.cutoff, n)
        self.energy_wca = np.zeros(n)
        self.energy_coulomb = np.zeros(n)
        self._pos_sorted = np.zeros((n, 3))
        self._species_sorted = np.zeros(n, dtype=np.int64)
        self._charges_sorted = np.zeros(n)
        self.overlapping = np.zeros(n, dtype=np.uint8)  # 1: closer than 0.8 sigma to another
        self.n_overlapping = 0

    def compute(self, pos, forces):
        """Add pair forces kJ/(mol nm) into forces (N,3); return (U_wca, U_real) kJ/mol.
        Sets `overlapping` (per ion) and `n_overlapping` (see the module docstring)."""
        c = self.cells
        c.build(pos)
        gather_sorted(pos, self.species, self.charges, c.order, self._pos_sorted,
                      self._species_sorted, self._charges_sorted)
        u_w, u_c, self.n_overlapping = pair_forces(
            self._pos_sorted, self._species_sorted, self._charges_sorted, c.order, c.box,
            c.ncell, c.cell_start, c.offsets[0], c.offsets[1], c.offsets[2], self.sigma,
            self.wca_cut2, self.overlap_cut2, self.wca_epsilon, self.prefactor, self.alpha,
            self.coulomb_cutoff ** 2, self.cutoff ** 2, forces, self.energy_wca,
            self.energy_coulomb, self.overlapping)
        return u_w, u_c


@njit(cache=True)
def gather_sorted(pos, species, charges, order, pos_out, species_out, charges_out):
    for k in range(order.shape[0]):
        i = order[k]
        pos_out[k, 0] = pos[i, 0]
        pos_out[k, 1] = pos[i, 1]
        pos_out[k, 2] = pos[i, 2]
        species_out[k] = species[i]
        charges_out[k] = charges[i]


@njit(cache=True, parallel=True)
def pair_forces(pos, species, charges, order, box, ncell, cell_start, off_x, off_y, off_z,
                sigma, wca_cut2, overlap_cut2, wca_eps, prefactor, alpha, coul_cut2, cut2,
                forces, energy_wca, energy_coulomb, overlapping):
    """Add WCA and real-space Ewald forces to `forces` (indexed by original ion number);
    pos/species/charges are in cell order (ion order[k] at row k). Per-ion energies (half of
    each pair) go to energy_wca / energy_coulomb; cut2 is the larger squared cut-off;
    overlapping[i] = 1 when ion i is closer than sqrt(overlap_cut2) to a partner.
    Returns (U_wca, U_real) in kJ/mol and the number of overlapping ions."""
    n_cells = ncell[0] * ncell[1] * ncell[2]
    for cell in prange(n_cells):
        cz = cell % ncell[2]
        cy = (cell // ncell[2]) % ncell[1]
        cx = cell // (ncell[1] * ncell[2])
        for k in range(cell_start[cell], cell_start[cell + 1]):
            si = species[k]
            qi = charges[k]
            xi, yi, zi = pos[k, 0], pos[k, 1], pos[k, 2]
            fx = 0.0
            fy = 0.0
            fz = 0.0
            e_w = 0.0
            e_c = 0.0
            overlap = 0
            for ox in off_x:
                nx = cx + ox
                sx = 0.0
                if nx < 0:
                    nx += ncell[0]
                    sx = -box[0]
                elif nx >= ncell[0]:
                    nx -= ncell[0]
                    sx = box[0]
                for oy in off_y:
                    ny = cy + oy
                    sy = 0.0
                    if ny < 0:
                        ny += ncell[1]
                        sy = -box[1]
                    elif ny >= ncell[1]:
                        ny -= ncell[1]
                        sy = box[1]
                    for oz in off_z:
                        nz = cz + oz
                        sz = 0.0
                        if nz < 0:
                            nz += ncell[2]
                            sz = -box[2]
                        elif nz >= ncell[2]:
                            nz -= ncell[2]
                            sz = box[2]
                        other = (nx * ncell[1] + ny) * ncell[2] + nz
                        for j in range(cell_start[other], cell_start[other + 1]):
                            if j == k:
                                continue
                            dx = xi - pos[j, 0] - sx
                            dy = yi - pos[j, 1] - sy
                            dz = zi - pos[j, 2] - sz
                            r2 = dx * dx + dy * dy + dz * dz
                            if r2 >= cut2:
                                continue
                            f_over_r = 0.0
                            sj = species[j]
                            if r2 < wca_cut2[si, sj]:
                                if r2 < overlap_cut2[si, sj]:
                                    overlap = 1
                                s2 = sigma[si, sj] * sigma[si, sj] / r2
                                s6 = s2 * s2 * s2
                                e_w += 0.5 * (4.0 * wca_eps * (s6 * s6 - s6) + wca_eps)
                                f_over_r += 24.0 * wca_eps * (2.0 * s6 * s6 - s6) / r2
                            if r2 < coul_cut2:
                                r = math.sqrt(r2)
                                qq = prefactor * qi * charges[j]
                                erfc_ar, gauss = erfc_and_gaussian(alpha * r)
                                e_c += 0.5 * qq * erfc_ar / r
                                f_over_r += qq * (erfc_ar / r + _TWO_OVER_SQRT_PI * alpha
                                                  * gauss) / r2
                            fx += f_over_r * dx
                            fy += f_over_r * dy
                            fz += f_over_r * dz
            i = order[k]
            forces[i, 0] += fx
            forces[i, 1] += fy
            forces[i, 2] += fz
            energy_wca[i] = e_w
            energy_coulomb[i] = e_c
            overlapping[i] = overlap
    u_w = 0.0
    u_c = 0.0
    n_overlap = 0
    for i in range(energy_wca.shape[0]):
        u_w += energy_wca[i]
        u_c += energy_coulomb[i]
        n_overlap += overlapping[i]
    return u_w, u_c, n_overlap
