"""Pair forces within a cut-off: WCA repulsion and the real-space part of Ewald.

WCA (Weeks, Chandler & Andersen 1971), the purely repulsive Lennard-Jones potential

    U(r) = 4 eps [(sigma/r)^12 - (sigma/r)^6] + eps   for r < 2^(1/6) sigma, else 0,

with Lorentz mixing sigma_ij = (d_i + d_j) / 2 of the ion diameters, so that opposite charges
cannot collapse onto each other. Real-space Ewald (when alpha > 0):

    U(r) = k_e q_i q_j erfc(alpha r) / r,   k_e = 138.935458 / eps_w  kJ nm/(mol e^2).

Both are evaluated in one pass over cell-list neighbours. Each ion's force is summed by the
thread that owns the ion, over its partners in a fixed order (no Newton's-third-law
scatter): twice the pair evaluations, but no atomics and results that are bit-identical for
any number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..geometry import min_image
from .cells import CellList

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
WCA_CUTOFF_FACTOR = 2.0 ** (1.0 / 6.0)


class ShortRangeForces:
    """WCA + real-space Coulomb for a fixed set of ions.

    diameters (S,) nm per species; wca_epsilon kJ/mol; coulomb_prefactor kJ nm/(mol e^2)
    (0 disables Coulomb); alpha nm^-1; coulomb_cutoff nm.
    """

    def __init__(self, box, species, charges, diameters, wca_epsilon, coulomb_prefactor=0.0,
                 alpha=0.0, coulomb_cutoff=0.0):
        diameters = np.asarray(diameters, dtype=np.float64)
        self.sigma = 0.5 * (diameters[:, None] + diameters[None, :])
        self.wca_cut2 = (WCA_CUTOFF_FACTOR * self.sigma) ** 2
        self.wca_epsilon = float(wca_epsilon)
        self.prefactor = float(coulomb_prefactor)
        self.alpha = float(alpha)
        self.coulomb_cutoff = float(coulomb_cutoff) if coulomb_prefactor else 0.0
        self.cutoff = max(float(np.sqrt(self.wca_cut2.max())), self.coulomb_cutoff)
        self.species = np.ascontiguousarray(species, dtype=np.int64)
        self.charges = np.ascontiguousarray(charges, dtype=np.float64)
        self.cells = CellList(box, self.cutoff, len(self.species))
        self.energy_wca = np.zeros(len(self.species))
        self.energy_coulomb = np.zeros(len(self.species))

    def compute(self, pos, forces):
        """Add pair forces kJ/(mol nm) into forces (N,3); return (U_wca, U_real) kJ/mol."""
        self.cells.build(pos)
        c = self.cells
        return pair_forces(pos, c.box, self.species, self.charges, c.ncell, c.cell_of,
                           c.cell_start, c.order, c.offsets[0], c.offsets[1], c.offsets[2],
                           self.sigma, self.wca_cut2, self.wca_epsilon, self.prefactor,
                           self.alpha, self.coulomb_cutoff ** 2, forces, self.energy_wca,
                           self.energy_coulomb)


@njit(cache=True, parallel=True)
def pair_forces(pos, box, species, charges, ncell, cell_of, cell_start, order, off_x, off_y,
                off_z, sigma, wca_cut2, wca_eps, prefactor, alpha, coul_cut2, forces,
                energy_wca, energy_coulomb):
    """Add WCA and real-space Ewald forces to `forces`; per-ion energies (half of each
    pair) go to energy_wca / energy_coulomb. Returns (U_wca, U_real) in kJ/mol."""
    n = pos.shape[0]
    for i in prange(n):
        ci = cell_of[i]
        cz = ci % ncell[2]
        cy = (ci // ncell[2]) % ncell[1]
        cx = ci // (ncell[1] * ncell[2])
        si = species[i]
        qi = charges[i]
        fx = 0.0
        fy = 0.0
        fz = 0.0
        e_w = 0.0
        e_c = 0.0
        for ox in off_x:
            nx = (cx + ox) % ncell[0]
            for oy in off_y:
                ny = (cy + oy) % ncell[1]
                for oz in off_z:
                    nz = (cz + oz) % ncell[2]
                    cell = (nx * ncell[1] + ny) * ncell[2] + nz
                    for k in range(cell_start[cell], cell_start[cell + 1]):
                        j = order[k]
                        if j == i:
                            continue
                        dx = min_image(pos[i, 0] - pos[j, 0], box[0])
                        dy = min_image(pos[i, 1] - pos[j, 1], box[1])
                        dz = min_image(pos[i, 2] - pos[j, 2], box[2])
                        r2 = dx * dx + dy * dy + dz * dz
                        f_over_r = 0.0
                        sj = species[j]
                        if r2 < wca_cut2[si, sj]:
                            s2 = sigma[si, sj] * sigma[si, sj] / r2
                            s6 = s2 * s2 * s2
                            e_w += 0.5 * (4.0 * wca_eps * (s6 * s6 - s6) + wca_eps)
                            f_over_r += 24.0 * wca_eps * (2.0 * s6 * s6 - s6) / r2
                        if r2 < coul_cut2:
                            r = math.sqrt(r2)
                            qq = prefactor * qi * charges[j]
                            erfc_term = math.erfc(alpha * r) / r
                            e_c += 0.5 * qq * erfc_term
                            f_over_r += qq * (erfc_term + _TWO_OVER_SQRT_PI * alpha
                                              * math.exp(-alpha * alpha * r2)) / r2
                        fx += f_over_r * dx
                        fy += f_over_r * dy
                        fz += f_over_r * dz
        forces[i, 0] += fx
        forces[i, 1] += fy
        forces[i, 2] += fz
        energy_wca[i] = e_w
        energy_coulomb[i] = e_c
    u_w = 0.0
    u_c = 0.0
    for i in range(n):
        u_w += energy_wca[i]
        u_c += energy_coulomb[i]
    return u_w, u_c
