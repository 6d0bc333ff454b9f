"""Widom test-particle insertion: activity coefficients measured in a run's stored frames.

The potential distribution theorem (Widom, J. Chem. Phys. 39 (1963) 2808) gives the excess
chemical potential of what is inserted as an average over the unperturbed system:

    beta mu^ex = -ln < exp(-beta Delta U) >,

Delta U the energy of adding the test particles to a frame, averaged over frames and over
uniformly random positions. An ion alone cannot be added to a neutral Ewald system without a
background correction, so a *neutral group* is inserted: a cation and an anion (or one
Ca2+ and two Cl-), each at its own random position. Its excess chemical potential is the sum
of its members' (mu_+ + mu_- for a 1:1 salt), and the mean activity coefficient of the salt,
on the number-density (molar, McMillan-Mayer) scale of the model, is

    ln gamma_+- = beta mu_group^ex / nu = -(1/nu) ln <exp(-beta Delta U)>,  nu = group size,

i.e. gamma_+- = <exp(-beta Delta U)>^(-1/nu). (An attractive environment, Delta U < 0 on
average, makes the mean weight > 1 and gamma < 1.) Finite-size terms of order 1/N (the
ideal part's N vs N + 1, the group's own screened attraction over the box) are below 1 %
for a few hundred ions and are not corrected.

Delta U is the full model energy of the engine (DESIGN section 4):

- Coulomb: the Ewald sum of point charges with uniform eps_w under tinfoil boundary
  conditions, evaluated *exactly* here (explicit k-sum, not the mesh), with an alpha of its
  own: real space by the minimum image within r_c = half the smallest box edge, alpha =
  sqrt(-ln tol) / r_c, and every k with exp(-k^2 / 4 alpha^2) > tol (tol = 1e-5 by
  default). The group changes the structure factor S(k) by s(k) = sum_g q_g exp(i k.r_g),
  so Delta U_rec = (p/V) sum_{half k-space} (4 pi / k^2) exp(-k^2/4 alpha^2)
  [2 Re(S* s) + |s|^2] exactly (the group's mutual and self-image terms included), plus the
  real-space pairs with the frame's ions and within the group, and the self terms
  -p alpha / sqrt(pi) sum_g q_g^2 (Allen and Tildesley, *Computer Simulation of Liquids*,
  2nd ed. 2017, section 6.2; p = 138.935458 / eps_w kJ nm / (mol e^2)). This is the sum the
  engine's SPME approximates to its stated force error (1e-3): the tests hold Delta U to
  analysis.validation.ewald_direct_sum to 1e-6 kJ/mol, and to the engine's own force terms
  evaluated before and after adding the group to within the SPME error.
- WCA between the group and the frame's ions and within the group (Lorentz mixing; the
  engine's sim.forces.short_range).
- With membranes, the laterally averaged correction U_1D[eps(z)] - U_1D[eps_w]
  (sim.forces.membrane_field). Adding sheets q_g at z_g to the 1-D problem changes its
  energy (A/2) int D^2 dS (dS = dz / (eps0 eps(z))) by

      Delta U_1D = sum_g q_g phi(z_g) + (1 / 2A) [ sum_j c_j^2 dS_j - (sum_j c_j dS_j)^2 / S_L ]

  (phi the frame's laterally averaged potential; c_j the group's charge below the j-th
  interval between its sorted z_g, dS_j that interval's elastance, S_L the period's), once
  with eps(z) (ions and fixed surface sheets) and once with eps_w (ions and the background
  of a non-neutral ion set), so the membrane term costs O(N) per frame, not per insertion.
  The tests hold it to the engine's MembraneFieldCorrection before and after.

Insertions can be restricted to a z-window (a compartment's bulk window,
sim.observe.bulk_windows) so that the same works in each compartment of a membrane run;
a run with membranes needs one (a random position inside a membrane is not allowed).

The SE is that of the mean weight over frames (analysis.statistics.analyze_series on the
per-frame means: frames are the correlated samples, insertions within a frame are not
independent of each other), propagated: SE(ln gamma) = SE(<w>) / (nu <w>).

Units: nm, e, kJ/mol; Delta U in kJ/mol, weights dimensionless.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from sim import units
from sim.electrostatics import membrane_slabs, surface_sheets
from sim.errors import UserError
from sim.forces.insertion import insertion_energies, structure_factor
from sim.forces.membrane_field import DielectricProfile, potential_profile
from sim.forces.short_range import WCA_CUTOFF_FACTOR

from analysis.statistics import analyze_series

__all__ = ["InsertionModel", "MembraneTerm", "WidomResult", "widom", "default_group",
           "ActivityRatio",
           "activity_ratio", "EWALD_TOLERANCE", "INSERTIONS_PER_FRAME"]

#: Truncation of both Ewald sums: erfc(alpha r_c) and exp(-k^2 / 4 alpha^2) at the last
#: term kept (relative to the first). Measured against the direct sum (192 ions, 11 nm box):
#: 1e-5 keeps Delta U within 1e-5 kJ/mol (4e-6 kT) with 823 k-vectors; 1e-7 within 6e-8
#: kJ/mol with 2276, for no change in any result (ln gamma moved by 4e-7).
EWALD_TOLERANCE = 1e-5
#: Insertions of the group per frame (default): the weights of one frame are strongly
#: correlated through the frame, so beyond a few hundred the frames, not the insertions,
#: set the SE.
INSERTIONS_PER_FRAME = 500
_TWO_PI = 2.0 * math.pi


# --------------------------------------------------------------------------------------------
# the exact Ewald sum: set-up and kernels
# --------------------------------------------------------------------------------------------
def _ewald_setup(box, tolerance):
    """(alpha nm^-1, r_c nm, k-vector indices (K, 3), the start of each (nx, ny) column
    among them (C + 1,), their coefficients (K,), n_max (3,)) for an exact Ewald sum in
    this box (see the module docstring): half k-space, c_k = (4 pi / (V k^2))
    exp(-k^2 / 4 alpha^2), to be multiplied by the Coulomb prefactor."""
    box = np.asarray(box, dtype=np.float64)
    r_c = 0.5 * float(box.min())
    x = math.sqrt(-math.log(tolerance))
    alpha = x / r_c
    k_max = 2.0 * alpha * x
    n_max = np.floor(k_max * box / _TWO_PI).astype(np.int64)
    grids = [np.arange(-n, n + 1) for n in n_max]
    nx, ny, nz = (g.ravel() for g in np.meshgrid(*grids, indexing="ij"))
    half = (nx > 0) | ((nx == 0) & (ny > 0)) | ((nx == 0) & (ny == 0) & (nz > 0))
    kvec = _TWO_PI * np.stack([nx, ny, nz], axis=1) / box
    k2 = np.sum(kvec ** 2, axis=1)
    keep = half & (k2 <= k_max ** 2)
    idx = np.stack([nx, ny, nz], axis=1)[keep].astype(np.int64)
    k2 = k2[keep]
    coeff = 4.0 * math.pi / (float(np.prod(box)) * k2) * np.exp(-k2 / (4.0 * alpha ** 2))
    # meshgrid's "ij" order keeps the k-vectors sorted by (nx, ny, nz): columns of one
    # (nx, ny) are contiguous
    new_col = np.ones(len(idx), dtype=bool)
    new_col[1:] = np.any(idx[1:, :2] != idx[:-1, :2], axis=1)
    col_start = np.append(np.nonzero(new_col)[0], len(idx)).astype(np.int64)
    return alpha, r_c, np.ascontiguousarray(idx), col_start, coeff, n_max


# --------------------------------------------------------------------------------------------
# the membrane (kx = ky = 0) term
# --------------------------------------------------------------------------------------------
def _uniform_potential(z, q, lz, inv_w, area, z_eval):
    """phi (kJ/(mol e)) of the 1-D sheets z, q in uniform permittivity (inv_w = 1/(eps0
    eps_w)) with the uniform background -q_net/Lz a non-neutral set implies, at z_eval
    (all wrapped into [0, Lz)), up to a constant: phi(z) = -(inv_w/A) [Q0 z + sum_{z_i<z}
    q_i (z - z_i) - q_net z^2 / (2 Lz)], Q0 = q_net/2 - sum_i q_i (1 - z_i/Lz), the field of
    sim.forces.membrane_field._one_d_uniform integrated."""
    order = np.argsort(z, kind="stable")
    zs, qs = z[order], q[order]
    q_net = float(np.sum(qs))
    q0 = 0.5 * q_net - float(np.sum(qs * (1.0 - zs / lz)))
    below = np.searchsorted(zs, z_eval, side="left")
    cum_q = np.concatenate([[0.0], np.cumsum(qs)])
    cum_qz = np.concatenate([[0.0], np.cumsum(qs * zs)])
    inner = cum_q[below] * z_eval - cum_qz[below]
    return -(inv_w / area) * (q0 * z_eval + inner - q_net * z_eval ** 2 / (2.0 * lz))


def _group_self(z, q, s_of, s_total, area):
    """(1/2A) [sum_j c_j^2 dS_j - (sum_j c_j dS_j)^2 / S_L] for each trial: the 1-D energy
    of a neutral group of sheets (z (M, G) wrapped, q (G,)) by itself, S = s_of(z)."""
    order = np.argsort(z, axis=1, kind="stable")
    zs = np.take_along_axis(z, order, axis=1)
    c = np.cumsum(q[order], axis=1)[:, :-1]  # charge below each interval between sheets
    s = s_of(zs)
    ds = np.diff(s, axis=1)
    return (np.sum(c * c * ds, axis=1) - np.sum(c * ds, axis=1) ** 2 / s_total) / (2.0 * area)


class MembraneTerm:
    """Delta U of the laterally averaged correction U_1D[eps(z)] - U_1D[eps_w] for inserted
    groups (module docstring): what sim.forces.membrane_field.MembraneFieldCorrection would
    add, from the frame's 1-D potentials.

    Args: as for MembraneFieldCorrection: box (3,) nm; slabs [(z_lo, z_hi, eps_m)];
    eps_w; sheets (z nm, charge e) of the fixed surface charge, or None.
    """

    def __init__(self, box, slabs, eps_w, sheets=None):
        self.box = np.array(box, dtype=np.float64)
        self.lz = float(self.box[2])
        self.area = float(self.box[0] * self.box[1])
        self.slabs = list(slabs)
        self.eps_w = float(eps_w)
        if sheets is None:
            sheets = (np.zeros(0), np.zeros(0))
        self.sheet_z = np.mod(np.asarray(sheets[0], dtype=np.float64), self.lz)
        self.sheet_q = np.asarray(sheets[1], dtype=np.float64)
        self.profile = DielectricProfile(self.lz, self.slabs, self.eps_w)
        self.inv_w = 1.0 / (units.EPS0 * self.eps_w)

    @classmethod
    def from_scenario(cls, scenario) -> "MembraneTerm":
        return cls(scenario.box, membrane_slabs(scenario), scenario.solvent_permittivity,
                   surface_sheets(scenario))

    def delta(self, pos, charges, trial_z, group_charges):
        """Delta U (kJ/mol, (M,)) for the group charges at trial_z (M, G) nm."""
        lz = self.lz
        z = np.mod(pos[:, 2], lz)
        zt = np.mod(trial_z, lz)
        flat = zt.ravel()
        z_all = np.concatenate([z, self.sheet_z])
        q_all = np.concatenate([charges, self.sheet_q])
        phi_eps = potential_profile(z_all, q_all, self.box, self.slabs, self.eps_w, flat)
        phi_w = _uniform_potential(z, charges, lz, self.inv_w, self.area, flat)
        m, g = zt.shape
        lin = ((phi_eps - phi_w).reshape(m, g) * group_charges[None, :]).sum(axis=1)
        self_eps = _group_self(zt, group_charges, self.profile.s, self.profile.s_total,
                               self.area)
        self_w = _group_self(zt, group_charges, lambda x: x * self.inv_w, lz * self.inv_w,
                             self.area)
        return lin + self_eps - self_w


# --------------------------------------------------------------------------------------------
# the model of a run
# --------------------------------------------------------------------------------------------
class InsertionModel:
    """The energy of inserting a group of ions into frames of one scenario's system.

    Args:
        scenario: the run's scenario (box, species, WCA, electrostatics, membranes).
        species: (N,) species index of each ion of the frames; charges: (N,) e.
        tolerance: truncation of the exact Ewald sums (:data:`EWALD_TOLERANCE`).
    """

    def __init__(self, scenario, species, charges, tolerance: float = EWALD_TOLERANCE):
        self.scenario = scenario
        self.box = np.array(scenario.box, dtype=np.float64)
        self.species = np.ascontiguousarray(species, dtype=np.int64)
        self.charges = np.ascontiguousarray(charges, dtype=np.float64)
        self.valences = np.array([s.valence for s in scenario.species], dtype=np.float64)
        diam = np.array([s.diameter for s in scenario.species], dtype=np.float64)
        self.sigma = 0.5 * (diam[:, None] + diam[None, :])
        self.wca_eps = float(scenario.wca_epsilon)
        self.wca_cut2 = (WCA_CUTOFF_FACTOR * self.sigma) ** 2 if self.wca_eps > 0 else \
            np.zeros_like(self.sigma)
        self.kT = scenario.kT
        coulomb = scenario.electrostatics.method != "off"
        self.prefactor = units.COULOMB_CONSTANT / scenario.solvent_permittivity \
            if coulomb else 0.0
        if coulomb:
            (self.alpha, r_c, self.kidx, self.col_start, self.coeff,
             self.n_max) = _ewald_setup(self.box, tolerance)
        else:
            self.alpha, r_c = 0.0, 0.0
            self.kidx = np.zeros((0, 3), dtype=np.int64)
            self.col_start = np.zeros(1, dtype=np.int64)
            self.coeff = np.zeros(0)
            self.n_max = np.zeros(3, dtype=np.int64)
        self.rc2 = r_c * r_c
        # without Coulomb the membrane's dielectric does nothing
        self.membrane = (MembraneTerm.from_scenario(scenario)
                         if coulomb and scenario.membranes else None)
        width = 2 * int(self.n_max.max()) + 1
        self._s_re = np.zeros(len(self.coeff))
        self._s_im = np.zeros(len(self.coeff))
        self._ph_re = np.zeros((3, width))
        self._ph_im = np.zeros((3, width))

    @property
    def k_vectors(self) -> int:
        """Number of k-vectors of the reciprocal sum (half k-space)."""
        return len(self.coeff)

    def set_frame(self, pos) -> None:
        """Take a frame (N, 3) nm: its structure factor is computed once."""
        self._pos = np.ascontiguousarray(pos, dtype=np.float64)
        if self.prefactor != 0.0:
            structure_factor(self._pos, self.charges, self.box, self.n_max, self.kidx,
                             self._s_re, self._s_im, self._ph_re, self._ph_im)

    def delta_u(self, trial_pos, group) -> np.ndarray:
        """Delta U (kJ/mol, (M,)) of inserting the group (species indices, (G,)) at
        trial_pos (M, G, 3) nm into the frame of :meth:`set_frame`."""
        group = np.asarray(group, dtype=np.int64)
        gq = self.valences[group].astype(np.float64)
        trial_pos = np.ascontiguousarray(trial_pos, dtype=np.float64)
        m, g_n = trial_pos.shape[0], trial_pos.shape[1]
        out = np.zeros(m)
        width = self._ph_re.shape[1]
        ph_re = np.zeros((g_n, 3, width))
        ph_im = np.zeros((g_n, 3, width))
        insertion_energies(self._pos, self.species, self.charges, self.box, self.sigma,
                           self.wca_cut2, self.wca_eps, self.prefactor, self.alpha, self.rc2,
                           self.n_max, self.kidx, self.col_start, self.coeff, self._s_re,
                           self._s_im, trial_pos, group, gq, ph_re, ph_im, np.zeros(g_n),
                           np.zeros(g_n), out)
        if self.membrane is not None:
            finite = np.isfinite(out)
            out[finite] += self.membrane.delta(self._pos, self.charges,
                                               trial_pos[finite, :, 2], gq)
        return out


# --------------------------------------------------------------------------------------------
# the measurement
# --------------------------------------------------------------------------------------------
@dataclass
class WidomResult:
    """Widom insertion of a neutral group into a run's frames.

    Attributes:
        group: species names, one per inserted ion (e.g. ("K+", "Cl-")).
        window: (z_lo, z_hi) nm of the insertions, or None (the whole box).
        frames: frames used; insertions: per frame; t_from_ps: first frame time used.
        mean_weight, mean_weight_sem: <exp(-beta Delta U)> and its SE (over frames).
        ln_gamma, ln_gamma_sem: ln gamma_+- = -ln(<w>)/nu and its SE (number-density scale).
        statistical_inefficiency: g of the per-frame mean weights.
        excluded_fraction: fraction of insertions with weight < 1e-20 (overlaps).
        frame_weights: (F,) per-frame mean weights; frame_times_ps: their times.
        seconds: wall time of the insertions.
        notes: caveats.
    """

    group: tuple[str, ...]
    window: tuple[float, float] | None
    frames: int
    insertions: int
    t_from_ps: float
    mean_weight: float
    mean_weight_sem: float
    ln_gamma: float
    ln_gamma_sem: float
    statistical_inefficiency: float
    excluded_fraction: float
    frame_weights: np.ndarray
    frame_times_ps: np.ndarray
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def gamma(self) -> float:
        """gamma_+- (number-density scale)."""
        return math.exp(self.ln_gamma)

    @property
    def gamma_sem(self) -> float:
        return self.gamma * self.ln_gamma_sem

    def to_json(self) -> dict:
        def num(x):
            return float(x) if x is not None and math.isfinite(x) else None
        return {"group": list(self.group), "window_nm": list(self.window) if self.window
                else None, "frames": self.frames, "insertions_per_frame": self.insertions,
                "from_ps": self.t_from_ps, "mean_weight": num(self.mean_weight),
                "mean_weight_sem": num(self.mean_weight_sem),
                "ln_gamma_pm": num(self.ln_gamma), "ln_gamma_pm_sem": num(self.ln_gamma_sem),
                "gamma_pm": num(self.gamma), "gamma_pm_sem": num(self.gamma_sem),
                "excluded_fraction": num(self.excluded_fraction),
                "statistical_inefficiency": num(self.statistical_inefficiency),
                "notes": list(self.notes)}


def default_group(scenario, species_counts) -> tuple[int, ...]:
    """The smallest neutral group of the run's salt: for one cation and one anion species
    (the species present), |z_-| cations and |z_+| anions divided by their gcd (K+ Cl- ->
    (K+, Cl-); Ca2+ Cl- -> (Ca2+, Cl-, Cl-)). UserError for any other mixture (name the
    group then)."""
    present = [s for s, n in enumerate(species_counts) if n > 0]
    cations = [s for s in present if scenario.species[s].valence > 0]
    anions = [s for s in present if scenario.species[s].valence < 0]
    if len(cations) != 1 or len(anions) != 1:
        names = ", ".join(scenario.species[s].name for s in present)
        raise UserError(f"Widom insertion needs a group to insert: the run holds {names}, "
                        f"not one salt (name the group, e.g. group=('K+', 'Cl-'))")
    zc, za = scenario.species[cations[0]].valence, -scenario.species[anions[0]].valence
    k = math.gcd(zc, za)
    return (cations[0],) * (za // k) + (anions[0],) * (zc // k)


def _frame_rng(seed, frame):
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(frame)]))


def widom(run, group=None, window=None, insertions: int = INSERTIONS_PER_FRAME, seed=0,
          t_from_ps: float = 0.0, max_frames: int | None = None,
          tolerance: float = EWALD_TOLERANCE) -> WidomResult:
    """Mean activity coefficient of a salt in a run, by Widom insertion of a neutral group.

    Args:
        run: a :class:`sim.io.RunData` with frames.
        group: species names or indices, one per inserted ion (default
            :func:`default_group`); must be neutral.
        window: (z_lo, z_hi) nm; both ions are placed uniformly in x, y and in this z-range
            (required when the run has membranes: e.g. sim.observe.bulk_windows).
        insertions: group insertions per frame.
        seed: random seed of the trial positions (frame f uses (seed, f)).
        t_from_ps: frames before this time (ps) are not used (equilibration).
        max_frames: use at most this many frames, evenly spaced (None: all).
        tolerance: Ewald truncation (:data:`EWALD_TOLERANCE`).

    Raises:
        UserError: no frames after t_from_ps, a charged group, a membrane run without a
            window, a window outside the box.
    """
    import time
    sc = run.scenario
    names = [s.name for s in sc.species]
    if group is None:
        group = default_group(sc, np.bincount(run.species, minlength=len(names)))
    group = tuple(names.index(g) if isinstance(g, str) else int(g) for g in group)
    charge = sum(sc.species[s].valence for s in group)
    if charge != 0:
        raise UserError(f"Widom group {[names[s] for s in group]} carries {charge:+d} e: "
                        f"insert a neutral group")
    lz = sc.box[2]
    if window is None and sc.membranes:
        raise UserError(f"{run.dir}: the run has membranes; give a z-window for the "
                        f"insertions (a compartment's bulk window)")
    if window is not None:
        window = (float(window[0]), float(window[1]))
        if not 0.0 <= window[0] < window[1] <= lz:
            raise UserError(f"Widom window {window} nm must lie inside [0, {lz:g}] nm")
    steps = np.asarray(run.frame_steps)
    times = np.asarray(run.frame_times, dtype=float)
    use = np.nonzero(times >= t_from_ps - 1e-9)[0]
    if use.size == 0:
        raise UserError(f"{run.dir}: no frames at or after {t_from_ps:g} ps for Widom "
                        f"insertion (the run has {steps.size} frames; write frames more "
                        f"often with run.frame_interval)")
    if max_frames is not None and use.size > max_frames:
        use = use[np.unique(np.linspace(0, use.size - 1, max_frames).round().astype(int))]
    model = InsertionModel(sc, run.species, run.charges, tolerance)
    g_n = len(group)
    lo, hi = window if window is not None else (0.0, lz)
    box = model.box
    weights = np.empty(use.size)
    excluded = 0
    t0 = time.perf_counter()
    positions = run.positions(slice(int(use[0]), int(use[-1]) + 1))
    for n, f in enumerate(use):
        model.set_frame(positions[f - use[0]])
        rng = _frame_rng(seed, f)
        trial = rng.random((insertions, g_n, 3))
        trial[:, :, 0] *= box[0]
        trial[:, :, 1] *= box[1]
        trial[:, :, 2] = lo + (hi - lo) * trial[:, :, 2]
        beta_du = model.delta_u(trial, group) / model.kT
        w = np.exp(-beta_du)
        excluded += int(np.sum(w < 1e-20))
        weights[n] = float(np.mean(w))
    seconds = time.perf_counter() - t0
    notes = []
    mean, sem, g_ineff = _weight_stats(weights, notes)
    ln_g = -math.log(mean) / g_n if mean > 0 else math.nan
    ln_se = sem / (g_n * mean) if mean > 0 else math.nan
    return WidomResult(tuple(names[s] for s in group), window, int(use.size), insertions,
                       float(times[use[0]]), mean, sem, ln_g, ln_se, g_ineff,
                       excluded / (use.size * insertions), weights, times[use], seconds,
                       notes)


def _weight_stats(weights, notes):
    """(mean, SE, g) of the per-frame mean weights (SE NaN with fewer than 4 frames)."""
    if weights.size < 4:
        notes.append(f"only {weights.size} frames: no error bar")
        return float(np.mean(weights)), math.nan, math.nan
    if np.ptp(weights) == 0.0:
        return float(weights[0]), 0.0, 1.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        st = analyze_series(weights, equilibration=0)
    if any(issubclass(w.category, RuntimeWarning) for w in caught):
        notes.append(f"Widom: {weights.size} frames are few for their correlation (g = "
                     f"{st.statistical_inefficiency:.3g}); the error bar is itself uncertain")
    return st.mean, st.sem, st.statistical_inefficiency


# --------------------------------------------------------------------------------------------
# two compartments: the ratio of activity products (Donnan)
# --------------------------------------------------------------------------------------------
@dataclass
class ActivityRatio:
    """The ratio prod c (compartment a) / prod c (compartment b) of a neutral group that
    equal chemical potentials predict: exp(nu (ln gamma_b - ln gamma_a)) with ln gamma the
    group's mean (gamma_+- of the salt) in each compartment.

    Attributes:
        group: species names; compartments: (a, b) indices.
        widom: (WidomResult of a, of b) in their bulk windows, or None when the run has too
            few frames after equilibration (``reason`` says so); widom_ratio, widom_se: the
            prediction <w>_a / <w>_b and its SE (the two windows' SEs in quadrature; NaN
            without Widom).
        msa_ratio: MSA + BMCSL at the measured bulk compositions (Barker-Henderson
            diameters), or NaN without them; msa_ln_gamma: (a, b) group means.
        reason: why there is no Widom prediction ("" when there is one).
    """

    group: tuple[str, ...]
    compartments: tuple[int, int]
    widom: tuple[WidomResult, WidomResult] | None
    widom_ratio: float
    widom_se: float
    msa_ratio: float
    msa_ln_gamma: tuple[float, float]
    reason: str = ""

    @property
    def seconds(self) -> float:
        return sum(w.seconds for w in self.widom) if self.widom else 0.0


#: Fewest frames after equilibration for a Widom prediction in :func:`activity_ratio`.
MIN_WIDOM_FRAMES = 8


def activity_ratio(m, group=("K+", "Cl-"), compartments=(0, 1),
                   insertions: int = INSERTIONS_PER_FRAME, seed: int = 0,
                   max_frames: int | None = None) -> ActivityRatio:
    """At equilibrium a neutral group that can cross has one chemical potential everywhere,
    so prod_g c_g,a gamma_g,a = prod_g c_g,b gamma_g,b: the ratio of the concentration
    products is (gamma_+-,b / gamma_+-,a)^nu. Both gammas are measured here by Widom
    insertion in each compartment's bulk window (sim.observe.bulk_windows, the windows of
    the bulk_concentration observable) over the frames after equilibration; for a 1:1 salt
    the ratio is <w>_a / <w>_b. The MSA + BMCSL estimate at the measured bulk
    compositions (all species, Barker-Henderson diameters) is computed beside it.

    Args:
        m: the run's analysis.runs.Measurements; group: species names (neutral);
        compartments: (a, b); insertions, seed, max_frames: as for :func:`widom`.
    """
    from sim.observe import bulk_windows

    from analysis.activity import barker_henderson_diameter, primitive_model

    sc = m.scenario
    names = m.species_names
    idx = [names.index(g) for g in group]
    sigma = np.array([s.diameter for s in sc.species], dtype=np.float64)
    diam = barker_henderson_diameter(sigma, sc.wca_epsilon / sc.kT)
    valences = np.array([s.valence for s in sc.species], dtype=np.float64)
    ln_g = []
    for k in compartments:
        conc = np.array([m.bulk_mM[k, s].mean for s in range(len(names))], dtype=np.float64)
        if not np.all(np.isfinite(conc)):
            ln_g.append(math.nan)
            continue
        pm = primitive_model(np.maximum(conc, 0.0) * 1e-3 * units.MOLAR_TO_PER_NM3, diam,
                             valences, sc.temperature, sc.solvent_permittivity)
        ln_g.append(float(np.mean(pm.ln_gamma[idx])))
    nu = len(group)
    msa = math.exp(nu * (ln_g[1] - ln_g[0])) if all(map(math.isfinite, ln_g)) else math.nan

    frames = int(np.sum(np.asarray(m.run.frame_times) >= m.t_equil_ps - 1e-9))
    if frames < MIN_WIDOM_FRAMES:
        return ActivityRatio(tuple(group), tuple(compartments), None, math.nan, math.nan,
                             msa, (ln_g[0], ln_g[1]),
                             f"only {frames} frames after equilibration (at least "
                             f"{MIN_WIDOM_FRAMES} needed for Widom insertion)")
    windows = bulk_windows(sc)
    res = tuple(widom(m.run, group=group, window=tuple(windows[k]), insertions=insertions,
                      seed=seed + 7919 * k, t_from_ps=m.t_equil_ps, max_frames=max_frames)
                for k in compartments)
    wa, wb = res
    ratio = wa.mean_weight / wb.mean_weight
    rel = math.hypot(wa.mean_weight_sem / wa.mean_weight, wb.mean_weight_sem / wb.mean_weight)
    return ActivityRatio(tuple(group), tuple(compartments), res, ratio, ratio * rel, msa,
                         (ln_g[0], ln_g[1]))
