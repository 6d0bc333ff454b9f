"""The double layers at charged membrane faces, measured against Gouy-Chapman.

For each compartment, the diffuse-layer potential is the laterally averaged potential at the
faces that bound it, less the mean potential of its bulk window:

    psi_face(t) = (1/2) [phi_bar(z_lower face) + phi_bar(z_upper face)] - <phi_bar>_window,

evaluated on every density frame (the charge of each z-bin as a sheet at the bin centre,
plus the membranes' fixed surface charge; the same 1-D Poisson problem with eps(z) the
engine solves, :func:`sim.forces.membrane_field.potential_profile`). Its mean and standard
error come from the frame series (:func:`analysis.statistics.analyze_series`).

The reference is :func:`analysis.theory.gouy_chapman` for the face's sigma and the
compartment's measured bulk concentration of cations (all monovalent), with two
corrections that the bare formula leaves out, both in mV:

- the Stern gap: no ion centre comes closer to the face than its radius a, so the charge-free
  water in front of the sheet adds sigma a / (eps0 eps_w). The ions' radii differ, so the
  reference takes the gap of the mean radius of the cations and its uncertainty is half the
  spread of the two radii (the smallest cation and the largest ion present);
- the finite compartment: the bulk window is not infinitely far from the faces, so the mean
  Gouy-Chapman potential over the window (from both faces, superposed) is subtracted.

Units: mV, nm, e/nm^2, mM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.electrostatics import membrane_slabs, surface_sheets
from sim.forces.membrane_field import potential_profile, window_mean_potentials, with_sheets
from sim.observe import bulk_windows
from sim.units import EPS0, MV_PER_KJ_MOL_E

from analysis.runs import Measurements
from analysis.statistics import TimeSeriesStats, analyze_series
from analysis.theory import GouyChapman, gouy_chapman

__all__ = ["FaceDoubleLayer", "face_double_layers", "describe"]


@dataclass
class FaceDoubleLayer:
    """One compartment's charged faces: measured psi_face (mV, mean +- SE) against
    Gouy-Chapman. sigma e/nm^2; c0_mM the measured bulk cation concentration; the
    reference and its uncertainty (Stern-gap ambiguity) in mV."""

    compartment: int
    name: str
    sigma_e_per_nm2: float
    c0_mM: float
    measured: TimeSeriesStats
    theory: GouyChapman
    reference_mV: float
    reference_se_mV: float
    stern_gap_mV: float
    window_tail_mV: float


def _stern_gap_mV(sigma, radius_nm, eps_w):
    return sigma * radius_nm / (EPS0 * eps_w) * MV_PER_KJ_MOL_E


def face_double_layers(m: Measurements) -> list[FaceDoubleLayer]:
    """The double layer of every compartment bounded by charged faces (see module doc)."""
    sc = m.scenario
    if sc.electrostatics.method == "off" or not sc.membranes:
        return []
    if any(abs(s.valence) != 1 for s in sc.species):
        raise ValueError("the Gouy-Chapman comparison here is for monovalent ions only")
    dens = m.run.observable("density")
    values = np.asarray(dens.value, dtype=float)  # (F, S, nbins) nm^-3
    nbins = values.shape[2]
    width = sc.box[2] / nbins
    z_bins = (np.arange(nbins) + 0.5) * width
    valences = np.array([s.valence for s in sc.species], dtype=float)
    sheets = surface_sheets(sc)
    box, slabs, eps_w = np.array(sc.box), membrane_slabs(sc), sc.solvent_permittivity
    windows = bulk_windows(sc)
    comp_bounds = sc.compartment_bounds()
    results = []
    for k, (lo, hi) in enumerate(comp_bounds):
        faces = sc.facing_membranes(k)
        sigmas = {sc.membranes[j].surface_charge for j in faces}
        if sigmas == {0.0}:
            continue
        if len(sigmas) != 1:
            raise ValueError(f"compartment {k}: its two faces carry different charges "
                             f"{sorted(sigmas)}; the comparison needs one sigma")
        sigma = sigmas.pop()
        series = np.empty(len(values))
        for f, frame in enumerate(values):
            q = valences @ frame * sc.area * width
            q = q - (q.sum() + sheets[1].sum()) / q.size
            z, qq = with_sheets(z_bins, q, sheets)
            phi_faces = potential_profile(z, qq, box, slabs, eps_w, np.array([lo, hi]))
            window = window_mean_potentials(z, qq, box, slabs, eps_w, [windows[k]])[0]
            series[f] = (phi_faces.mean() - window) * MV_PER_KJ_MOL_E
        stats = analyze_series(series, np.asarray(dens.time), equilibration="auto")
        cations = [s for s, sp in enumerate(sc.species) if sp.valence > 0]
        c0 = float(sum(m.bulk_mM[k, s].mean for s in cations))
        theory = gouy_chapman(sigma, c0, sc.temperature, eps_w)
        weights = [m.bulk_mM[k, s].mean for s in cations]
        a_mean = float(np.average([sc.species[s].radius for s in cations], weights=weights))
        a_lo = min(sc.species[s].radius for s in cations)
        a_hi = max(sp.radius for sp in sc.species)
        gap = _stern_gap_mV(sigma, a_mean, eps_w)
        gap_se = 0.5 * abs(_stern_gap_mV(sigma, a_hi - a_lo, eps_w))
        w_lo, w_hi = windows[k]
        x = np.linspace(w_lo, w_hi, 201)
        tail = float(np.mean(theory.potential_mV(np.clip(x - lo - a_mean, 0, None))
                             + theory.potential_mV(np.clip(hi - a_mean - x, 0, None))))
        reference = theory.surface_potential_mV + gap - tail
        results.append(FaceDoubleLayer(k, sc.compartments[k].name, sigma, c0, stats, theory,
                                       reference, gap_se, gap, tail))
    return results


def describe(layer: FaceDoubleLayer) -> str:
    """One line: measured against Gouy-Chapman, with the corrections."""
    st = layer.measured
    return (f"{layer.name}: psi_face {st.mean:+.2f} +/- {st.sem:.2f} mV against Gouy-Chapman "
            f"{layer.reference_mV:+.2f} +/- {layer.reference_se_mV:.2f} mV (psi_0 "
            f"{layer.theory.surface_potential_mV:+.2f}, Stern gap {layer.stern_gap_mV:+.2f}, "
            f"window tail {layer.window_tail_mV:+.2f}; c0 {layer.c0_mM:.1f} mM, lambda_D "
            f"{layer.theory.debye_length_nm:.2f} nm, sigma {layer.sigma_e_per_nm2:+.3g} "
            f"e/nm^2)")


if __name__ == "__main__":  # pragma: no cover - a quick look at one run
    import sys

    from sim.io import RunData

    from analysis.runs import measure
    for layer in face_double_layers(measure(RunData(sys.argv[1]))):
        print(describe(layer), f"n_eff {layer.measured.n_effective:.1f}",
              f"from {layer.measured.t_equil} ps" if layer.measured.t_equil else "")
