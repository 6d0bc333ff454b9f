"""The membrane capacitance of a run: measured from the voltage noise, and from theory.

Measured. At equilibrium the voltage across a capacitor fluctuates with Var(V) = k_B T / C
(equipartition; :func:`analysis.cell.capacitance_from_voltage_variance_uF_per_cm2`). The two
membranes of the periodic box are two capacitors in parallel between the same two
compartments, so C is the total capacitance and the area is the sum of the membrane areas.
The variance is the mean of the squared deviations (V_m - <V_m>)^2 over the equilibrated
samples, whose standard error comes from the same autocorrelation analysis as every other
mean here; the error of C follows, dC / C = dVar / Var.

Theory. Each membrane is a dielectric slab, C_m = eps0 eps_m / d per area
(:func:`analysis.cell.specific_capacitance_uF_per_cm2`), in series with the ionic double
layer on each face, because V_m is measured between the two bulk regions, not between the
membrane faces. Compartment k carries its excess charge Q_k on its two faces (sigma = Q_k /
(2A) each, the two membranes being symmetric). In linearised Poisson-Boltzmann theory
(Debye length lambda) a layer of solution of depth L between two faces charged sigma each has
phi(face) - phi(mid-plane) = sigma lambda tanh(L / (4 lambda)) / (eps0 eps_w): integrate
phi'' = phi / lambda^2 with the symmetric solution A cosh(z / lambda). The ion centres stay
one radius a from the face (the walls act on the ion's surface), a charge-free (Stern)
layer adding a / (eps0 eps_w). So per area of one face

    1 / C_dl = ( a + lambda tanh((L - 2a) / (4 lambda)) ) / (eps0 eps_w),

which tends to the Gouy-Chapman-Stern value (a + lambda) / (eps0 eps_w) for a deep
compartment and to the uniform-charge value (a + (L - 2a)/4) / (eps0 eps_w) for a shallow one
(Bard and Faulkner, *Electrochemical Methods*, 2nd ed., 2001, ch. 13.3, for the Gouy-Chapman-
Stern model). Each membrane is then 1/C = 1/C_m + 1/C_dl(in) + 1/C_dl(out); the membranes add.
Linearisation holds while the double-layer drop is small against k_B T / e, which it is: the
membrane takes almost all of V_m (a few per cent of 0.44 uF/cm^2 against tens of uF/cm^2).
lambda and a use the scenario's (initial) concentrations; a is the concentration-weighted mean
ion radius, the same one the engine uses for the accessible volume.

Units: capacitance per area uF/cm^2, lengths nm, voltage mV, area nm^2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.units import EPS0, PER_NM3_TO_MM, capacitance_uF_per_cm2

from analysis.cell import (capacitance_from_voltage_variance_uF_per_cm2,
                           specific_capacitance_uF_per_cm2)
from analysis.runs import Measurements, SeriesMean, _stats
from analysis.theory import debye_length_nm, ionic_strength_mM

#: Fewest crossings after equilibration for Var(V_m) to measure the capacitor (a guess on
#: the safe side: the charge must take many values for its variance to mean anything).
MIN_CROSSINGS = 20

__all__ = ["MIN_CROSSINGS", "double_layer_capacitance_uF_per_cm2", "series_uF_per_cm2",
           "CapacitanceTheory",
           "capacitance_theory", "MeasuredCapacitance", "measured_capacitance"]


def double_layer_capacitance_uF_per_cm2(debye_nm: float, depth_nm: float, eps_w: float,
                                        closest_approach_nm: float = 0.0) -> float:
    """Capacitance per area of one face's double layer in a compartment of finite depth.

    C_dl = eps0 eps_w / (a + lambda tanh((L - 2a) / (4 lambda))) (module docstring);
    lambda = inf (no ions) gives the uniform-charge limit (a + (L - 2a)/4).

    Args:
        debye_nm: Debye length lambda, nm (> 0; math.inf for no ions).
        depth_nm: compartment depth L face to face, nm.
        eps_w: relative permittivity of the solvent.
        closest_approach_nm: distance a of the nearest ion centre from the face, nm.
    """
    if not (debye_nm > 0 and depth_nm > 0 and eps_w > 0 and closest_approach_nm >= 0):
        raise ValueError(f"double layer needs lambda, L, eps_w > 0 and a >= 0, got "
                         f"{debye_nm}, {depth_nm}, {eps_w}, {closest_approach_nm}")
    inner = max(depth_nm - 2.0 * closest_approach_nm, 0.0)
    diffuse = inner / 4.0 if math.isinf(debye_nm) else debye_nm * math.tanh(
        inner / (4.0 * debye_nm))
    return capacitance_uF_per_cm2(EPS0 * eps_w / (closest_approach_nm + diffuse))


def series_uF_per_cm2(*capacitances: float) -> float:
    """Capacitors in series: 1 / sum(1 / C_i), same unit as the inputs."""
    return 1.0 / sum(1.0 / c for c in capacitances)


@dataclass(frozen=True)
class CapacitanceTheory:
    """Theoretical capacitance of the run's membranes (uF/cm^2 unless named otherwise).

    Attributes:
        bare: per membrane, eps0 eps_m / d.
        double_layer: per compartment, one face's C_dl (None without ions).
        series: per membrane, C_m in series with the double layers on its two sides.
        debye_nm: per compartment, the Debye length used.
        bare_mean, series_mean: total capacitance divided by the total membrane area.
        total_area_nm2: sum of the membrane areas.
    """

    bare: tuple[float, ...]
    double_layer: tuple[float | None, ...]
    series: tuple[float, ...]
    debye_nm: tuple[float, ...]
    bare_mean: float
    series_mean: float
    total_area_nm2: float


def _side_properties(sc, k):
    comp = sc.compartments[k]
    valences = {sp.name: sp.valence for sp in sc.species}
    conc = {sp.name: comp.concentration(sp.name) for sp in sc.species}
    conc_mM = {n: c * PER_NM3_TO_MM for n, c in conc.items()}
    strength = ionic_strength_mM(conc_mM, valences)
    debye = (debye_length_nm(strength, sc.temperature, sc.solvent_permittivity)
             if strength > 0 else math.inf)
    total = sum(conc.values())
    radius = (sum(conc[sp.name] * sp.radius for sp in sc.species) / total) if total else 0.0
    return debye, radius


def capacitance_theory(scenario) -> CapacitanceTheory | None:
    """The capacitance a scenario's membranes should have (None without membranes)."""
    sc = scenario
    if not sc.membranes:
        return None
    n_comp = len(sc.compartments)
    sides = [_side_properties(sc, k) for k in range(n_comp)]
    dl = []
    for k, comp in enumerate(sc.compartments):
        debye, radius = sides[k]
        dl.append(double_layer_capacitance_uF_per_cm2(debye, comp.depth,
                                                      sc.solvent_permittivity, radius))
    bare, series = [], []
    for m, mem in enumerate(sc.membranes):
        c_m = specific_capacitance_uF_per_cm2(mem.permittivity, mem.thickness)
        bare.append(c_m)
        # membrane m separates compartment m from compartment m + 1 (periodic)
        series.append(series_uF_per_cm2(c_m, dl[m], dl[(m + 1) % n_comp]))
    return CapacitanceTheory(bare=tuple(bare), double_layer=tuple(dl), series=tuple(series),
                             debye_nm=tuple(d for d, _ in sides),
                             bare_mean=float(np.mean(bare)), series_mean=float(np.mean(series)),
                             total_area_nm2=len(sc.membranes) * sc.area)


