"""What each validation scenario is checked against.

Every function takes the :class:`analysis.runs.Measurements` of a finished run and returns
a list of undecided :class:`~analysis.validation.verdict.CaseResult` (the runner decides).
Potentials are V_in - V_out in mV (compartment 0 is the inside), concentrations mM.

Resolution: a potential whose combined SE exceeds 10 mV cannot decide a case
(INCONCLUSIVE), nor can fewer than ``MIN_CROSSINGS`` crossings after equilibration: the
membrane potential of a small patch moves in steps of e / C (tens of mV here), so its mean
and the SE of that mean mean little until the capacitor's charge has changed many times.
"""

from __future__ import annotations

import math

import numpy as np

from sim.units import PS_PER_NS, thermal_voltage_mV

from analysis.capacitance import capacitance_theory, measured_capacitance
from analysis.comparison import (compare, crossing_count_se, ghk_from_crossings,
                                 permeability_from_crossings)
from analysis.runs import INSIDE, OUTSIDE, Measurements
from analysis.selectivity import (crossing_dispersion, pore_occupancy, resistance_model,
                                  shared_channel)
from analysis.theory import donnan_equilibrium, ghk_voltage_mV
from analysis.validation.verdict import CaseResult
from analysis.widom import activity_ratio

__all__ = ["CHECKS", "RESOLUTION_MV", "MIN_CROSSINGS"]

RESOLUTION_MV = 10.0
MIN_CROSSINGS = 30
MIN_N_EFF = 20  # independent samples of a time series behind a mean's SE
DONNAN_INSERTIONS = 500  # Widom K+ Cl- pairs per frame and bulk window (check_donnan)


def _crossings_after(m: Measurements, species: int | None = None) -> tuple[int, int]:
    """(out, in) crossings after equilibration (species None: all species)."""
    cr = m.run.crossings
    sel = np.asarray(cr["time"]) >= m.t_equil_ps
    if species is not None:
        sel &= np.asarray(cr["species"]) == species
    n_out = int(np.sum(sel & (cr["from"] == INSIDE) & (cr["to"] == OUTSIDE)))
    n_in = int(np.sum(sel & (cr["from"] == OUTSIDE) & (cr["to"] == INSIDE)))
    return n_out, n_in


def _vm_result(m: Measurements, case: str, question: str, reference: float, ref_se: float,
               source: str, quantity: str = "V_m", **kw) -> CaseResult:
    n = sum(_crossings_after(m))
    r = CaseResult(case=case, question=question, quantity=quantity, unit="mV",
                   value=m.vm.mean if m.vm else None, se=m.vm.sem if m.vm else None,
                   reference=reference, reference_se=ref_se, source=source,
                   resolution=RESOLUTION_MV, **kw)
    if "min_count" not in kw:
        r.count, r.min_count = n, MIN_CROSSINGS
    st = m.vm.stats if m.vm else None
    if st is not None:
        r.n_eff, r.min_n_eff = float(st.n_effective), MIN_N_EFF
    r.notes.append(f"{n} crossings after equilibration at {m.t_equil_ps / PS_PER_NS:.2g} ns "
                   f"({m.equilibration_source})")
    if m.vm_series is not None:
        r.series = (np.asarray(m.vm_series.time) / PS_PER_NS, np.asarray(m.vm_series.value),
                    m.t_equil_ps / PS_PER_NS)
    return r


def _nernst(m: Measurements, case: str, species: str, question: str) -> list[CaseResult]:
    row = next(r for r in compare(m).rows if r.species == species)
    if row.measured is None:
        return [_vm_result(m, case, question, math.nan, 0.0, "no measured concentration")]
    r = _vm_result(m, case, question, row.measured.mean, row.measured.sem,
                   f"Nernst (kT/{row.valence}e) ln(c_out/c_in), measured bulk {species} "
                   f"{row.c_in_mM.mean:.0f} / {row.c_out_mM.mean:.0f} mM "
                   f"(ideal; equal ionic strengths)")
    r.notes.append(f"Nernst from the initial concentrations {row.initial_mV:+.1f} mV, "
                   f"activity-corrected {row.activity_mV:+.1f} mV")
    return [r]


