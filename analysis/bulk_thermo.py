"""Bulk thermodynamics of a membrane-free run: energies per ion, the osmotic coefficient and
the mean activity coefficient, against the primitive model's theory.

What ``ionsim analyze RUN_DIR`` prints for a run without membranes (a periodic box of
electrolyte). From the run's own records:

- **Energies per ion** U_el / N and U_WCA / N (kJ/mol and kT): U_el the sum of the
  recorded ``energy_coulomb_real``, ``_reciprocal`` and ``_self`` observables (the whole
  Ewald energy, self term included), U_WCA ``energy_wca``; means over the equilibrated
  samples with SEs (analysis.statistics.analyze_series).
- **The osmotic coefficient** from the virial theorem (Allen and Tildesley, *Computer
  Simulation of Liquids*, 2nd ed. 2017, section 2.4), for the ions' (osmotic) pressure P of
  this implicit-solvent model,

      phi = P / (n kT) = 1 + (W_el + W_WCA) / (3 N kT),   W = sum_{i<j} r_ij . F_ij.

  For Coulomb's law W_el = U_el: the Ewald energy of a periodic system with tinfoil
  boundary conditions is homogeneous of degree -1 under a uniform scaling of all
  coordinates and of the box, so -3V dU/dV = U (Allen and Tildesley 2017, section 6.2;
  the trace of the Ewald pressure tensor, Nose and Klein, Mol. Phys. 50 (1983) 1055).
  W_WCA = sum 24 eps [2 (sigma/r)^12 - (sigma/r)^6] over the pairs within the WCA cut-off
  is not recorded by the engine; it is computed here from the stored frames (minimum image,
  a cell list: :func:`wca_virial`), so phi is a mean over frames (U_el taken at the frame
  steps, which are sample steps too).
- **gamma_+-** by Widom insertion of a neutral group (:mod:`analysis.widom`).

Theory beside them (:mod:`analysis.activity`), at the run's exact number densities N_s / V:

- the MSA for charged hard spheres of unequal diameters (Blum 1975) with BMCSL hard spheres;
- Debye-Hueckel on the same number-density scale, limiting law and with the closest
  approach a = mean cation-anion contact distance.

Hard-sphere diameters of the WCA ions: the Barker-Henderson diameter
d = sigma f(eps/kT) (f = 1.0156 at the default eps = 1 kT), sigma the species' diameter of
sim/data/species.yaml (the WCA sigma, Lorentz-mixed). It makes the hard spheres' second
virial coefficient that of the WCA repulsion to first order in its softness, so it is the
diameter for the BMCSL part. For the electrostatic part no diameter is exact: a cation and
an anion pulled together by l_B / r (2.3 kT at contact for K+ Cl-) press into the soft core
to about 0.97 sigma. That matters little: the MSA energy moves by 0.009 kT per ion between
d_BH and d = 0.9 sigma at 120 mM, and HNC of the WCA potential itself and of hard spheres
of d_BH agree to 0.0002 kT; the MSA's own approximation is the larger gap
(:data:`MODEL_TOLERANCE`).

Concentration scale: everything here is on the number-density (molar, McMillan-Mayer)
scale of the implicit-solvent model, not the molal scale of analysis.activity's Debye-
Hueckel functions for experiments.

Units: energies kJ/mol (and kT), lengths nm, concentrations mM, phi and gamma dimensionless.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from sim.errors import UserError
from sim.forces.cells import CellList
from sim.forces.insertion import wca_virial
from sim.forces.short_range import WCA_CUTOFF_FACTOR
from sim.io import RunData
from sim.units import PER_NM3_TO_MM, PS_PER_NS

from analysis.activity import (PrimitiveModel, barker_henderson_diameter,
                               debye_hueckel_primitive, mean_ln_gamma, primitive_model)
from analysis.runs import SeriesMean, open_run
from analysis.statistics import analyze_series
from analysis.tables import Table, fmt, fmt_pm, printout
from analysis.theory import bjerrum_length_nm
from analysis.widom import INSERTIONS_PER_FRAME, WidomResult, default_group, widom

__all__ = ["BulkThermo", "bulk_thermodynamics", "wca_virial", "frame_wca", "thermo_tables",
           "thermo_lines", "COULOMB_TERMS", "MODEL_TOLERANCE", "analyze_bulk"]

#: The recorded energy observables whose sum is the electrostatic energy U_el.
COULOMB_TERMS = ("coulomb_real", "coulomb_reciprocal", "coulomb_self")

#: How far the simulated model (WCA ions) may stand from the MSA + BMCSL of hard spheres,
#: beyond its statistics, for a 1:1 salt near 0.1 M: beta U_el / N, phi and ln gamma_+-.
#: Sized by a second theory of the very same model, the HNC integral equation on the WCA +
#: Coulomb potential (tests/hnc_oracle.py; within about 1 % of Monte Carlo for 1:1 salts).
#: At 120 mM K+ Cl- (310.15 K, l_B = 0.727 nm) the MSA gives beta U_el / N = -0.3114,
#: phi = 0.9204, ln gamma_+- = -0.2912; HNC gives -0.3233, 0.9196, -0.2954. HNC of hard
#: spheres of the Barker-Henderson diameters gives -0.3231: the gap is the MSA's own
#: (a linearised theory, it misses part of the cation-anion pairing at l_B / sigma = 2.3),
#: not WCA against hard spheres. The tolerances are about 1.7 times those gaps, leaving room
#: for the Brownian time step's bias and the finite box (tests/test_thermo.py holds the gaps
#: below 0.75 of them).
MODEL_TOLERANCE = {"energy_per_ion_kT": 0.02, "osmotic_coefficient": 0.005,
                   "ln_gamma_pm": 0.015}

#: Fewest frames after equilibration for the frame-based quantities (phi, Widom).
MIN_FRAMES = 8


# --------------------------------------------------------------------------------------------
# the WCA virial
# --------------------------------------------------------------------------------------------


def frame_wca(run: RunData, frames) -> tuple[np.ndarray, np.ndarray]:
    """(W_WCA, U_WCA) in kJ/mol at each selected frame index (positions from the file)."""
    sc = run.scenario
    box = np.array(sc.box, dtype=np.float64)
    diam = np.array([s.diameter for s in sc.species], dtype=np.float64)
    sigma = 0.5 * (diam[:, None] + diam[None, :])
    cut2 = (WCA_CUTOFF_FACTOR * sigma) ** 2
    frames = np.asarray(frames, dtype=np.int64)
    w = np.zeros(frames.size)
    u = np.zeros(frames.size)
    if sc.wca_epsilon == 0.0 or frames.size == 0:
        return w, u
    cells = CellList(box, float(np.sqrt(cut2.max())), len(run.species))
    species = np.ascontiguousarray(run.species, dtype=np.int64)
    positions = run.positions(slice(int(frames[0]), int(frames[-1]) + 1))
    for n, f in enumerate(frames):
        pos = np.mod(positions[f - frames[0]], box)
        pos[pos >= box] = 0.0
        cells.build(pos)
        w[n], u[n] = wca_virial(pos, species, box, sigma, cut2, float(sc.wca_epsilon),
                                cells.ncell, cells.cell_start, cells.order, cells.cell_of)
    return w, u


# --------------------------------------------------------------------------------------------
# the measurement
# --------------------------------------------------------------------------------------------
@dataclass
class BulkThermo:
    """The bulk thermodynamics of one membrane-free run (see the module docstring).

    Attributes:
        run: the run; n_ions; volume_nm3; kT kJ/mol; concentrations_mM: species -> N_s/V.
        t_equil_ps, equilibration_source: the first sample used and why.
        energy_el, energy_wca: SeriesMean of U / N, kJ/mol per ion.
        osmotic: SeriesMean of phi over the frames; virial_el, virial_wca: SeriesMean of
            W_el / (3 N kT) and W_WCA / (3 N kT) over the same frames.
        frames: frames used for phi.
        widom: the Widom result (None when not asked for or not possible, see notes).
        theory: MSA + BMCSL at the Barker-Henderson diameters; theory_sigma: the same at
            d = sigma; dh, dh_limiting: Debye-Hueckel with a and limiting law;
            closest_approach_nm: a; diameters_nm: the BH diameters per species.
        group: the species indices of the Widom group (and of ln gamma_+- in theory).
        notes: caveats.
    """

    run: RunData
    n_ions: int
    volume_nm3: float
    kT: float
    concentrations_mM: dict
    t_equil_ps: float
    equilibration_source: str
    energy_el: SeriesMean | None
    energy_wca: SeriesMean
    osmotic: SeriesMean | None
    virial_el: SeriesMean | None
    virial_wca: SeriesMean | None
    frames: int
    widom: WidomResult | None
    theory: PrimitiveModel | None
    theory_sigma: PrimitiveModel | None
    dh: object | None
    dh_limiting: object | None
    closest_approach_nm: float
    diameters_nm: np.ndarray
    group: tuple[int, ...] | None
    notes: list[str] = field(default_factory=list)

    def theory_ln_gamma_pm(self, model) -> float | None:
        if model is None or self.group is None:
            return None
        return mean_ln_gamma(model.ln_gamma, self.group)

    def to_json(self) -> dict:
        def sm(x, scale=1.0):
            return None if x is None else {"mean": _num(x.mean * scale),
                                           "sem": _num(x.sem * scale)}
        th = self.theory
        return {
            "n_ions": self.n_ions, "volume_nm3": self.volume_nm3,
            "concentrations_mM": dict(self.concentrations_mM),
            "equilibration_ps": self.t_equil_ps,
            "energy_el_per_ion_kJ_mol": sm(self.energy_el),
            "energy_el_per_ion_kT": sm(self.energy_el, 1 / self.kT),
            "energy_wca_per_ion_kJ_mol": sm(self.energy_wca),
            "energy_wca_per_ion_kT": sm(self.energy_wca, 1 / self.kT),
            "osmotic_coefficient": sm(self.osmotic),
            "widom": self.widom.to_json() if self.widom else None,
            "msa_bmcsl": None if th is None else {
                "energy_el_per_ion_kT": _num(th.energy_per_ion),
                "osmotic_coefficient": _num(th.osmotic_coefficient),
                "ln_gamma_pm": _num(self.theory_ln_gamma_pm(th)),
                "diameters_nm": self.diameters_nm.tolist()},
            "debye_hueckel": None if self.dh is None else {
                "closest_approach_nm": self.closest_approach_nm,
                "energy_el_per_ion_kT": _num(self.dh.energy_per_ion),
                "osmotic_coefficient": _num(1 + self.dh.osmotic_excess),
                "ln_gamma_pm": _num(self.theory_ln_gamma_pm(self.dh))},
            "notes": list(self.notes)}


def _num(x):
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _stats(values, notes, what) -> SeriesMean:
    x = np.asarray(values, dtype=float)
    if x.size < 4:
        notes.append(f"{what}: only {x.size} samples after equilibration, no error bar")
        return SeriesMean(float(np.mean(x)) if x.size else math.nan, math.nan, None)
    if np.ptp(x) == 0.0:
        return SeriesMean(float(x[0]), 0.0, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        st = analyze_series(x, equilibration=0)
    if any(issubclass(w.category, RuntimeWarning) for w in caught):
        notes.append(f"{what}: the series is short for its correlation time (g = "
                     f"{st.statistical_inefficiency:.3g}, {st.n_samples} samples); its error "
                     f"bar is itself uncertain")
    return SeriesMean(st.mean, st.sem, st)


def _equilibration(run: RunData, times, series, notes) -> tuple[int, str]:
    """(index of the first sample used, why): run.equilibration if set, else detected on
    the energy series (capped at half the run, as analysis.runs does for V_m)."""
    n = times.size
    given = run.scenario.run.equilibration
    if given is not None:
        t0 = int(np.searchsorted(times, given - 1e-9))
        return min(t0, max(0, n - 4)), f"run.equilibration = {given / PS_PER_NS:g} ns"
    if n < 8 or np.ptp(series) == 0.0:
        return 0, "no trend to detect"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = analyze_series(series, equilibration="auto").t_equil_index
    if t0 > n // 2:
        notes.append(f"equilibration detected at {times[t0] / PS_PER_NS:.3g} ns would leave "
                     f"{n - t0} of {n} samples; the second half is used (run longer, or set "
                     f"run.equilibration)")
        return n // 2, "detected on the energy, capped at half the run"
    return t0, "detected on the energy"


def _closest_approach(conc, diam, valences) -> float:
    """Mean cation-anion contact distance (nm), weighted by the product of concentrations."""
    num = den = 0.0
    for i, zi in enumerate(valences):
        for j, zj in enumerate(valences):
            if zi > 0 > zj:
                wgt = conc[i] * conc[j]
                num += wgt * 0.5 * (diam[i] + diam[j])
                den += wgt
    return num / den if den > 0 else 0.0


def bulk_thermodynamics(run: RunData, insertions: int | None = INSERTIONS_PER_FRAME,
                        seed: int = 0, max_frames: int | None = None) -> BulkThermo:
    """Measure a membrane-free run and compute the theory beside it.

    Args:
        run: an open run (analysis.runs.open_run) without membranes.
        insertions: Widom insertions per frame (None or 0: no Widom).
        seed: seed of the Widom trial positions.
        max_frames: use at most this many frames (evenly spaced) for phi and Widom.

    Raises:
        UserError: a run with membranes, or one without energies.
    """
    sc = run.scenario
    if sc.membranes:
        raise UserError(f"{run.dir}: bulk thermodynamics needs a run without membranes")
    names = run.species_names
    notes: list[str] = []
    n_ions = int(run.species.size)
    volume = float(np.prod(sc.box))
    kT = sc.kT
    counts = np.bincount(run.species, minlength=len(names))
    conc = {names[s]: counts[s] / volume * PER_NM3_TO_MM for s in range(len(names))
            if counts[s] > 0}
    coulomb = sc.electrostatics.method != "off"
    if "energy_wca" not in run.observable_names and sc.wca_epsilon > 0:
        raise UserError(f"{run.dir}: the run recorded no energies (no 'energy_wca')")
    wca_series = run.observable("energy_wca") if "energy_wca" in run.observable_names \
        else None
    ref = run.observable("counts")
    times, steps = np.asarray(ref.time, dtype=float), np.asarray(ref.step)
    u_wca = np.asarray(wca_series.value, dtype=float) if wca_series is not None \
        else np.zeros(times.size)
    u_el = None
    if coulomb:
        missing = [t for t in COULOMB_TERMS if f"energy_{t}" not in run.observable_names]
        if missing:
            raise UserError(f"{run.dir}: the run recorded no {', '.join(missing)} energy")
        u_el = sum(np.asarray(run.observable(f"energy_{t}").value, dtype=float)
                   for t in COULOMB_TERMS)
    t0, source = _equilibration(run, times, u_el if u_el is not None else u_wca, notes)
    t_equil = float(times[t0]) if times.size else 0.0
    e_el = _stats(u_el[t0:] / n_ions, notes, "U_el") if u_el is not None else None
    e_wca = _stats(u_wca[t0:] / n_ions, notes, "U_WCA")

    frames = np.nonzero(np.asarray(run.frame_times) >= t_equil - 1e-9)[0]
    if max_frames is not None and frames.size > max_frames:
        frames = frames[np.unique(np.linspace(0, frames.size - 1, max_frames).round()
                                  .astype(int))]
    osm = vir_el = vir_wca = None
    if frames.size < MIN_FRAMES:
        notes.append(f"only {frames.size} frames after equilibration (at least {MIN_FRAMES} "
                     f"needed): no osmotic coefficient or Widom insertion; write frames more "
                     f"often (run.frame_interval) or run longer")
    else:
        w, u_frames = frame_wca(run, frames)
        at = np.searchsorted(steps, np.asarray(run.frame_steps)[frames])
        at = np.minimum(at, steps.size - 1)
        if wca_series is not None and not np.allclose(u_frames, u_wca[at], rtol=1e-4,
                                                      atol=1e-3):
            notes.append("the WCA energy recomputed from the frames differs from the recorded "
                         "one (positions are stored in single precision)")
        el = u_el[at] if u_el is not None else np.zeros(frames.size)
        scale = 1.0 / (3.0 * n_ions * kT)
        vir_el = _stats(el * scale, [], "")
        vir_wca = _stats(w * scale, [], "")
        osm = _stats(1.0 + (el + w) * scale, notes, "phi")

    group = None
    try:
        group = default_group(sc, counts)
    except UserError as err:
        notes.append(f"Widom: {err}")
    result = None
    if insertions and group is not None and frames.size >= MIN_FRAMES:
        result = widom(run, group=group, insertions=int(insertions), seed=seed,
                       t_from_ps=t_equil, max_frames=max_frames)
        notes.extend(result.notes)

    valences = np.array([s.valence for s in sc.species], dtype=float)
    sigma = np.array([s.diameter for s in sc.species], dtype=float)
    diam = barker_henderson_diameter(sigma, sc.wca_epsilon / kT)
    rho = counts / volume
    theory = theory_sigma = dh = dh_lim = None
    a = _closest_approach(rho, diam, valences)
    if coulomb:
        eps_r = sc.solvent_permittivity
        theory = primitive_model(rho, diam, valences, sc.temperature, eps_r)
        theory_sigma = primitive_model(rho, sigma, valences, sc.temperature, eps_r)
        l_b = bjerrum_length_nm(sc.temperature, eps_r)
        dh = debye_hueckel_primitive(rho, valences, l_b, a)
        dh_lim = debye_hueckel_primitive(rho, valences, l_b, 0.0)
    else:
        theory = primitive_model(rho, diam, np.zeros_like(valences), sc.temperature, 1.0)
    return BulkThermo(run, n_ions, volume, kT, conc, t_equil, source, e_el, e_wca, osm,
                      vir_el, vir_wca, int(frames.size), result, theory, theory_sigma, dh,
                      dh_lim, a, diam, group, notes)


# --------------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------------
def _pm(x: SeriesMean | None, scale=1.0, digits=4):
    return "n/a" if x is None else fmt_pm(x.mean * scale, x.sem * scale, digits)


def thermo_tables(bt: BulkThermo) -> list[Table]:
    """The measurement and the theory as one table."""
    kT = bt.kT
    names = bt.run.species_names
    th, dh, lim = bt.theory, bt.dh, bt.dh_limiting
    t = Table(f"Bulk thermodynamics ({bt.n_ions} ions in {bt.volume_nm3:.4g} nm^3: "
              + ", ".join(f"{n} {c:.1f} mM" for n, c in bt.concentrations_mM.items()) + ")",
              ["quantity", "simulation (mean +/- SE)", "MSA + BMCSL",
               f"Debye-Hueckel (a = {bt.closest_approach_nm:.3f} nm)", "DH limiting law"])

    def theory_cells(f):
        return [fmt(f(m), 4) if m is not None else "n/a" for m in (th, dh, lim)]

    if bt.energy_el is not None:
        t.add("U_el per ion (kJ/mol)", _pm(bt.energy_el),
              *theory_cells(lambda m: m.energy_per_ion * kT))
        t.add("U_el per ion (kT)", _pm(bt.energy_el, 1 / kT),
              *theory_cells(lambda m: m.energy_per_ion))
    t.add("U_WCA per ion (kJ/mol)", _pm(bt.energy_wca), "(hard spheres)", "", "")
    t.add("U_WCA per ion (kT)", _pm(bt.energy_wca, 1 / kT), "", "", "")
    if bt.osmotic is not None:
        t.add("osmotic coefficient phi", _pm(bt.osmotic),
              fmt(th.osmotic_coefficient, 4) if th else "n/a",
              *[fmt(1 + m.osmotic_excess, 4) if m is not None else "n/a" for m in (dh, lim)])
        if bt.energy_el is not None:
            t.add("  of which W_el / 3NkT", _pm(bt.virial_el), "", "", "")
        t.add("  of which W_WCA / 3NkT", _pm(bt.virial_wca), "", "", "")
    if bt.group is not None:
        label = " ".join(names[s] for s in bt.group)
        w = bt.widom
        ln_cells = [fmt(bt.theory_ln_gamma_pm(m), 4) if m is not None else "n/a"
                    for m in (th, dh, lim)]
        t.add(f"ln gamma_+- (Widom, {label})",
              fmt_pm(w.ln_gamma, w.ln_gamma_sem, 4) if w else "n/a", *ln_cells)
        t.add("gamma_+-", fmt_pm(w.gamma, w.gamma_sem, 4) if w else "n/a",
              *[fmt(math.exp(bt.theory_ln_gamma_pm(m)), 4) if m is not None else "n/a"
                for m in (th, dh, lim)])
    t.notes.append(f"equilibration: samples before {bt.t_equil_ps / PS_PER_NS:.3g} ns dropped "
                   f"({bt.equilibration_source}); phi over {bt.frames} frames"
                   + (f", Widom {bt.widom.insertions} insertions per frame "
                      f"({bt.widom.excluded_fraction:.1%} overlapping), "
                      f"{bt.widom.seconds:.1f} s" if bt.widom else ""))
    t.notes.append("phi = 1 + (U_el + W_WCA) / (3 N kT): the Coulomb virial equals the Ewald "
                   "energy (tinfoil), W_WCA from the frames; its two parts are not the MSA's "
                   "phi_el and BMCSL's phi_HS - 1 (the WCA virial holds the contacts of the "
                   "cation-anion pairs that Coulomb pulls together), only their sum is "
                   "compared")
    t.notes.append("hard-sphere diameters: Barker-Henderson of the WCA sigma, "
                   + ", ".join(f"{names[s]} {bt.diameters_nm[s]:.3f} nm"
                               for s in range(len(names)) if names[s] in bt.concentrations_mM)
                   + (f"; MSA at d = sigma: U_el {bt.theory_sigma.energy_per_ion:.4f} kT, "
                      f"phi {bt.theory_sigma.osmotic_coefficient:.4f}" if bt.theory_sigma
                      else ""))
    t.notes.append("number-density (molar, McMillan-Mayer) scale throughout: the model's own "
                   "gamma, not an experiment's molal one")
    return [t]


def thermo_lines(bt: BulkThermo) -> list[str]:
    sc = bt.run.scenario
    return printout(f"ionsim analyze {bt.run.dir}: scenario {sc.name!r} (no membranes: a bulk "
                    f"electrolyte), T = {sc.temperature:g} K (kT = {bt.kT:.4f} kJ/mol)",
                    thermo_tables(bt), bt.notes)


def analyze_bulk(run_dir, **kw) -> BulkThermo:
    """Open a membrane-free run and measure it (UserError for anything a user can cause)."""
    return bulk_thermodynamics(open_run(run_dir), **kw)
