"""The Ewald sum by explicit summation: the exact answer the engine's electrostatics is held to.

Used by ``ionsim validate`` (:func:`analysis.validation.engine_checks.ewald_forces`) and by
the tests (tests/test_ewald.py, test_membrane_field.py, test_surface_charge.py). Written for
clarity, not speed: explicit sums over periodic images and over reciprocal vectors,
vectorised with NumPy, O(N^2) and O(N k).

The Coulomb energy of N point charges q_i at r_i in a periodic orthorhombic box of edges
L = (Lx, Ly, Lz), volume V, tinfoil boundary, neutral (sum q = 0), splits for any alpha > 0
as (Ewald, Ann. Phys. 369 (1921) 253; Allen and Tildesley, *Computer Simulation of Liquids*,
2nd ed. 2017, section 6.2)

    U = U_real + U_rec + U_self
    U_real = (p / 2) sum_n sum_{i,j}' q_i q_j erfc(alpha |r_ij + n L|) / |r_ij + n L|
    U_rec  = p / (2 V) sum_{k != 0} 4 pi / k^2 exp(-k^2 / (4 alpha^2)) |S(k)|^2
    U_self = -p alpha / sqrt(pi) sum_i q_i^2

with the prime leaving out i = j for n = 0, k = 2 pi (nx/Lx, ny/Ly, nz/Lz),
S(k) = sum_j q_j exp(i k.r_j), and forces F = -grad U:

    F_i(real) = p sum_n sum_j' q_i q_j [erfc(alpha r)/r + 2 alpha/sqrt(pi) exp(-alpha^2 r^2)]
                (r_ij + n L) / r^2,   r = |r_ij + n L|
    F_j(rec)  = p / V sum_{k != 0} 4 pi / k^2 exp(-k^2 / 4 alpha^2) q_j k Im(S(k)^* e^{i k.r_j})

Units: nm, e, kJ/mol, kJ/(mol nm); ``prefactor`` p = COULOMB_CONSTANT / eps_w in
kJ nm / (mol e^2), alpha in nm^-1.

- :func:`direct_ewald`: the exact periodic Coulomb energy and forces by an Ewald sum whose own
  alpha takes both sums to tails of erfc(6) and exp(-36), ~1e-16 relative; the result does
  not depend on that alpha (a test checks it).
- :func:`real_space_minimum_image`: U_real with a cut-off and minimum image, i.e. what the
  engine's cell-list pair kernel computes.
- :func:`reciprocal_direct`: U_rec as an explicit k-sum (what SPME approximates).
- :func:`self_energy_direct`: U_self.
- :func:`line_energy_kz`: the kx = ky = 0 part of the (unscreened) periodic Coulomb energy,
  (p / 2V) sum_{kz != 0} 4 pi / kz^2 |S(kz)|^2, the 1-D problem of the membrane module.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfc

__all__ = ["direct_ewald", "real_space_minimum_image", "reciprocal_direct",
           "self_energy_direct", "line_energy_kz"]

_X_TAIL = 6.0  # erfc(6) ~ 2e-17, exp(-36) ~ 2e-16: both Ewald sums converged to rounding


def self_energy_direct(charges, alpha, prefactor):
    """U_self = -p alpha / sqrt(pi) sum_i q_i^2, kJ/mol."""
    return -prefactor * alpha / math.sqrt(math.pi) * float(np.sum(np.asarray(charges) ** 2))


def _erfc_terms(r, qq, alpha):
    """q_i q_j erfc(alpha r)/r and the matching -dU/dr / r (per unit prefactor)."""
    e = qq * erfc(alpha * r) / r
    f_over_r = (e + qq * 2 * alpha / math.sqrt(math.pi) * np.exp(-(alpha * r) ** 2)) / r ** 2
    return e, f_over_r


def _real_space_images(pos, charges, box, alpha, prefactor, rmax):
    """Real-space erfc sum over all periodic images with |r_ij + n L| < rmax (i = j, n != 0
    included: a charge's interaction with its own images)."""
    pos = np.asarray(pos, float)
    q = np.asarray(charges, float)
    box = np.asarray(box, float)
    n = len(q)
    d0 = pos[:, None, :] - pos[None, :, :]
    d0 -= box * np.round(d0 / box)  # minimum image first, then explicit shifts
    # |d0_d| <= L_d/2, so shift n_d can reach r < rmax only if |n_d| L_d - L_d/2 < rmax
    nmax = np.floor(rmax / box + 0.5).astype(int)
    qq = q[:, None] * q[None, :]
    energy = 0.0
    forces = np.zeros((n, 3))
    for sx in range(-nmax[0], nmax[0] + 1):
        for sy in range(-nmax[1], nmax[1] + 1):
            for sz in range(-nmax[2], nmax[2] + 1):
                d = d0 + box * np.array([sx, sy, sz])
                r = np.sqrt(np.sum(d * d, axis=-1))
                mask = r < rmax
                if sx == 0 and sy == 0 and sz == 0:
                    mask &= ~np.eye(n, dtype=bool)
                e, f_over_r = _erfc_terms(np.where(mask, r, 1.0), qq, alpha)
                energy += 0.5 * prefactor * np.sum(np.where(mask, e, 0.0))
                f_over_r = np.where(mask, f_over_r, 0.0)
                forces += prefactor * np.sum(f_over_r[:, :, None] * d, axis=1)
    return energy, forces


def real_space_minimum_image(pos, charges, box, alpha, cutoff, prefactor):
    """U_real (kJ/mol) and its forces (kJ/(mol nm)) with minimum image and a cut-off (nm,
    at most L/2, so that only the nearest image of a pair can be within it)."""
    box = np.asarray(box, float)
    assert cutoff <= 0.5 * box.min() + 1e-12
    pos = np.asarray(pos, float)
    q = np.asarray(charges, float)
    n = len(q)
    d = pos[:, None, :] - pos[None, :, :]
    d -= box * np.round(d / box)
    r = np.sqrt(np.sum(d * d, axis=-1))
    mask = (r < cutoff) & ~np.eye(n, dtype=bool)
    e, f_over_r = _erfc_terms(np.where(mask, r, 1.0), q[:, None] * q[None, :], alpha)
    e = np.where(mask, e, 0.0)
    f_over_r = np.where(mask, f_over_r, 0.0)
    return 0.5 * prefactor * e.sum(), prefactor * np.sum(f_over_r[:, :, None] * d, axis=1)


def reciprocal_direct(pos, charges, box, alpha, prefactor, kmax=None):
    """U_rec (kJ/mol) and its forces (kJ/(mol nm)) as an explicit sum over
    k = 2 pi (nx/Lx, ny/Ly, nz/Lz) with 0 < |k| < kmax (nm^-1; default 12 alpha, where
    exp(-k^2 / 4 alpha^2) = exp(-36)).

    U = p/(2V) sum_k 4 pi/k^2 exp(-k^2/4 alpha^2) |S(k)|^2,
    F_j = p/V sum_k 4 pi/k^2 exp(-k^2/4 alpha^2) q_j k Im(S(k)^* exp(i k.r_j)).
    Only half of k-space is enumerated (k and -k contribute equally).
    """
    pos = np.asarray(pos, float)
    q = np.asarray(charges, float)
    box = np.asarray(box, float)
    if kmax is None:
        kmax = 2.0 * alpha * _X_TAIL
    nmax = np.floor(kmax * box / (2 * np.pi)).astype(int)
    grids = np.meshgrid(*[np.arange(-m, m + 1) for m in nmax], indexing="ij")
    nvec = np.stack([g.ravel() for g in grids], axis=1)
    # half space: first nonzero component positive
    half = (nvec[:, 0] > 0) | ((nvec[:, 0] == 0) & (nvec[:, 1] > 0)) | \
           ((nvec[:, 0] == 0) & (nvec[:, 1] == 0) & (nvec[:, 2] > 0))
    kvec = 2 * np.pi * nvec[half] / box
    k2 = np.sum(kvec ** 2, axis=1)
    keep = k2 < kmax ** 2
    kvec, k2 = kvec[keep], k2[keep]
    volume = float(np.prod(box))
    coef = 4 * np.pi / k2 * np.exp(-k2 / (4 * alpha ** 2))
    energy = 0.0
    forces = np.zeros_like(pos)
    for start in range(0, len(k2), 4096):  # blocks of k bound the (N, nk) phase array
        kv = kvec[start:start + 4096]
        c = coef[start:start + 4096]
        phase = np.exp(1j * pos @ kv.T)  # (N, nk)
        s = phase.T @ q  # S(k)
        energy += 2 * 0.5 * prefactor / volume * np.sum(c * np.abs(s) ** 2)
        im = np.imag(np.conj(s)[None, :] * phase)  # (N, nk)
        forces += 2 * prefactor / volume * q[:, None] * ((im * c[None, :]) @ kv)
    return energy, forces


def direct_ewald(pos, charges, box, prefactor, alpha=None):
    """Exact periodic Coulomb energy (kJ/mol) and forces (N, 3) kJ/(mol nm), tinfoil, neutral.

    Ewald sum with both sums taken to erfc/exp tails of exp(-36): the answer is independent of
    `alpha` (nm^-1; default 6 / (1.4 min L): real space reaches 1.4 box edges, so one shell
    of image boxes suffices and the k-sum stays short).
    """
    box = np.asarray(box, float)
    if alpha is None:
        alpha = _X_TAIL / (1.4 * box.min())
    e_r, f_r = _real_space_images(pos, charges, box, alpha, prefactor, _X_TAIL / alpha)
    e_k, f_k = reciprocal_direct(pos, charges, box, alpha, prefactor)
    return e_r + e_k + self_energy_direct(charges, alpha, prefactor), f_r + f_k


def line_energy_kz(z, charges, box, prefactor, nmax=200000):
    """kx = ky = 0 part of the periodic Coulomb energy (kJ/mol):
    (p / 2V) sum_{kz != 0} 4 pi/kz^2 |S(kz)|^2, S(kz) = sum_j q_j exp(i kz z_j), z in nm.

    The terms fall as 1/n^2 with |S|^2 of order sum q^2, so the sum is truncated at |n| = nmax
    and the tail is added as its mean-field estimate (p 4 pi / 2V)(Lz/2 pi)^2 sum q^2 * 2/nmax.
    """
    box = np.asarray(box, float)
    q = np.asarray(charges, float)
    z = np.asarray(z, float)
    lz = box[2]
    volume = float(np.prod(box))
    total = 0.0
    for start in range(1, nmax + 1, 20000):
        n = np.arange(start, min(start + 20000, nmax + 1))
        kz = 2 * np.pi * n / lz
        s = np.exp(1j * np.outer(kz, z)) @ q
        total += 2 * np.sum(4 * np.pi / kz ** 2 * np.abs(s) ** 2)  # +n and -n
    tail = 2 * 4 * np.pi * (lz / (2 * np.pi)) ** 2 * np.sum(q ** 2) / nmax
    return 0.5 * prefactor / volume * (total + tail)