def check_potassium_balanced(m):
    return _nernst(m, "potassium_balanced", "K+",
                   "Is V_m the Nernst potential of K+ (10:1, equal ionic strength)?")


def check_chloride(m):
    return _nernst(m, "chloride", "Cl-", "Does the sign flip for an anion (Cl-, 10:1)?")


def check_calcium(m):
    return _nernst(m, "calcium", "Ca2+", "Is a divalent ion's Nernst potential halved?")


def check_no_channels(m):
    n = sum(m.crossings_out.values()) + sum(m.crossings_in.values())
    r = _vm_result(m, "no_channels", "No channels: is V_m zero despite a 10:1 gradient?",
                   0.0, 0.0, "no charge crosses: V_m = 0 (an uncharged capacitor)",
                   count=None, min_count=None)
    r.notes.append(f"{n} crossings (must be 0)")
    if n:
        r.abs_tol = 0.0  # any crossing through a membrane without channels fails
    return [r]


def check_symmetric(m):
    out = [_vm_result(m, "symmetric", "Equal concentrations: is V_m zero?", 0.0, 0.0,
                      "Nernst with c_out = c_in: ln 1 = 0")]
    cap, theory = measured_capacitance(m), capacitance_theory(m.scenario)
    if cap is not None and theory is not None:
        r = CaseResult(case="symmetric_capacitance",
                       question="Does the voltage noise give the capacitance, "
                                "Var(V_m) = kT / C?",
                       quantity="C from Var(V_m)", unit="uF/cm^2", value=cap.c_uF_per_cm2,
                       se=cap.c_sem_uF_per_cm2, reference=theory.series_mean,
                       source="eps0 eps_m / d in series with the two Debye double layers "
                              "(analysis.capacitance)", scenario="symmetric.yaml",
                       count=cap.n_crossings, min_count=MIN_CROSSINGS,
                       resolution=0.35 * theory.series_mean)
        r.notes.append(f"bare membrane eps0 eps_m / d = {theory.bare_mean:.3f} uF/cm^2")
        out.append(r)
    return out


def _donnan_potential(parts, temperature: float) -> tuple[float, float, str]:
    """(reference mV, its SE, source) for V_m at a Donnan equilibrium of K+ and Cl-, from the
    measured bulk concentrations parts = [K+ in, K+ out, Cl- out, Cl- in] (SeriesMeans, mM).

    At equilibrium V_m = E_K = E_Cl with activities. Their ideal values from the measured
    concentrations differ by the activity coefficients, E_K - E_Cl = (kT/e) ln(r_K / r_Cl)
    read without them; a mean activity (Widom, a pair) fixes only the product of the two
    ions' coefficients, not how it splits between them. So the reference is the mean
    (E_K + E_Cl) / 2 = (kT/2e) ln(cK_out cCl_in / (cK_in cCl_out)), exact where both ions'
    coefficients change alike between the sides, and its stated model uncertainty is half
    their measured difference |E_K - E_Cl| / 2 (the most an unequal split can move it),
    combined with the SE of the four concentrations (taken as independent)."""
    k_in, k_out, cl_out, cl_in = parts
    vt = thermal_voltage_mV(temperature)
    e_k = vt * math.log(k_out.mean / k_in.mean)
    e_cl = -vt * math.log(cl_out.mean / cl_in.mean)
    se = 0.5 * vt * math.sqrt(sum((p.sem / p.mean) ** 2 for p in parts))
    split = 0.5 * abs(e_k - e_cl)
    source = (f"(E_K + E_Cl) / 2 from the measured bulks, E_K {e_k:+.1f} mV, E_Cl "
              f"{e_cl:+.1f} mV (ideal), +- {split:.1f} mV for how the activity coefficients "
              f"split between K+ and Cl- (|E_K - E_Cl| / 2)")
    return 0.5 * (e_k + e_cl), math.hypot(se, split), source


