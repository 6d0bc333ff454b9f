"""Ewald summation: smooth particle-mesh Ewald reciprocal part, self energy, real-space pair.

The Coulomb energy of point charges in a periodic orthorhombic box with uniform relative
permittivity eps_w (tinfoil boundary conditions, neutral system) is split (Ewald 1921) as

    U = U_real + U_rec + U_self
    U_real = p * sum_{i<j} q_i q_j erfc(alpha r_ij) / r_ij           (minimum image, r < r_c)
    U_rec  = p / (2 V) * sum_{k != 0} 4 pi / k^2 exp(-k^2 / (4 alpha^2)) |S(k)|^2
    U_self = -p * alpha / sqrt(pi) * sum_i q_i^2

with p = COULOMB_CONSTANT / eps_w (kJ nm / (mol e^2)) and S(k) = sum_j q_j exp(i k.r_j).

U_rec is evaluated by smooth particle-mesh Ewald (Essmann, Perera, Berkowitz, Darden, Lee and
Pedersen, J. Chem. Phys. 103, 8577 (1995)): charges are spread onto a (K1, K2, K3) mesh with
cardinal B-splines M_n of order n, the mesh is convolved with the influence function
    C(k) = p 4 pi / (V k^2) exp(-k^2 / 4 alpha^2) B(k),  B = prod_d |b_d(k_d)|^2,
by FFT, and forces are the analytic gradient of the resulting energy (differentiated B-splines),
so the forces are exactly minus the gradient of the SPME energy.

Units: lengths nm, alpha nm^-1, charges e, energies kJ/mol, forces kJ/(mol nm).

Determinism: every kernel gives bit-identical results whatever the number of Numba threads.
Charge spreading runs in parallel over mesh planes x = const: plane ix is written only by the
thread that owns it, and it sums the contributions of the particles in a fixed order (a stable
counting sort of the particles by their base mesh column), so the summation order at every
mesh point is independent of the thread count. Force interpolation is parallel over particles
(each writes its own force). The energy is reduced per plane and then summed serially.
The FFTs (scipy's pocketfft, sim.forces.mesh_fft) run on one worker.
"""

from __future__ import annotations

import functools
import math
from collections import namedtuple

import numpy as np
from numba import njit, prange

from .cells import starts_from_counts
from .mesh_fft import RealFFT3D

