"""Slow, obvious NumPy versions of the fast kernels, for comparison in tests."""

from __future__ import annotations

import numpy as np


def wca_all_pairs(pos, box, species, diameters, epsilon):
    """O(N^2) WCA energy (kJ/mol) and forces (kJ/(mol nm)) with minimum image."""
    diameters = np.asarray(diameters)
    d = pos[:, None, :] - pos[None, :, :]
    d -= box * np.round(d / box)
    r2 = (d ** 2).sum(-1)
    np.fill_diagonal(r2, np.inf)
    sigma = 0.5 * (diameters[species][:, None] + diameters[species][None, :])
    inside = r2 < (2 ** (1 / 6) * sigma) ** 2
    s6 = np.where(inside, (sigma ** 2 / r2) ** 3, 0.0)
    energy = 0.5 * np.sum(np.where(inside, 4 * epsilon * (s6 ** 2 - s6) + epsilon, 0.0))
    f_over_r = np.where(inside, 24 * epsilon * (2 * s6 ** 2 - s6) / r2, 0.0)
    forces = (f_over_r[:, :, None] * d).sum(axis=1)
    return energy, forces


def z_force_by_central_difference(energy_of, pos, i, h=1e-5):
    """-dU/dz_i by a central difference; energy_of(pos) -> energy (kJ/mol)."""
    plus, minus = pos.copy(), pos.copy()
    plus[i, 2] += h
    minus[i, 2] -= h
    return -(energy_of(plus) - energy_of(minus)) / (2 * h)