def check_donnan(m):
    sc = m.scenario
    names = m.species_names
    k, cl = names.index("K+"), names.index("Cl-")
    vol = [float(np.sum(m.initial_counts[i])) / max(1e-12, float(np.sum(m.initial_mM[i])))
           for i in (INSIDE, OUTSIDE)]  # ions per mM: proportional to volume
    c_in = {"K+": m.initial_mM[INSIDE, k], "Cl-": m.initial_mM[INSIDE, cl]}
    c_out = {"K+": m.initial_mM[OUTSIDE, k], "Cl-": m.initial_mM[OUTSIDE, cl]}
    imperm = m.initial_mM[INSIDE, k] - m.initial_mM[INSIDE, cl]  # monovalent A- inside
    theory = donnan_equilibrium({"K+": 1, "Cl-": -1}, c_out, imperm, -1, sc.temperature,
                                c_in_mM=c_in, volume_ratio_out_in=vol[1] / vol[0])
    b = m.bulk_mM
    parts = [b[INSIDE, k], b[OUTSIDE, k], b[OUTSIDE, cl], b[INSIDE, cl]]
    measured = all(p.mean > 0 for p in parts)
    if measured:
        r1 = _vm_result(m, "donnan", "Is V_m the Donnan potential?",
                        *_donnan_potential(parts, sc.temperature))
    else:
        r1 = _vm_result(m, "donnan", "Is V_m the Donnan potential?", theory.potential_mV,
                        0.0, f"Donnan equilibrium for these volumes (analysis.theory."
                             f"donnan_equilibrium): r = {theory.donnan_ratio:.3f}")
    r1.notes.append(f"information: ideal Donnan from the initial concentrations and these "
                    f"volumes {theory.potential_mV:+.1f} mV (r = {theory.donnan_ratio:.3f})")
    # Equal chemical potentials of K+ Cl- on both sides: cK_in cCl_in gamma_in^2 =
    # cK_out cCl_out gamma_out^2, so r_K / r_Cl = (gamma+-,out / gamma+-,in)^2, measured by
    # Widom insertion in each bulk window of this run (1 only for ideal ions).
    if measured:
        ratio = parts[0].mean * parts[3].mean / (parts[1].mean * parts[2].mean)
        rel = math.sqrt(sum((p.sem / p.mean) ** 2 for p in parts))
        pred = activity_ratio(m, ("K+", "Cl-"), (INSIDE, OUTSIDE),
                              insertions=DONNAN_INSERTIONS)
        if pred.widom is not None:
            reference, reference_se = pred.widom_ratio, pred.widom_se
            source = ("(gamma+-,out / gamma+-,in)^2 of K+ Cl-, both from Widom insertion of "
                      "K+ Cl- pairs in each compartment's bulk window of this run "
                      "(analysis.widom.activity_ratio)")
        else:  # too few frames for Widom: the MSA, as the stated fallback
            reference, reference_se = pred.msa_ratio, 0.0
            source = (f"(gamma+-,out / gamma+-,in)^2 of K+ Cl- from the MSA + BMCSL at the "
                      f"measured bulk compositions (no Widom: {pred.reason})")
        r2 = CaseResult(case="donnan_ratio",
                        question="Do K+ and Cl- reach the Donnan ratio their activities "
                                 "predict?",
                        quantity="r_K / r_Cl = (cK_in cCl_in) / (cK_out cCl_out)", unit="1",
                        value=ratio, se=ratio * rel, reference=reference,
                        reference_se=reference_se, source=source, scenario="donnan.yaml",
                        resolution=0.25)
        r2.notes.append(f"r_K = {parts[0].mean / parts[1].mean:.3f}, "
                        f"r_Cl = {parts[2].mean / parts[3].mean:.3f} (theory "
                        f"{theory.donnan_ratio:.3f})")
        if pred.widom is not None:
            w_in, w_out = pred.widom
            r2.notes.append(f"Widom ln gamma+- inside {w_in.ln_gamma:+.4f} +- "
                            f"{w_in.ln_gamma_sem:.4f}, outside {w_out.ln_gamma:+.4f} +- "
                            f"{w_out.ln_gamma_sem:.4f} ({w_in.frames} frames x "
                            f"{w_in.insertions} pairs per window, {pred.seconds:.1f} s)")
        r2.notes.append(f"information: MSA + BMCSL at the measured bulk compositions "
                        f"predicts {pred.msa_ratio:.3f}; ideal Donnan predicts 1 "
                        f"({(ratio - 1.0) / (ratio * rel):+.1f} SE)")
        return [r1, r2]
    return [r1]


