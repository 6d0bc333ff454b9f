"""The laterally averaged (kx = ky = 0) field with a z-dependent permittivity eps(z).

Model (DESIGN section 4). Averaged over the lateral area A = Lx Ly, each ion is a charge sheet
q_i / A at z_i, and the kx = ky = 0 part of the electrostatics is the exact 1-D problem

    d/dz ( eps0 eps(z) dphi/dz ) = -rho_bar(z),   periodic in z (period Lz),

with eps(z) piecewise constant: eps_m inside each membrane slab, eps_w elsewhere. Its
solution for charge sheets is elementary: the displacement D(z) = eps0 eps(z) E(z) is
constant between sheets and jumps by q_i / A at z_i,

    D(z) = D0 + (1/A) sum_{z_i < z} q_i          (z in [0, Lz); neutral: D(Lz) = D(0)),

and the constant D0 is fixed by the periodicity of the potential, integral_0^Lz E dz = 0:

    D0 = -(1/(A S(Lz))) sum_intervals Q_below * dS,   S(z) = integral_0^z dz' / (eps0 eps(z'))

(S is the "elastance" coordinate: piecewise linear in z). The energy is

    U = (A/2) integral eps0 eps(z) E(z)^2 dz = (A/2) sum_intervals D^2 dS,

and the force on ion i (z-component only) is minus its derivative,

    F_i = q_i (E(z_i^-) + E(z_i^+)) / 2,

because dU/dD0 = A integral E dz = 0 (D0 drops out). Ions at exactly equal z form one sheet
and each feels the sheet's mean field. The engine's electrostatics is
    Ewald(eps_w) - U_1D(eps_w) + U_1D(eps(z)),
so MembraneFieldCorrection returns U_1D(eps(z)) - U_1D(eps_w) and adds the matching forces:
with uniform eps_w the 1-D energy is exactly the kx = ky = 0 part of the periodic Coulomb sum
(tinfoil), which a test checks against the direct k-sum.

Fixed surface charge. A membrane face carrying sigma (e/nm^2) is a uniform sheet of charge
sigma A: it has no lateral Fourier components, so it enters only the eps(z) problem, as a
sheet that never moves. The ions then carry the opposite net charge, and the Ewald sum of
the ions alone is that of the ions plus a uniform neutralising background (its k = 0 term is
omitted); the eps_w term subtracted is therefore the 1-D problem of the ions plus that
background (:func:`_one_d_uniform`), and the total is
    Ewald(ions) - U_1D(eps_w; ions + background) + U_1D(eps(z); ions + sheets).

Units: z in nm, charges in e, eps relative, energies kJ/mol, forces kJ/(mol nm), potentials
kJ/(mol e) (1 kJ/(mol e) = 10.3643 mV), eps0 = units.EPS0 in e^2 mol / (kJ nm).

Work is O(N) per call after an O(N log N) sort; the sort starts from the previous call's order
(insertion sort: ions move little per step) and falls back to a merge sort. The sort key is
(z, particle index), a total order, so results do not depend on the history (resuming from a
checkpoint gives the same bits).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..units import EPS0

__all__ = ["MembraneFieldCorrection", "potential_profile", "window_mean_potentials",
           "DielectricProfile", "with_sheets"]


# --------------------------------------------------------------------------------------------
# geometry of eps(z)
# --------------------------------------------------------------------------------------------
class DielectricProfile:
    """Piecewise-constant eps(z) on one period [0, Lz).

    Segments [bounds[k], bounds[k+1]) with inverse permittivity inv[k] = 1 / (eps0 eps_k)
    (kJ nm / (mol e^2)), the elastance S(z) = integral_0^z dz' / (eps0 eps(z')) at each
    boundary, s_at[k] = S(bounds[k]) (kJ nm^2 / (mol e^2): potential per sheet charge
    density), and the integral of S, i_at[k] = integral_0^bounds[k] S dz.

    slabs: iterable of (z_lo, z_hi, eps_m); a slab may straddle the periodic boundary
    (z_lo < 0 or z_hi > Lz); slabs must not overlap.
    """

    def __init__(self, lz, slabs, eps_w):
        lz = float(lz)
        if not lz > 0:
            raise ValueError(f"Lz must be > 0 nm, got {lz}")
        if not eps_w > 0:
            raise ValueError(f"eps_w must be > 0, got {eps_w}")
        pieces = []  # (lo, hi, eps) inside [0, lz]
        for slab in slabs:
            z_lo, z_hi, eps_m = (float(v) for v in slab)
            if not z_hi > z_lo:
                raise ValueError(f"membrane slab ({z_lo}, {z_hi}) nm: z_hi must exceed z_lo")
            if z_hi - z_lo >= lz:
                raise ValueError(f"membrane slab ({z_lo}, {z_hi}) nm is not thinner than "
                                 f"the box (Lz = {lz} nm)")
            if not eps_m > 0:
                raise ValueError(f"membrane permittivity must be > 0, got {eps_m}")
            shift = math.floor(z_lo / lz) * lz
            lo, hi = z_lo - shift, z_hi - shift
            if hi <= lz:
                pieces.append((lo, hi, eps_m))
            else:
                pieces.append((lo, lz, eps_m))
                pieces.append((0.0, hi - lz, eps_m))
        pieces.sort()
        for (lo0, hi0, _), (lo1, hi1, _) in zip(pieces, pieces[1:]):
            if lo1 < hi0:
                raise ValueError(f"membrane slabs overlap: ({lo0}, {hi0}) and ({lo1}, {hi1}) nm")
        bounds = [0.0]
        eps = []
        for lo, hi, e in pieces:
            if lo > bounds[-1]:
                eps.append(eps_w)
                bounds.append(lo)
            if hi > lo:
                eps.append(e)
                bounds.append(hi)
        if bounds[-1] < lz:
            eps.append(eps_w)
            bounds.append(lz)
        self.lz = lz
        self.eps_w = float(eps_w)
        self.bounds = np.array(bounds)
        self.eps = np.array(eps)
        self.inv = 1.0 / (EPS0 * self.eps)
        widths = np.diff(self.bounds)
        self.s_at = np.concatenate([[0.0], np.cumsum(self.inv * widths)])
        self.i_at = np.concatenate([[0.0], np.cumsum(self.s_at[:-1] * widths
                                                     + 0.5 * self.inv * widths ** 2)])

    @property
    def s_total(self):
        return self.s_at[-1]

    def segment(self, z):
        """Index of the segment that holds z (z in [0, Lz))."""
        return np.clip(np.searchsorted(self.bounds, z, side="right") - 1, 0, len(self.eps) - 1)

    def s(self, z):
        """S(z) = integral_0^z dz' / (eps0 eps(z')), z in [0, Lz]."""
        k = self.segment(z)
        return self.s_at[k] + self.inv[k] * (z - self.bounds[k])

    def i(self, z):
        """integral_0^z S(z') dz', z in [0, Lz]."""
        k = self.segment(z)
        dz = z - self.bounds[k]
        return self.i_at[k] + self.s_at[k] * dz + 0.5 * self.inv[k] * dz * dz


def _wrap(z, lz):
    w = np.mod(np.asarray(z, dtype=np.float64), lz)
    return np.where(w >= lz, 0.0, w)


# --------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def _less(ka, ia, kb, ib):
    """Sort key (z, particle index): a total order, so the sorted order is unique."""
    return ka < kb or (ka == kb and ia < ib)


@njit(cache=True)
def _sort_sheets(z, order, keys, tmp_order, tmp_keys, budget):
    """Sort the particles by (z, index): order[k] is the k-th particle, keys[k] its z.

    Starts from the previous call's order (gathering keys[k] = z[order[k]] so the sort works
    on contiguous memory) with an insertion sort, fast when ions moved little; past `budget`
    element moves it switches to a bottom-up merge sort (O(N log N), uses the tmp arrays).
    """
    n = order.shape[0]
    for k in range(n):
        keys[k] = z[order[k]]
    moves = 0
    done = True
    for i in range(1, n):
        ki = keys[i]
        oi = order[i]
        j = i - 1
        while j >= 0 and _less(ki, oi, keys[j], order[j]):
            keys[j + 1] = keys[j]
            order[j + 1] = order[j]
            j -= 1
            moves += 1
        keys[j + 1] = ki
        order[j + 1] = oi
        if moves > budget:
            done = False
            break
    if done:
        return
    in_tmp = False  # whether the latest pass wrote into the tmp arrays
    width = 1
    while width < n:
        if in_tmp:
            src_k, src_o, dst_k, dst_o = tmp_keys, tmp_order, keys, order
        else:
            src_k, src_o, dst_k, dst_o = keys, order, tmp_keys, tmp_order
        lo = 0
        while lo < n:
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            a = lo
            b = mid
            k = lo
            while a < mid and b < hi:
                if _less(src_k[b], src_o[b], src_k[a], src_o[a]):
                    dst_k[k] = src_k[b]
                    dst_o[k] = src_o[b]
                    b += 1
                else:
                    dst_k[k] = src_k[a]
                    dst_o[k] = src_o[a]
                    a += 1
                k += 1
            while a < mid:
                dst_k[k] = src_k[a]
                dst_o[k] = src_o[a]
                a += 1
                k += 1
            while b < hi:
                dst_k[k] = src_k[b]
                dst_o[k] = src_o[b]
                b += 1
                k += 1
            lo += 2 * width
        in_tmp = not in_tmp
        width *= 2
    if in_tmp:
        for k in range(n):
            keys[k] = tmp_keys[k]
            order[k] = tmp_order[k]


@njit(cache=True)
def _s_of(z, seg, bounds, inv, s_at):
    return s_at[seg] + inv[seg] * (z - bounds[seg])


@njit(cache=True)
def _one_d(zs, qs, area, bounds, inv, s_at, ebar):
    """Energy (kJ/mol) of the 1-D sheet problem for eps(z) given by (bounds, inv, s_at), and
    ebar[k] = mean field (kJ/(mol e nm)) just below and above sheet k.

    zs: sorted z in [0, Lz), qs: the charges in the same order (contiguous: cache friendly).
    Q0 = A D0 is found in a first pass (periodicity), the energy and fields in a second.
    Returns (energy, net charge).
    """
    n = zs.shape[0]
    nseg = inv.shape[0]
    s_total = s_at[nseg]
    # pass 1: sum over intervals of Q_below * dS (Q_below = charge below the interval)
    seg = 0
    q_below = 0.0
    acc = 0.0
    i = 0
    s_first = 0.0
    s_prev = 0.0
    while i < n:
        zg = zs[i]
        while seg < nseg - 1 and zg >= bounds[seg + 1]:
            seg += 1
        s_here = _s_of(zg, seg, bounds, inv, s_at)
        if i == 0:
            s_first = s_here
        else:
            acc += q_below * (s_here - s_prev)
        qg = qs[i]  # consume at least one ion (a NaN z must not stall the loop)
        i += 1
        while i < n and zs[i] == zg:
            qg += qs[i]
            i += 1
        q_below += qg
        s_prev = s_here
    # wrap interval (last sheet -> Lz -> first sheet) carries Q_below = total (= 0 if neutral)
    acc += q_below * (s_total - s_prev + s_first)
    q0 = -acc / s_total
    # pass 2: energy and fields
    seg = 0
    q_below = 0.0
    energy = 0.0
    i = 0
    while i < n:
        zg = zs[i]
        while seg < nseg - 1 and zg >= bounds[seg + 1]:
            seg += 1
        s_here = _s_of(zg, seg, bounds, inv, s_at)
        if i > 0:
            d = q0 + q_below
            energy += d * d * (s_here - s_prev)
        start = i
        qg = qs[i]
        i += 1
        while i < n and zs[i] == zg:  # ions at one z form one sheet
            qg += qs[i]
            i += 1
        # field just below and just above the sheet (a sheet on a dielectric boundary sees
        # the permittivity of each side)
        inv_above = inv[seg]
        inv_below = inv[seg]
        if zg == bounds[seg]:
            inv_below = inv[seg - 1] if seg > 0 else inv[nseg - 1]
        e_mean = 0.5 * ((q0 + q_below) * inv_below + (q0 + q_below + qg) * inv_above) / area
        for k in range(start, i):
            ebar[k] = e_mean
        q_below += qg
        s_prev = s_here
    if n > 0:
        d = q0 + q_below
        energy += d * d * (s_total - s_prev + s_first)
    return 0.5 * energy / area, q_below


@njit(cache=True)
def _one_d_uniform(zs, qs, area, lz, inv_w, q_net, ebar):
    """Energy (kJ/mol) of the 1-D sheet problem in uniform permittivity (inv_w = 1/(eps0
    eps_w)) with the uniform background -q_net / Lz that the Ewald sum implies for a
    non-neutral set (its k = 0 term is omitted), and ebar[k], the mean field at sheet k.

    D(z) A = Q0 + sum_{z_i < z} q_i - q_net z / Lz; periodicity of phi (integral of D = 0)
    gives Q0 = q_net / 2 - sum_i q_i (1 - z_i / Lz). With q_net = 0 this is the eps_w case
    of :func:`_one_d`. zs sorted in [0, Lz).
    """
    n = zs.shape[0]
    slope = -q_net / lz
    q0 = 0.5 * q_net
    for i in range(n):
        q0 -= qs[i] * (1.0 - zs[i] / lz)
    energy = 0.0
    d_prev = q0  # A D just above the previous sheet (z = 0 to start)
    z_prev = 0.0
    i = 0
    while i < n:
        zg = zs[i]
        h = zg - z_prev
        energy += d_prev * d_prev * h + d_prev * slope * h * h + slope * slope * h ** 3 / 3.0
        d_below = d_prev + slope * h
        start = i
        qg = qs[i]
        i += 1
        while i < n and zs[i] == zg:  # ions at one z form one sheet, as in _one_d
            qg += qs[i]
            i += 1
        for k in range(start, i):
            ebar[k] = inv_w * (d_below + 0.5 * qg) / area
        d_prev = d_below + qg
        z_prev = zg
    h = lz - z_prev
    energy += d_prev * d_prev * h + d_prev * slope * h * h + slope * slope * h ** 3 / 3.0
    return 0.5 * inv_w * energy / area


@njit(cache=True)
def _wrap_into(pos, lz, zw):
    for i in range(pos.shape[0]):
        z = pos[i, 2] - math.floor(pos[i, 2] / lz) * lz
        if z >= lz:
            z = 0.0
        zw[i] = z


@njit(cache=True)
def _correction(pos, charges, sheet_z, sheet_q, lz, area, bounds, inv, s_at, inv_w,
                zw, order, keys, tmp_order, tmp_keys, qs, qs_w, ebar, ebar_w, forces):
    """U_eps(z)(ions + fixed sheets) - U_eps_w(ions) (kJ/mol); adds
    q_i (Ebar_eps(z) - Ebar_eps_w) to forces[:, 2] of the ions.

    The fixed sheets (sheet_z wrapped into [0, Lz), sheet_q in e) are entries n.. of the
    sort; they carry their charge in the eps(z) problem and none in the eps_w one, which
    instead holds the background that the Ewald sum gives a non-neutral set of ions.
    Returns (energy, net charge of ions and sheets).
    """
    n = pos.shape[0]
    m = zw.shape[0]
    _wrap_into(pos, lz, zw)
    for k in range(n, m):
        zw[k] = sheet_z[k - n]
    _sort_sheets(zw, order, keys, tmp_order, tmp_keys, 16 * m + 1024)
    q_ions = 0.0
    for k in range(m):
        j = order[k]
        if j < n:
            qs[k] = charges[j]
            qs_w[k] = charges[j]
            q_ions += charges[j]
        else:
            qs[k] = sheet_q[j - n]
            qs_w[k] = 0.0
    e_eps, total = _one_d(keys, qs, area, bounds, inv, s_at, ebar)
    e_w = _one_d_uniform(keys, qs_w, area, lz, inv_w, q_ions, ebar_w)
    for k in range(m):
        j = order[k]
        if j < n:
            forces[j, 2] += qs[k] * (ebar[k] - ebar_w[k])
    return e_eps - e_w, total


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
class MembraneFieldCorrection:
    """Replace the kx = ky = 0 field of uniform eps_w by the exact one with eps(z), and add
    the field of fixed, laterally uniform charge sheets (a membrane's surface charge).

    box (3,) nm; slabs: list of (z_lo, z_hi, eps_m) per membrane slab (nm, nm, relative
    permittivity); eps_w: relative permittivity of water; sheets: (z, charge) arrays of
    fixed sheets (nm; e per box area A, i.e. sigma A), or None. A uniform sheet has no
    lateral Fourier component, so it lives entirely in this 1-D problem. compute() ADDS
    q_i (Ebar_eps(z)(z_i) - Ebar_eps_w(z_i)) to forces[:, 2] and returns
    U_eps(z)(ions + sheets) - U_eps_w(ions) in kJ/mol, where the eps_w term carries the
    uniform background the Ewald sum implies when the ions alone are not neutral (their
    counter-charge sits on the sheets). Positions need not be wrapped in z. Ions and sheets
    together must be neutral (ValueError otherwise). Work arrays are allocated on the first
    call for a given N.
    """

    def __init__(self, box, slabs, eps_w, sheets=None):
        box = np.asarray(box, dtype=np.float64)
        if box.shape != (3,) or np.any(box <= 0):
            raise ValueError(f"box must be three positive edges in nm, got {box}")
        self.box = box
        self.area = float(box[0] * box[1])
        self.profile = DielectricProfile(box[2], slabs, eps_w)
        self.inv_w = 1.0 / (EPS0 * float(eps_w))
        sheet_z, sheet_q = _as_sheets(sheets)
        self.sheet_z = _wrap(sheet_z, box[2])
        self.sheet_q = sheet_q
        self._n = -1

    def _allocate(self, n):
        self._n = n
        m = n + len(self.sheet_z)
        self._zw = np.zeros(m)
        self._order = np.arange(m, dtype=np.int64)
        self._keys = np.zeros(m)
        self._tmp_order = np.zeros(m, dtype=np.int64)
        self._tmp_keys = np.zeros(m)
        self._qs = np.zeros(m)
        self._qs_w = np.zeros(m)
        self._ebar = np.zeros(m)
        self._ebar_w = np.zeros(m)

    def compute(self, pos, charges, forces) -> float:
        """U_eps(z) - U_eps_w in kJ/mol; ADDS the matching z-forces (kJ/(mol nm)).

        pos (N, 3) nm, charges (N,) e, forces (N, 3) float64 modified in place.
        """
        n = pos.shape[0]
        if n != self._n:
            self._allocate(n)
        p = self.profile
        energy, total = _correction(pos, charges, self.sheet_z, self.sheet_q, p.lz,
                                    self.area, p.bounds, p.inv, p.s_at, self.inv_w,
                                    self._zw, self._order, self._keys, self._tmp_order,
                                    self._tmp_keys, self._qs, self._qs_w, self._ebar,
                                    self._ebar_w, forces)
        if abs(total) > 1e-9:  # (the concatenation only on the way to an error)
            _check_neutral(total, np.concatenate([charges, self.sheet_q]))
        return energy


def _as_sheets(sheets):
    """(z nm, charge e) float arrays of fixed sheets; (empty, empty) for None."""
    if sheets is None:
        return np.zeros(0), np.zeros(0)
    z, q = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in sheets)
    if z.shape != q.shape or z.ndim != 1:
        raise ValueError(f"sheets: z and charge must be 1-D arrays of one length, got "
                         f"{z.shape} and {q.shape}")
    return z, q


def with_sheets(z, charges, sheets):
    """Ion z and charges with the fixed sheets appended (for the potential functions)."""
    sheet_z, sheet_q = _as_sheets(sheets)
    return (np.concatenate([np.asarray(z, dtype=np.float64), sheet_z]),
            np.concatenate([np.asarray(charges, dtype=np.float64), sheet_q]))


def _check_neutral(total, charges):
    if abs(total) <= 1e-9:  # the common case, decided without touching the charges
        return
    scale = float(np.sum(np.abs(charges))) if len(charges) else 0.0
    if abs(total) > 1e-9 * max(scale, 1.0):
        raise ValueError(f"the 1-D periodic field needs a neutral system; net charge "
                         f"{total:+.6g} e")


def _sheet_solution(z, charges, box, slabs, eps_w):
    """Sorted wrapped z, charges, S(z_i), the profile, A and Q0 = A D0."""
    box = np.asarray(box, dtype=np.float64)
    prof = DielectricProfile(box[2], slabs, eps_w)
    q = np.asarray(charges, dtype=np.float64)
    zw = _wrap(z, prof.lz)
    order = np.lexsort((np.arange(len(zw)), zw))
    zs, qs = zw[order], q[order]
    total = float(np.sum(qs))
    _check_neutral(total, qs)
    s_i = prof.s(zs)
    area = float(box[0] * box[1])
    # periodicity: D0 S_L + (1/A) sum_i q_i (S_L - S(z_i)) = 0
    q0 = -float(np.sum(qs * (prof.s_total - s_i))) / prof.s_total
    return zs, qs, s_i, prof, area, q0


def _gauge_constant(zs, qs, s_i, prof, area, q0):
    """c such that phi(z) = c - (1/A)[Q0 S(z) + sum_{z_i<z} q_i (S(z) - S(z_i))] has zero
    mean over the period."""
    lz = prof.lz
    i_l = prof.i_at[-1]
    mean = (q0 * i_l + float(np.sum(qs * (i_l - prof.i(zs) - s_i * (lz - zs))))) / area
    return mean / lz


def potential_profile(z, charges, box, slabs, eps_w, z_grid) -> np.ndarray:
    """phi_bar(z_grid) in kJ/(mol e) of the laterally averaged charge (gauge: zero mean).

    z (N,) ion z-coordinates in nm (wrapped or not), charges (N,) e, box (3,) nm, slabs as in
    MembraneFieldCorrection, eps_w relative permittivity, z_grid (M,) nm (wrapped or not).
    phi(z) = c - (1/A) [Q0 S(z) + sum_{z_i < z} q_i (S(z) - S(z_i))].
    """
    zs, qs, s_i, prof, area, q0 = _sheet_solution(z, charges, box, slabs, eps_w)
    c = _gauge_constant(zs, qs, s_i, prof, area, q0)
    zg = _wrap(z_grid, prof.lz)
    s_g = prof.s(zg)
    below = np.searchsorted(zs, zg, side="left")  # number of sheets with z_i < z
    cum_q = np.concatenate([[0.0], np.cumsum(qs)])
    cum_qs = np.concatenate([[0.0], np.cumsum(qs * s_i)])
    return c - ((q0 + cum_q[below]) * s_g - cum_qs[below]) / area


def window_mean_potentials(z, charges, box, slabs, eps_w, windows) -> np.ndarray:
    """Exact average of phi_bar over each window (z_lo, z_hi), in kJ/(mol e).

    A window with z_lo > z_hi wraps through the periodic boundary (z_lo .. Lz, 0 .. z_hi);
    windows may also be given in unwrapped coordinates (z_lo < z_hi, z_hi - z_lo <= Lz).
    V_m = result[inside] - result[outside].
    """
    zs, qs, s_i, prof, area, q0 = _sheet_solution(z, charges, box, slabs, eps_w)
    lz = prof.lz
    c = _gauge_constant(zs, qs, s_i, prof, area, q0)

    def integral(a, b):
        """integral_a^b phi dz for 0 <= a <= b <= Lz."""
        lo = np.maximum(a, zs)
        inside = zs < b
        sheets = np.sum(np.where(inside, qs * ((prof.i(b) - prof.i(np.minimum(lo, b)))
                                                - s_i * (b - np.minimum(lo, b))), 0.0))
        return c * (b - a) - (q0 * (prof.i(b) - prof.i(a)) + sheets) / area

    out = []
    for z_lo, z_hi in windows:
        z_lo, z_hi = float(z_lo), float(z_hi)
        if z_lo > z_hi:
            z_hi += lz
        width = z_hi - z_lo
        if not 0 < width <= lz:
            raise ValueError(f"window ({z_lo}, {z_hi}) nm must have a width in (0, Lz]")
        shift = math.floor(z_lo / lz) * lz
        a, b = z_lo - shift, z_hi - shift
        if b <= lz:
            total = integral(a, b)
        else:
            total = integral(a, lz) + integral(0.0, b - lz)
        out.append(total / width)
    return np.array(out)