@dataclass(frozen=True)
class MeasuredCapacitance:
    """C from Var(V_m) = k_B T / C.

    Attributes:
        variance_mV2: Var(V_m) after equilibration, mV^2, with its standard error.
        c_uF_per_cm2: capacitance per total membrane area, uF/cm^2.
        c_sem_uF_per_cm2: its standard error.
        std_mV: sqrt(Var(V_m)), mV.
        n_crossings: crossings after equilibration. The capacitor's charge changes only
            when an ion crosses, so Var(V_m) samples k_B T / C only if many do; with fewer
            than ``MIN_CROSSINGS`` a note says the value is not the capacitor's.
    """

    variance_mV2: SeriesMean
    c_uF_per_cm2: float
    c_sem_uF_per_cm2: float
    std_mV: float
    n_crossings: int = 0

    @property
    def reliable(self) -> bool:
        return self.n_crossings >= MIN_CROSSINGS


def measured_capacitance(m: Measurements) -> MeasuredCapacitance | None:
    """Capacitance from the V_m noise (None without V_m or with a constant V_m)."""
    if m.vm is None or not m.scenario.membranes:
        return None
    v = np.asarray(m.vm_series.value, dtype=float)[m.t0:]
    if v.size < 4:
        return None
    sq = (v - v.mean()) ** 2
    var = _stats(sq, None, 0, m.notes, "Var(V_m)")
    if not var.mean > 0:
        return None
    c = capacitance_from_voltage_variance_uF_per_cm2(var.mean, m.membrane_area_nm2,
                                                     m.temperature)
    n_cross = int(np.sum(np.asarray(m.run.crossings["time"]) >= m.t_equil_ps))
    if n_cross < MIN_CROSSINGS:
        m.notes.append(f"capacitance from Var(V_m): only {n_cross} crossings after "
                       f"equilibration: the capacitor's charge explored few values, so "
                       f"Var(V_m) need not reach k_B T / C (run longer)")
    return MeasuredCapacitance(variance_mV2=var, c_uF_per_cm2=c,
                               c_sem_uF_per_cm2=c * var.sem / var.mean,
                               std_mV=math.sqrt(var.mean), n_crossings=n_cross)