def _ghk_se(m: Measurements, est) -> float:
    """SE of the GHK voltage from Poisson errors of the crossing counts (mV)."""
    names = list(est.relative)
    c_in = {n: m.bulk_mM[INSIDE, m.species_names.index(n)].mean for n in names}
    c_out = {n: m.bulk_mM[OUTSIDE, m.species_names.index(n)].mean for n in names}
    val = {n: m.valences[m.species_names.index(n)] for n in names}
    return crossing_count_se(lambda rel: ghk_voltage_mV(rel, c_in, c_out, val, m.temperature),
                             est.relative, {n: sum(est.crossings[n]) for n in names})


def check_resting_potential(m):
    est = ghk_from_crossings(m)
    q = "Three permeant ions: is V_m the GHK voltage for the measured permeabilities?"
    if est is None or est.value_mV is None:
        r = _vm_result(m, "resting_potential", q, math.nan, 0.0,
                       f"GHK not computed: {est.reason if est else 'no estimate'}")
        return [r]
    names = list(est.relative)
    rel = ", ".join(f"{n} {est.relative[n] / est.relative.get('K+', 1):.3g}" for n in names)
    r = _vm_result(m, "resting_potential", q, est.value_mV, _ghk_se(m, est),
                   f"GHK voltage (Goldman 1943, Hodgkin-Katz 1949), P from unidirectional "
                   f"crossings (analysis.nernst.ghk_from_crossings): P/P_K = {rel}")
    least = min(sum(c) for c in est.crossings.values())
    r.count, r.min_count = least, 10  # each permeability needs some crossings
    r.notes.append("crossings (out, in): " + ", ".join(f"{n} {est.crossings[n]}"
                                                        for n in names))
    textbook = {"K+": 1.0, "Na+": 0.04, "Cl-": 0.45}
    if set(names) == set(textbook):
        c_in = {n: m.bulk_mM[INSIDE, m.species_names.index(n)].mean for n in names}
        c_out = {n: m.bulk_mM[OUTSIDE, m.species_names.index(n)].mean for n in names}
        v = ghk_voltage_mV(textbook, c_in, c_out, {"K+": 1, "Na+": 1, "Cl-": -1},
                           m.temperature)
        r.notes.append(f"GHK with the textbook 1 : 0.04 : 0.45 at the measured "
                       f"concentrations: {v:+.1f} mV")
    return [r]


MODEL_UNCERTAINTY = 0.10  # relative, of the access-resistance model (see the scenario header)