__all__ = ["SPME", "self_energy", "real_space_pair", "bspline_moduli"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# --------------------------------------------------------------------------------------------
# real space and self term
# --------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def real_space_pair(r, qiqj, alpha, prefactor):
    """Real-space Ewald pair term for one pair at distance r (nm).

    Returns (energy, force_over_r): energy = prefactor q_i q_j erfc(alpha r) / r in kJ/mol and
    force_over_r in kJ/(mol nm^2) such that F_i = force_over_r * (r_i - r_j) = -F_j.
    The caller applies the cut-off (and the minimum image).
    """
    ar = alpha * r
    erfc_term = math.erfc(ar) / r
    energy = prefactor * qiqj * erfc_term
    # -dU/dr = p q q [erfc(ar)/r^2 + 2 alpha/sqrt(pi) exp(-a^2 r^2)/r]
    force_over_r = prefactor * qiqj * (erfc_term + alpha * _TWO_OVER_SQRT_PI
                                       * math.exp(-ar * ar)) / (r * r)
    return energy, force_over_r


def self_energy(charges, alpha, prefactor) -> float:
    """Ewald self energy -prefactor * alpha / sqrt(pi) * sum q_i^2 in kJ/mol (alpha in nm^-1)."""
    q = np.asarray(charges, dtype=np.float64)
    return float(-prefactor * alpha / math.sqrt(math.pi) * np.dot(q, q))


# --------------------------------------------------------------------------------------------
# B-splines
# --------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _bspline_fill(f, order, w, dw):
    """Cardinal B-spline weights w[j] = M_n(f + j) and dw[j] = M_n'(f + j), j = 0..n-1.

    f in [0, 1) is the fractional part of the scaled coordinate; the particle's weight on
    mesh point (floor(u) - j) is w[j]. Recursion of Essmann et al. (1995), section 4:
    M_n(x) = x/(n-1) M_{n-1}(x) + (n-x)/(n-1) M_{n-1}(x-1),  M_n'(x) = M_{n-1}(x) - M_{n-1}(x-1).
    Done in place (descending j keeps M_{k}(f+j-1) available while level k+1 is built).
    """
    for j in range(order):
        w[j] = 0.0
    w[0] = f
    w[1] = 1.0 - f
    for k in range(2, order):
        if k == order - 1:
            dw[0] = w[0]
            for j in range(1, order):
                dw[j] = w[j] - w[j - 1]
        inv = 1.0 / k
        for j in range(k, 0, -1):
            w[j] = ((f + j) * w[j] + (k + 1 - f - j) * w[j - 1]) * inv
        w[0] = f * w[0] * inv
    if order == 2:
        dw[0] = 1.0
        dw[1] = -1.0


def bspline_moduli(mesh_size: int, order: int) -> np.ndarray:
    """|b(m)|^2 of Essmann et al. (1995) for m = 0..K-1 (the SPME Euler exponential factors).

    |b(m)|^-2 = |sum_{k=0}^{n-2} M_n(k+1) exp(2 pi i m k / K)|^2. For odd n the sum vanishes at
    m = K/2; there the value is replaced by the mean of its neighbours (as GROMACS does).
    """
    w = np.zeros(order)
    dw = np.zeros(order)
    _bspline_fill(0.0, order, w, dw)  # w[j] = M_n(j): M_n(1..n-1) at w[1..n-1]
    m = np.arange(mesh_size)
    k = np.arange(order - 1)
    phase = np.exp(2j * np.pi * np.outer(m, k) / mesh_size)
    denom = np.abs(phase @ w[1:order]) ** 2
    for i in range(mesh_size):
        if denom[i] < 1e-7:
            denom[i] = 0.5 * (denom[(i - 1) % mesh_size] + denom[(i + 1) % mesh_size])
    return 1.0 / denom


# --------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _mesh_coordinate(x, length, k):
    """(base, f, ok) for coordinate x (nm) on a periodic mesh of k points over length (nm):
    u = x k / L = base + f with base = floor(u) mod k and f in [0, 1). Positions need not be
    wrapped; ok is False for NaN, inf or absurd x (then base = 0), which must poison the
    result, never the memory."""
    u = x / length * k
    if not abs(u) < 1e15:
        return 0, 0.0, False
    fl = math.floor(u)
    f = u - fl
    if f >= 1.0:  # u just below an integer can round up: keep f in [0, 1)
        f = 0.0
        fl += 1.0
    return np.int64(fl) % k, f, True


@njit(cache=True, parallel=True)
def _base_points(pos, box, mesh, base):
    """base[i, d] = floor(u) mod K_d of every particle (the key of the column binning)."""
    for i in prange(pos.shape[0]):
        for d in range(3):
            base[i, d] = _mesh_coordinate(pos[i, d], box[d], mesh[d])[0]


@njit(cache=True)
def _bin_by_column(base, k2, counts, starts, perm):
    """Counting sort of particles by their base mesh column (bx, by), key bx * K2 + by.

    Stable (particle order inside a column), so the result depends on the data only. The
    particles of x-plane bx are perm[starts[bx K2] : starts[(bx + 1) K2]], sorted by by,
    which keeps the mesh accesses of spreading and interpolation local.
    """
    n = base.shape[0]
    n_bins = starts.shape[0] - 1
    for b in range(n_bins + 1):
        counts[b] = 0
    for i in range(n):
        counts[base[i, 0] * k2 + base[i, 1] + 1] += 1
    starts_from_counts(counts, starts)
    for i in range(n):
        b = base[i, 0] * k2 + base[i, 1]
        perm[counts[b]] = i
        counts[b] += 1


@njit(cache=True, parallel=True, nogil=True)
def _convolve(spectrum, influence, k3, plane_energy):
    """Multiply the half spectrum by the influence function; per-plane energy partial sums.

    E = 1/2 sum_{all k} C(k) |F Q(k)|^2; the rfft half spectrum (kz = 0..K3//2) stands for
    kz and -kz at once, except kz = 0 and, for even K3, the Nyquist plane kz = K3/2.
    `influence` holds C(k) * M (M = number of mesh points, undoing irfftn's 1/M).
    """
    k1, k2, k3h = spectrum.shape
    last_double = k3h - 1 if k3 % 2 == 1 else k3h - 2  # last kz index that counts twice
    for i1 in prange(k1):
        acc = 0.0
        for i2 in range(k2):
            for i3 in range(k3h):
                c = influence[i1, i2, i3]
                s = spectrum[i1, i2, i3]
                weight = 2.0 if 0 < i3 <= last_double else 1.0
                acc += weight * c * (s.real * s.real + s.imag * s.imag)
                spectrum[i1, i2, i3] = s * c
        plane_energy[i1] = acc


StencilKernels = namedtuple("StencilKernels", "spline_weights spread interpolate_forces")


@functools.lru_cache(maxsize=None)
def stencil_kernels(order: int) -> StencilKernels:
    """The particle-mesh kernels compiled for one B-spline order.

    The order is a compile-time constant of each (a closure variable), so that LLVM unrolls
    the stencil loops: interpolation took 1.42 instead of 1.78 ms at order 6 and N = 1e4.
    Numba caches each order's kernels on disk like any other function.
    """

    @njit(cache=True, parallel=True)
    def spline_weights(pos, box, mesh, perm, charges, w, dw, base_sorted, q_sorted):
        """B-spline weights (and d/du) of particle perm[s] in slot s, with its base point and
        charge: the spreading and interpolation kernels then read particle data in the order
        they visit it (column order), not at random."""
        for s in prange(pos.shape[0]):
            i = perm[s]
            q_sorted[s] = charges[i]
            for d in range(3):
                b, f, ok = _mesh_coordinate(pos[i, d], box[d], mesh[d])
                base_sorted[s, d] = b
                if ok:
                    _bspline_fill(f, order, w[s, d], dw[s, d])
                else:
                    for j in range(order):
                        w[s, d, j] = math.nan
                        dw[s, d, j] = math.nan

    @njit(cache=True, parallel=True)
    def spread(q_sorted, base, w, starts, grid):
        """Q[ix, iy, iz] = sum_i q_i w_x w_y w_z (the SPME charge array), parallel over x-planes.

        Particle i (base plane bx) touches planes bx - j, j = 0..n-1, so plane ix gathers the
        particles of planes bx = ix + j. Each plane is owned by one thread; the order of
        summation at a mesh point is (j, column, particle index) and does not depend on the
        number of threads. Particle data are in slot (column) order.
        """
        k1, k2, k3 = grid.shape
        for ix in prange(k1):
            for a in range(k2):
                for c in range(k3):
                    grid[ix, a, c] = 0.0
            for j in range(order):
                bx = (ix + j) % k1
                for i in range(starts[bx * k2], starts[(bx + 1) * k2]):
                    qx = q_sorted[i] * w[i, 0, j]
                    by = base[i, 1]
                    bz = base[i, 2]
                    for a in range(order):
                        iy = by - a
                        if iy < 0:
                            iy += k2
                        qxy = qx * w[i, 1, a]
                        if bz >= order - 1:  # no wrap in z: contiguous, branch-free inner loop
                            for c in range(order):
                                grid[ix, iy, bz - c] += qxy * w[i, 2, c]
                        else:
                            for c in range(order):
                                iz = bz - c
                                if iz < 0:
                                    iz += k3
                                grid[ix, iy, iz] += qxy * w[i, 2, c]

    @njit(cache=True, parallel=True)
    def interpolate_forces(q_sorted, base, w, dw, box, perm, phi, forces):
        """F_i = -sum_mesh dQ/dr_i * phi (analytic gradient of the SPME energy); ADDS into forces.

        Parallel over slots (particle perm[s], data in column order, for memory locality); each
        particle's sum has a fixed order and writes only its own force.
        """
        k1, k2, k3 = phi.shape
        sx = k1 / box[0]
        sy = k2 / box[1]
        sz = k3 / box[2]
        n = q_sorted.shape[0]
        for i in prange(n):
            fx = 0.0
            fy = 0.0
            fz = 0.0
            bx = base[i, 0]
            by = base[i, 1]
            bz = base[i, 2]
            for j in range(order):
                ix = bx - j
                if ix < 0:
                    ix += k1
                wx = w[i, 0, j]
                dwx = dw[i, 0, j]
                for a in range(order):
                    iy = by - a
                    if iy < 0:
                        iy += k2
                    # sum_c wz g and sum_c dwz g first: 2 products per point instead of 6
                    g_w = 0.0
                    g_dw = 0.0
                    if bz >= order - 1:
                        for c in range(order):
                            g = phi[ix, iy, bz - c]
                            g_w += w[i, 2, c] * g
                            g_dw += dw[i, 2, c] * g
                    else:
                        for c in range(order):
                            iz = bz - c
                            if iz < 0:
                                iz += k3
                            g = phi[ix, iy, iz]
                            g_w += w[i, 2, c] * g
                            g_dw += dw[i, 2, c] * g
                    wy = w[i, 1, a]
                    fx += dwx * wy * g_w
                    fy += wx * dw[i, 1, a] * g_w
                    fz += wx * wy * g_dw
            q = q_sorted[i]
            p = perm[i]
            forces[p, 0] -= q * sx * fx
            forces[p, 1] -= q * sy * fy
            forces[p, 2] -= q * sz * fz

    return StencilKernels(spline_weights, spread, interpolate_forces)


@njit(cache=True)
def _serial_sum(values):
    acc = 0.0
    for v in values:
        acc += v
    return acc


# --------------------------------------------------------------------------------------------
# public class
# --------------------------------------------------------------------------------------------
class SPME:
    """Reciprocal-space Ewald energy/forces by smooth PME (cardinal B-splines of order `order`).

    Parameters
    ----------
    box : (3,) box edges Lx, Ly, Lz in nm (orthorhombic, periodic).
    alpha : Ewald splitting parameter in nm^-1 (the real-space part decays as erfc(alpha r)).
    mesh : (3,) numbers of mesh points K1, K2, K3 (FFT-friendly sizes are fastest).
    order : B-spline order n (n - 1 is the polynomial degree; 4..8 usual, 2..12 accepted).
    prefactor : COULOMB_CONSTANT / eps_w in kJ nm / (mol e^2).
    single_precision : mesh, FFT and potential in float32 (default; particle data, weights
        and sums stay float64). The energy then carries rounding of ~1e-7 relative, too much
        for a finite-difference check at h = 1e-5 nm, for which float64 is kept.

    compute() returns U_rec and adds -grad U_rec to the forces. Tinfoil boundary conditions
    (k = 0 omitted); the system must be neutral. Work arrays are allocated in __init__ (mesh)
    and on the first call for a given N (per-particle spline tables), then reused.
    """

    def __init__(self, box, alpha, mesh, order, prefactor, single_precision=True):
        box = np.asarray(box, dtype=np.float64)
        mesh = np.asarray(mesh, dtype=np.int64)
        if box.shape != (3,) or np.any(box <= 0):
            raise ValueError(f"box must be three positive edges in nm, got {box}")
        if mesh.shape != (3,) or np.any(mesh < 1):
            raise ValueError(f"mesh must be three positive integers, got {mesh}")
        if not 2 <= int(order) <= 12:
            raise ValueError(f"B-spline order must be in 2..12, got {order}")
        if np.any(mesh < int(order)):  # the kernels wrap a stencil at most once
            raise ValueError(f"every mesh dimension must be >= the B-spline order {order}, "
                             f"got {mesh.tolist()}")
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0 nm^-1, got {alpha}")
        self.box = box
        self.alpha = float(alpha)
        self.mesh = mesh
        self.order = int(order)
        self.prefactor = float(prefactor)
        k1, k2, k3 = (int(m) for m in mesh)
        # single precision mesh: halves the FFT (54^3: 2.4 -> 1.1 ms) at relative rounding
        # errors ~1e-7, four orders below the smallest force error the tuner is asked for
        mesh_type = np.float32 if single_precision else np.float64
        self._grid = np.zeros((k1, k2, k3), dtype=mesh_type)
        self._influence = self._influence_function().astype(mesh_type)
        self._fft = RealFFT3D((k1, k2, k3), mesh_type)
        self._plane_energy = np.zeros(k1)
        self._counts = np.zeros(k1 * k2 + 1, dtype=np.int64)
        self._starts = np.zeros(k1 * k2 + 1, dtype=np.int64)
        self._n = -1
        self._phi = None  # the mesh potential of the last transform

    @property
    def mesh_points(self) -> int:
        """K1 K2 K3."""
        return self._grid.size

    def _influence_function(self) -> np.ndarray:
        """C(k) * M on the rfft half spectrum (Essmann et al.'s B(m) C(m), B = prod |b|^2)."""
        k1, k2, k3 = (int(m) for m in self.mesh)
        lx, ly, lz = self.box
        kx = 2.0 * np.pi * np.fft.fftfreq(k1, d=1.0 / k1) / lx
        ky = 2.0 * np.pi * np.fft.fftfreq(k2, d=1.0 / k2) / ly
        kz = 2.0 * np.pi * np.arange(k3 // 2 + 1) / lz
        bx = bspline_moduli(k1, self.order)
        by = bspline_moduli(k2, self.order)
        bz = bspline_moduli(k3, self.order)[: k3 // 2 + 1]
        k2sum = kx[:, None, None] ** 2 + ky[None, :, None] ** 2 + kz[None, None, :] ** 2
        k2sum[0, 0, 0] = 1.0
        volume = lx * ly * lz
        c = (self.prefactor * 4.0 * np.pi / volume * np.exp(-k2sum / (4.0 * self.alpha ** 2))
             / k2sum * bx[:, None, None] * by[None, :, None] * bz[None, None, :])
        c[0, 0, 0] = 0.0  # tinfoil: the k = 0 term is omitted
        return np.ascontiguousarray(c * (k1 * k2 * k3))

    def _allocate(self, n):
        self._n = n
        self._base = np.zeros((n, 3), dtype=np.int64)
        self._base_sorted = np.zeros((n, 3), dtype=np.int64)
        self._q_sorted = np.zeros(n)
        self._w = np.zeros((n, 3, self.order))
        self._dw = np.zeros((n, 3, self.order))
        self._perm = np.zeros(n, dtype=np.int64)

    def compute(self, pos, charges, forces) -> float:
        """Reciprocal energy in kJ/mol; ADDS the reciprocal forces (kJ/(mol nm)) to `forces`.

        pos (N, 3) nm (wrapped into [0, L) or not: the kernels wrap), charges (N,) e,
        forces (N, 3) float64, modified in place.
        """
        self.spread(pos, charges)
        self.transform()
        return self.interpolate(forces)

    # The phases of compute, for a caller that runs other work beside the transform (sim.
    # forces.overlap): spread, transform, interpolate, in this order.
    def spread(self, pos, charges):
        """The spline weights of every particle and the charge mesh Q."""
        n = pos.shape[0]
        if n != self._n:
            self._allocate(n)
        _base_points(pos, self.box, self.mesh, self._base)
        _bin_by_column(self._base, int(self.mesh[1]), self._counts, self._starts, self._perm)
        kernels = stencil_kernels(self.order)
        kernels.spline_weights(pos, self.box, self.mesh, self._perm, charges, self._w,
                               self._dw, self._base_sorted, self._q_sorted)
        kernels.spread(self._q_sorted, self._base_sorted, self._w, self._starts, self._grid)

    def transform(self):
        """Q -> phi = IFFT(C FFT(Q)) and the energy's plane sums. Releases the GIL for all
        but its Python calls; uses one core (the Numba threads of the calling thread)."""
        # one FFT worker: a second one competes with Numba's threads, which spin for a while
        # after each parallel kernel (sim/__init__.py), and was slower at every mesh measured
        # (30^3 ... 64^3 in single precision), and no faster inside the step at 60^3 and
        # 120^3 (2026-12-07)
        spectrum = self._fft.forward(self._grid)
        _convolve(spectrum, self._influence, int(self.mesh[2]), self._plane_energy)
        self._phi = self._fft.inverse(spectrum)

    def interpolate(self, forces) -> float:
        """ADDS the forces of phi (kJ/(mol nm)) to forces; returns the energy, kJ/mol."""
        stencil_kernels(self.order).interpolate_forces(
            self._q_sorted, self._base_sorted, self._w, self._dw, self.box, self._perm,
            self._phi, forces)
        # sum over the (full) spectrum of C |FQ|^2 / M: the influence carries the factor M
        return 0.5 * _serial_sum(self._plane_energy) / self._grid.size
