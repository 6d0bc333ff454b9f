"""Energies of a frame that the step loop does not need, for the analyses of bulk
thermodynamics: the energy of inserting test ions (Widom insertion, :mod:`analysis.widom`:
WCA + exact Ewald, real and reciprocal space) and the WCA virial (:mod:`analysis.bulk_thermo`).

Here, among the force kernels, because a kernel imports only numpy, numba and other kernels
(tests/test_layers.py). Units: nm, e, kJ/mol.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .cells import cell_index

__all__ = ["structure_factor", "insertion_energies", "wca_virial"]

_TWO_PI = 2.0 * math.pi


@njit(cache=True, inline="always")
def _fill_phases(x, length, n_max, out_re, out_im):
    """out[n_max + n] = exp(i 2 pi n x / length), n = -n_max..n_max (by recursion)."""
    th = _TWO_PI * x / length
    c = math.cos(th)
    s = math.sin(th)
    out_re[n_max] = 1.0
    out_im[n_max] = 0.0
    re = 1.0
    im = 0.0
    for n in range(1, n_max + 1):
        re, im = re * c - im * s, re * s + im * c
        out_re[n_max + n] = re
        out_im[n_max + n] = im
        out_re[n_max - n] = re
        out_im[n_max - n] = -im


@njit(cache=True)
def structure_factor(pos, charges, box, n_max, kidx, s_re, s_im, ph_re, ph_im):
    """S(k) = sum_j q_j exp(i k.r_j) at the k-vectors kidx (K, 3) (integers: k = 2 pi n / L),
    into s_re, s_im (K,). ph_re, ph_im (3, 2 max(n_max) + 1): work arrays."""
    nk = kidx.shape[0]
    for m in range(nk):
        s_re[m] = 0.0
        s_im[m] = 0.0
    for j in range(pos.shape[0]):
        q = charges[j]
        if q == 0.0:
            continue
        for d in range(3):
            _fill_phases(pos[j, d], box[d], n_max[d], ph_re[d], ph_im[d])
        for m in range(nk):
            a = n_max[0] + kidx[m, 0]
            b = n_max[1] + kidx[m, 1]
            c = n_max[2] + kidx[m, 2]
            xr = ph_re[0, a] * ph_re[1, b] - ph_im[0, a] * ph_im[1, b]
            xi = ph_re[0, a] * ph_im[1, b] + ph_im[0, a] * ph_re[1, b]
            s_re[m] += q * (xr * ph_re[2, c] - xi * ph_im[2, c])
            s_im[m] += q * (xr * ph_im[2, c] + xi * ph_re[2, c])


@njit(cache=True, inline="always")
def _min_image(d, length):
    return d - length * math.floor(d / length + 0.5)


@njit(cache=True, inline="always")
def _pair_energy(r2, s_a, s_b, q_a, q_b, sigma, wca_cut2, wca_eps, prefactor, alpha, rc2):
    """WCA + real-space Ewald energy (kJ/mol) of one pair at squared distance r2 (nm^2);
    inf for coincident centres (an impossible configuration, weight 0)."""
    if r2 < 1e-24:
        return math.inf
    e = 0.0
    if r2 < wca_cut2[s_a, s_b]:
        s2 = sigma[s_a, s_b] * sigma[s_a, s_b] / r2
        s6 = s2 * s2 * s2
        e += 4.0 * wca_eps * (s6 * s6 - s6) + wca_eps
    if prefactor != 0.0 and r2 < rc2:
        r = math.sqrt(r2)
        e += prefactor * q_a * q_b * math.erfc(alpha * r) / r
    return e


@njit(cache=True)
def insertion_energies(pos, species, charges, box, sigma, wca_cut2, wca_eps, prefactor,
                       alpha, rc2, n_max, kidx, col_start, coeff, s_re, s_im, trial_pos,
                       group_species, group_charges, ph_re, ph_im, xy_re, xy_im, out):
    """Delta U (kJ/mol) of inserting a group of G ions at each of M trial placements.

    pos (N, 3) nm, species (N,), charges (N,) e: the frame; box (3,) nm; sigma, wca_cut2
    (S, S) nm, nm^2; wca_eps kJ/mol; prefactor kJ nm/(mol e^2) (0: no Coulomb); alpha
    nm^-1; rc2 nm^2; n_max (3,), kidx (K, 3) in (nx, ny, nz) order, col_start (C + 1,) the
    first k of each (nx, ny) column, coeff (K,) (4 pi/(V k^2) e^{-k^2/4a^2}, half
    k-space); s_re, s_im (K,) the frame's S(k); trial_pos (M, G, 3) nm; group_species,
    group_charges (G,); ph_re, ph_im (G, 3, 2 max(n_max) + 1), xy_re, xy_im (G,): work
    arrays; out (M,) receives Delta U. The membrane term is added by the caller.
    """
    n = pos.shape[0]
    g_n = trial_pos.shape[1]
    self_term = 0.0
    for g in range(g_n):
        self_term -= prefactor * alpha / math.sqrt(math.pi) * group_charges[g] ** 2
    for m in range(trial_pos.shape[0]):
        du = self_term
        for g in range(g_n):
            sg = group_species[g]
            qg = group_charges[g]
            xg = trial_pos[m, g, 0]
            yg = trial_pos[m, g, 1]
            zg = trial_pos[m, g, 2]
            for j in range(n):
                dx = _min_image(xg - pos[j, 0], box[0])
                dy = _min_image(yg - pos[j, 1], box[1])
                dz = _min_image(zg - pos[j, 2], box[2])
                r2 = dx * dx + dy * dy + dz * dz
                if r2 < wca_cut2[sg, species[j]] or (prefactor != 0.0 and r2 < rc2):
                    du += _pair_energy(r2, sg, species[j], qg, charges[j], sigma, wca_cut2,
                                       wca_eps, prefactor, alpha, rc2)
            for h in range(g + 1, g_n):
                dx = _min_image(xg - trial_pos[m, h, 0], box[0])
                dy = _min_image(yg - trial_pos[m, h, 1], box[1])
                dz = _min_image(zg - trial_pos[m, h, 2], box[2])
                du += _pair_energy(dx * dx + dy * dy + dz * dz, sg, group_species[h], qg,
                                   group_charges[h], sigma, wca_cut2, wca_eps, prefactor,
                                   alpha, rc2)
        if prefactor != 0.0 and math.isfinite(du):
            for g in range(g_n):
                for d in range(3):
                    _fill_phases(trial_pos[m, g, d], box[d], n_max[d], ph_re[g, d],
                                 ph_im[g, d])
            rec = 0.0
            # k-vectors come column by column (nx, ny fixed, nz rising): the xy phase of
            # each ion once per column, one complex product per k and ion inside it
            for col in range(col_start.shape[0] - 1):
                k0 = col_start[col]
                a = n_max[0] + kidx[k0, 0]
                b = n_max[1] + kidx[k0, 1]
                for g in range(g_n):
                    qg = group_charges[g]
                    xy_re[g] = qg * (ph_re[g, 0, a] * ph_re[g, 1, b]
                                     - ph_im[g, 0, a] * ph_im[g, 1, b])
                    xy_im[g] = qg * (ph_re[g, 0, a] * ph_im[g, 1, b]
                                     + ph_im[g, 0, a] * ph_re[g, 1, b])
                for k in range(k0, col_start[col + 1]):
                    c = n_max[2] + kidx[k, 2]
                    t_re = 0.0
                    t_im = 0.0
                    for g in range(g_n):
                        t_re += xy_re[g] * ph_re[g, 2, c] - xy_im[g] * ph_im[g, 2, c]
                        t_im += xy_re[g] * ph_im[g, 2, c] + xy_im[g] * ph_re[g, 2, c]
                    rec += coeff[k] * (2.0 * (s_re[k] * t_re + s_im[k] * t_im)
                                       + t_re * t_re + t_im * t_im)
            du += prefactor * rec
        out[m] = du


@njit(cache=True)
def wca_virial(pos, species, box, sigma, cut2, eps, ncell, cell_start, order, cell_of):
    """(W, U): the WCA virial sum_{i<j} r_ij . F_ij and energy sum_{i<j} u(r_ij), kJ/mol.

    pos (N, 3) nm wrapped into the box and binned (sim.forces.cells.CellList: ncell,
    cell_start, order, cell_of; cells at least the largest WCA cut-off wide), species (N,),
    box (3,) nm, sigma and cut2 (S, S) nm and nm^2 (Lorentz-mixed sigma; (2^(1/6) sigma)^2),
    eps kJ/mol. Each pair is found once: a neighbour cell is visited once even where an axis
    has fewer than three cells (the minimum image then gives the one distance that counts).
    r . F = -r du/dr = 24 eps [2 (sigma/r)^12 - (sigma/r)^6].
    """
    w = 0.0
    u = 0.0
    lo = np.empty(3, dtype=np.int64)
    hi = np.empty(3, dtype=np.int64)
    for d in range(3):
        lo[d] = -1 if ncell[d] >= 3 else 0
        hi[d] = 1 if ncell[d] >= 2 else 0
    n12 = ncell[1] * ncell[2]
    for i in range(pos.shape[0]):
        c = cell_of[i]
        cx = c // n12
        cy = (c // ncell[2]) % ncell[1]
        cz = c % ncell[2]
        si = species[i]
        for ox in range(lo[0], hi[0] + 1):
            for oy in range(lo[1], hi[1] + 1):
                for oz in range(lo[2], hi[2] + 1):
                    nb = cell_index(cx + ox, cy + oy, cz + oz, ncell)
                    for k in range(cell_start[nb], cell_start[nb + 1]):
                        j = order[k]
                        if j <= i:
                            continue
                        sj = species[j]
                        dx = pos[i, 0] - pos[j, 0]
                        dy = pos[i, 1] - pos[j, 1]
                        dz = pos[i, 2] - pos[j, 2]
                        dx -= box[0] * math.floor(dx / box[0] + 0.5)
                        dy -= box[1] * math.floor(dy / box[1] + 0.5)
                        dz -= box[2] * math.floor(dz / box[2] + 0.5)
                        r2 = dx * dx + dy * dy + dz * dz
                        if r2 < cut2[si, sj]:
                            s2 = sigma[si, sj] * sigma[si, sj] / r2
                            s6 = s2 * s2 * s2
                            w += 24.0 * eps * (2.0 * s6 * s6 - s6)
                            u += 4.0 * eps * (s6 * s6 - s6) + eps
    return w, u