def check_selectivity(m):
    """P_Na / P_K from the unidirectional crossings against the pore-plus-access resistance
    model with the pores' measured occupancy (analysis.selectivity)."""
    names = m.species_names
    k, na = names.index("K+"), names.index("Na+")
    t_ns = (m.duration_ps - m.t_equil_ps) / PS_PER_NS
    vm = m.vm.mean if m.vm else 0.0
    p, counts, fano = {}, {}, {}
    cr = m.run.crossings
    for s in (k, na):
        n_out, n_in = _crossings_after(m, s)
        counts[names[s]] = n_out + n_in
        fano[names[s]] = crossing_dispersion(np.asarray(cr["time"])[cr["species"] == s],
                                             m.t_equil_ps, m.duration_ps)
        p[s] = permeability_from_crossings(n_out, n_in, m.bulk_mM[INSIDE, s].mean,
                                           m.bulk_mM[OUTSIDE, s].mean, m.valences[s], vm,
                                           m.temperature, m.membrane_area_nm2, t_ns)
    bare = resistance_model(m.scenario, "Na+")
    occ = pore_occupancy(m, "K+")
    if occ.reason:
        model, occ_se = bare, 0.0
    else:
        model = resistance_model(m.scenario, "Na+", inverse_occupancy=occ.inverse_mean)
        shifted = resistance_model(m.scenario, "Na+",
                                   inverse_occupancy=occ.inverse_mean + occ.inverse_se)
        occ_se = abs(shifted.ratio - model.ratio)
    ok = p[k] and p[na] is not None and counts["K+"] > 0
    ratio = p[na] / p[k] if ok else math.nan
    se = ratio * math.sqrt(fano["Na+"] / max(counts["Na+"], 1)
                           + fano["K+"] / max(counts["K+"], 1)) if ok else math.nan
    barrier = dict(shared_channel(m.scenario, "Na+", "K+").barriers)
    r = CaseResult(case="selectivity", scenario="selectivity.yaml",
                   question=f"Does a {barrier.get('Na+', 0) / m.scenario.kT:g} kT barrier "
                            f"cut P_Na / P_K as a pore-plus-access resistance model predicts?",
                   quantity="P_Na / P_K from unidirectional crossings", unit="1",
                   value=ratio, se=se, reference=model.ratio,
                   reference_se=math.hypot(MODEL_UNCERTAINTY * model.ratio, occ_se),
                   reference_systematic=True,
                   source="R_K / R_Na, R = L e^(dG/kT) <1/g> / (pi rho^2 D) + 1 / (2 rho D) "
                          "(pore with its measured K+ occupancy g + Hall access resistance), "
                          "+-10% model uncertainty (analysis.selectivity)",
                   count=min(counts.values()), min_count=MIN_CROSSINGS,
                   resolution=0.15)
    r.notes.append(f"crossings K+ {counts['K+']}, Na+ {counts['Na+']}; SE from their "
                   f"dispersion over time blocks (variance/mean K+ {fano['K+']:.2f}, Na+ "
                   f"{fano['Na+']:.2f}; 1 = Poisson)")
    if occ.reason:
        r.notes.append(f"pore occupancy not measured ({occ.reason}): the ideal-pore model")
    else:
        r.notes.append(f"K+ occupancy of the pores: g = {occ.middle:.3f} +- "
                       f"{occ.middle_se:.3f} of the bulk in their middle third, <1/g> = "
                       f"{occ.inverse_mean:.2f} +- {occ.inverse_se:.2f}; pore / access "
                       f"resistance {model.pore_over_access:.1f}")
    r.notes.append(f"ideal pore (g = 1): {bare.ratio:.3f}; pore-limited (D_Na/D_K) "
                   f"(rho_Na/rho_K)^2 (L_K/L_Na) exp(-dG/kT) = {bare.pore_limited:.3f}")
    return [r]


