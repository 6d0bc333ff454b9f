"""The real-space Ewald pair as a table in r^2: no erfc, exp or second division per pair.

The screened Coulomb pair U(r) = q_i q_j erfc(alpha r) / r splits, with erfc = 1 - erf, into
the bare 1/r and a part that is an entire function of s = r^2:

    U(r)   = q_i q_j [1/r   - h_e(s)],   h_e(s) = erf(alpha r) / r,
    F(r)/r = q_i q_j [1/r^3 - h_f(s)],   h_f(s) = [h_e(s) - c exp(-alpha^2 s)] / s = -2 h_e'(s),

with c = 2 alpha / sqrt(pi) (F/r = -2 dU/ds). h_e and h_f are smooth down to s = 0, so a
cubic Hermite interpolant on a uniform grid in s holds them to about 1e-9 of the bare
Coulomb term at a spacing of 0.04 / alpha^2 (the error goes as the spacing^4): 150 to 250
rows of 64 bytes for the cut-offs the tuner picks (alpha r_c of 2.5 to 3.2), which stay in
the L1 cache. The pair kernel then costs one square root, one division and two cubics;
for the flagship's 306 ions it ran in 0.5-0.6 of the time of the Abramowitz-Stegun erfc with
its exp and division (one thread), at N = 1e4 and 1e5 0.55-0.65 (two threads).

Near s = 0, h_f's closed form cancels (both terms tend to c); there the nodes come from
the power series of erf and exp (Abramowitz & Stegun 7.1.5 and 4.2.1):

    h_e(s) = c sum_n (-x)^n / (n! (2n+1)),
    h_f(s) = c alpha^2 sum_{n>=1} 2n (-x)^(n-1) / (n! (2n+1)),   x = alpha^2 s.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy.special import erf

SPACING = 0.04  # grid spacing in s = r^2, in units of 1 / alpha^2
SERIES_BELOW = 1.0  # x = alpha^2 s below which the nodes come from the series
SERIES_TERMS = 30  # at x <= 1 the 30th term is below 1e-33 of the first


def _series(x, c, alpha2):
    """h_e, h_f and dh_f/ds at x = alpha^2 s, from the power series."""
    he = np.zeros_like(x)
    hf = np.zeros_like(x)
    dhf = np.zeros_like(x)
    for n in range(SERIES_TERMS):
        a = (-1.0) ** n / (math.factorial(n) * (2 * n + 1))
        he += a * x ** n
        if n >= 1:
            hf -= 2.0 * n * a * x ** (n - 1) * alpha2
        if n >= 2:
            dhf -= 2.0 * n * (n - 1) * a * x ** (n - 2) * alpha2 * alpha2
    return c * he, c * hf, c * dhf


def _closed_form(s, c, alpha):
    """The same from erf and exp (for s > 0 away from the cancellation at s = 0)."""
    r = np.sqrt(s)
    gauss = c * np.exp(-alpha * alpha * s)
    he = erf(alpha * r) / r
    hf = (he - gauss) / s
    dhf = (alpha * alpha * gauss - 1.5 * hf) / s
    return he, hf, dhf


def real_space_table(alpha: float, cutoff: float) -> tuple[np.ndarray, float]:
    """(table, inv_spacing): row k holds the cubic coefficients of h_e (columns 0-3) and
    h_f (4-7) in t = s / spacing - k on [k, k+1), for s = r^2 from 0 to past cutoff^2
    (alpha nm^-1, cutoff nm; h_e in nm^-1, h_f in nm^-3). alpha = 0 (no screening) gives
    zeros and inv_spacing 0, so that the lookup adds nothing to the bare Coulomb pair."""
    if alpha == 0.0:
        return np.zeros((2, 8)), 0.0
    spacing = SPACING / alpha ** 2
    rows = int(math.ceil(cutoff * cutoff / spacing)) + 2
    s = np.arange(rows + 1) * spacing
    x = alpha * alpha * s
    c = 2.0 * alpha / math.sqrt(math.pi)
    near = x < SERIES_BELOW
    values = np.empty((3, rows + 1))
    values[:, near] = _series(x[near], c, alpha * alpha)
    values[:, ~near] = _closed_form(s[~near], c, alpha)
    he, hf, dhf = values
    dhe = -0.5 * hf  # h_f = -2 h_e'
    table = np.empty((rows, 8))
    for column, f, df in ((0, he, dhe), (4, hf, dhf)):
        f0, f1 = f[:-1], f[1:]
        d0, d1 = df[:-1] * spacing, df[1:] * spacing
        table[:, column] = f0
        table[:, column + 1] = d0
        table[:, column + 2] = 3.0 * (f1 - f0) - 2.0 * d0 - d1
        table[:, column + 3] = 2.0 * (f0 - f1) + d0 + d1
    return table, 1.0 / spacing


@njit(cache=True, inline="always")
def screening(table, inv_spacing, r2):
    """(h_e, h_f) at r2 nm^2 (< cutoff^2 of the table): U/(q q) = 1/r - h_e and
    (F/r)/(q q) = 1/r^3 - h_f."""
    u = r2 * inv_spacing
    k = int(u)
    t = u - k
    h_e = table[k, 0] + t * (table[k, 1] + t * (table[k, 2] + t * table[k, 3]))
    h_f = table[k, 4] + t * (table[k, 5] + t * (table[k, 6] + t * table[k, 7]))
    return h_e, h_f