def check_surface_charge(m, osmotic_coefficient=None):
    """V_m against K+'s Nernst potential, each compartment's double layer against
    Gouy-Chapman, and the contact-value theorem in each compartment (analysis.double_layer).

    Contact value: with one sigma on both faces (surface_charge.yaml) the face-difference
    form is trivially 0 = 0, so the row is the absolute form, P_zz/kT read at the walls
    (sum of the contact densities less eps0 eps_w <E_face^2> / (2kT)) against phi n_bulk;
    osmotic_coefficient: phi as analysis.double_layer.contact_value_checks takes it (None:
    ideal, phi = 1, with the Debye-Hueckel limiting law's 1 - phi = kappa^3 / (24 pi n) as
    a stated model uncertainty). Faces that differ get the exact face-difference form."""
    from analysis.double_layer import (contact_value_checks, describe, describe_check,
                                       face_double_layers)
    from sim.observe import debye_length_of_density
    from sim.units import PER_NM3_TO_MM
    out = _nernst(m, "surface_charge", "K+",
                  "Charged faces: is V_m between the bulks still the K+ Nernst potential?")
    for layer in face_double_layers(m):
        st = layer.measured
        r = CaseResult(case=f"gouy_chapman_{layer.name}",
                       question=f"Does the double layer at the {layer.name} faces follow "
                                f"Gouy-Chapman?",
                       quantity="psi(face) - psi(bulk)", unit="mV", value=st.mean,
                       se=st.sem, reference=layer.reference_mV,
                       reference_se=layer.reference_se_mV, reference_systematic=True,
                       source=f"Gouy-Chapman psi_0 (2kT/e) asinh(sigma/sqrt(8 c0 eps kT)) at "
                              f"the measured c0 = {layer.c0_mM:.0f} mM, + Stern gap of one "
                              f"ion radius, - tail in the bulk window",
                       scenario="surface_charge.yaml", resolution=RESOLUTION_MV,
                       n_eff=float(st.n_effective), min_n_eff=MIN_N_EFF)
        r.notes.append(describe(layer))
        out.append(r)
    to_mM = PER_NM3_TO_MM
    sc = m.scenario
    for ch in contact_value_checks(m, osmotic_coefficient):
        question = (f"Contact-value theorem in {ch.name}: do the contact densities at its "
                    f"walls give the bulk pressure plus eps0 eps_w E^2 / 2?")
        if ch.equal_faces:
            p, res = ch.pressure, ch.pressure_residual
            if p is None or res is None:
                continue
            ref, ref_se = ch.pressure_reference, ch.pressure_reference_se
            systematic = ch.phi_source == "ideal (phi = 1)"
            if systematic:  # the non-ideality the ideal reference leaves out, as DHLL has it
                bulk = [st.mean if st else 0.0 for st in ch.lower.bulk]
                n_z2 = sum(n * sp.valence ** 2 for n, sp in zip(bulk, sc.species))
                kappa = 1.0 / debye_length_of_density(n_z2, sc.kT, sc.solvent_permittivity)
                ref_se = kappa ** 3 / (24 * math.pi)  # (1 - phi_DHLL) n_bulk, nm^-3
            r = CaseResult(case=f"contact_value_{ch.name}", question=question,
                           quantity="P_zz/kT at the walls: sum n_c - eps0 eps_w <E^2>/(2kT)",
                           unit="mM", value=p.mean * to_mM, se=res.sem * to_mM,
                           reference=ref * to_mM, reference_se=ref_se * to_mM,
                           reference_systematic=systematic,
                           source=f"phi n_bulk, phi {ch.phi_source}"
                                  + (f" = {ch.phi:.3f}" if not systematic else
                                     "; +- the Debye-Hueckel limiting law's 1 - phi")
                                  + " (Henderson and Blum, J. Chem. Phys. 69 (1978) 5441)",
                           scenario="surface_charge.yaml",
                           resolution=max(0.1 * ref, 2.0 * ref_se) * to_mM,
                           n_eff=float(res.n_effective), min_n_eff=MIN_N_EFF)
            r.notes.append("SE of the value: the frame-by-frame walls - phi n_bulk series "
                           "(walls and bulk are correlated in a compartment)")
        else:
            d, f, res = ch.difference, ch.field_difference, ch.residual
            if d is None or f is None or res is None:
                continue
            r = CaseResult(case=f"contact_value_{ch.name}", question=question,
                           quantity="sum n_c(lower face) - sum n_c(upper face)", unit="mM",
                           value=d.mean * to_mM, se=res.sem * to_mM,
                           reference=f.mean * to_mM, reference_se=0.0,
                           source="eps0 eps_w (<E_lower^2> - <E_upper^2>) / (2kT), the exact "
                                  "face-difference form (Henderson and Blum 1978)",
                           scenario="surface_charge.yaml",
                           resolution=max(0.2 * abs(f.mean), 0.006) * to_mM,
                           n_eff=float(res.n_effective), min_n_eff=MIN_N_EFF)
            r.notes.append("SE: the frame-by-frame residual (value - reference)")
        r.notes.append(describe_check(ch))
        out.append(r)
    return out


CHECKS = {
    "potassium_balanced": check_potassium_balanced,
    "no_channels": check_no_channels,
    "symmetric": check_symmetric,
    "chloride": check_chloride,
    "calcium": check_calcium,
    "donnan": check_donnan,
    "resting_potential": check_resting_potential,
    "selectivity": check_selectivity,
    "surface_charge": check_surface_charge,
}

# the scenarios with pumps and gated channels (analysis.validation.agent_checks)
from analysis.validation.agent_checks import AGENT_CHECKS  # noqa: E402 (after CHECKS)

CHECKS.update(AGENT_CHECKS)
