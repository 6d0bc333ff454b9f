"""What a real cell pays its pumps in ATP, from a run with pumps: part of ``ionsim budget``.

(a) Building the gradient. A spherical cell of radius R (volume V = 4/3 pi R^3, area
A = 4 pi R^2) holding the run's inside concentrations c_i,s against an outside bath at c_o,s
(the measured bulk concentrations after equilibration; the initial ones where none was
measured) stores, for ideal solutions and a bath much larger than the cell,

    G_ions = kT sum_s [N_s ln(c_i,s / c_o,s) - (N_s - N_s^0)],   N_s = c_i,s V, N_s^0 = c_o,s V

(the work of carrying the ions in one by one, kT ln(c / c_o) each, from the bath's
concentration to c_i: the integral of kT ln(c / c_o) over the cell's content; >= 0), summed
over the species the pumps carry (the others follow passively), plus the capacitor's

    G_C = C V_m^2 / 2,   C = 1 uF/cm^2 x A

at the run's mean V_m (0 without one). The ATP this takes is G / |dG_ATP| (dG_ATP per
molecule: kJ/mol / N_A), and G / (|dG_ATP| eta) with the run's measured efficiency eta
(:mod:`analysis.agents`) where the run measured a positive one.

(b) Holding it against the leaks. A real pump turns over, net, at the run's net cycles per
pump per second of real time (simulated rate / acceleration); the cell's pumps then use

    ATP/s = (net cycles per pump per real s) x rho x A,   one ATP per cycle,

rho the pump density, an order of magnitude only: ouabain-binding counts of the Na,K-ATPase
range from below 1 per um^2 (human erythrocytes, about 300 per cell: J. Physiol. 251
(1975) 671) through 250-300 per um^2 (guinea-pig taenia coli: Brading & Widdicombe, J.
Physiol. 238 (1974) 235; BioNumbers 103030) and about 700 per um^2 (cultured rat heart
cells, with a turnover of 50 /s: Am. J. Physiol. 236 (1979) C87) to about 2500 per um^2
(frog sartorius surface membrane, 3H-ouabain binding): 10^2 to 10^4 per um^2 in excitable
and transporting cells, so 1000 per um^2 by default (``--pump-density``), an order of
magnitude.

The fraction of the cell's ATP turnover: a resting human uses about 1 W/kg, i.e. about
1e-15 W per um^3 of tissue (Milo & Phillips, Cell Biology by the Numbers, "What is the
power consumption of a cell?", book.bionumbers.org), so the cell's turnover is estimated as
1e-15 W/um^3 x V / |dG_ATP| molecules per second; real cells spend about 19-28 % of theirs
on the Na,K-ATPase (Rolfe & Brown, Physiol. Rev. 77 (1997) 731). Both are orders of
magnitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.errors import UserError
from sim.units import AVOGADRO, BOLTZMANN, ELEMENTARY_CHARGE

from analysis.agents import AgentAnalysis
from analysis.cell import (capacitor_charge_e, ions_in_volume, sphere_area_nm2,
                           sphere_volume_nm3)
from analysis.runs import INSIDE, OUTSIDE, Measurements
from analysis.tables import Table, fmt, fmt_sci

__all__ = ["PumpCellCost", "pump_cell_cost", "pump_cost_table", "parse_pump_density",
           "gradient_free_energy_J", "DEFAULT_PUMP_DENSITY_PER_UM2",
           "CELL_POWER_W_PER_UM3", "MAX_PUMP_DENSITY_PER_UM2"]

DEFAULT_PUMP_DENSITY_PER_UM2 = 1000.0
#: a pump's footprint is tens of nm^2: 1e5 per um^2 would tile the membrane several times
MAX_PUMP_DENSITY_PER_UM2 = 1e5
#: resting metabolic power per cell volume, W/um^3 (about 1 W/kg; Milo & Phillips)
CELL_POWER_W_PER_UM3 = 1e-15
_J_PER_KJ = 1e3
_UM2_PER_NM2 = 1e-6
_UM3_PER_NM3 = 1e-9


def gradient_free_energy_J(c_in_mM: float, c_out_mM: float, volume_nm3: float,
                           temperature_K: float) -> float:
    """kT [N ln(c_in / c_out) - (N - N0)] J for one species (module docstring): the ideal
    free energy of a volume at c_in against a bath at c_out (inf for c_in > 0 = c_out)."""
    kT_J = BOLTZMANN * _J_PER_KJ * temperature_K / AVOGADRO
    n, n0 = ions_in_volume(c_in_mM, volume_nm3), ions_in_volume(c_out_mM, volume_nm3)
    if c_in_mM <= 0:
        return kT_J * n0
    if c_out_mM <= 0:
        return math.inf
    return kT_J * (n * math.log(c_in_mM / c_out_mM) - (n - n0))


@dataclass(frozen=True)
class PumpCellCost:
    """A real cell's ATP bill for the run's pumps (module docstring).

    Attributes:
        radius_um: R; area_um2, volume_um3: the sphere's.
        species: {name: (c_in mM, c_out mM, G J)} of the carried species.
        vm_mV: the V_m of the capacitor term (None: no V_m, term 0).
        g_ions_J, g_capacitor_J: the two terms; atp_free_energy_kJ_mol: dG_ATP (< 0).
        atp_to_build: G / |dG_ATP| molecules; efficiency: the run's (None if not positive);
            atp_to_build_real: atp_to_build / efficiency (None without one).
        acceleration: the pumps' A; cycles_per_s_real: net cycles per pump per real s.
        density_per_um2: rho; atp_per_s: to hold the gradient.
        cell_atp_per_s: the estimate of the cell's whole turnover; fraction: atp_per_s of it.
        notes: caveats.
    """

    radius_um: float
    area_um2: float
    volume_um3: float
    species: dict
    vm_mV: float | None
    g_ions_J: float
    g_capacitor_J: float
    atp_free_energy_kJ_mol: float
    atp_to_build: float
    efficiency: float | None
    atp_to_build_real: float | None
    acceleration: float | None
    cycles_per_s_real: float
    density_per_um2: float
    atp_per_s: float
    cell_atp_per_s: float
    fraction: float
    notes: tuple[str, ...] = ()

    @property
    def build_time_s(self) -> float | None:
        """The ATP to build (at the measured efficiency where there is one) over the ATP per
        second that holds it: how long the pumps would take; None where they do not pump."""
        need = self.atp_to_build_real if self.atp_to_build_real is not None else \
            self.atp_to_build
        return need / self.atp_per_s if self.atp_per_s > 0 and math.isfinite(need) else None


def _concentration(m: Measurements, k: int, s: int) -> float:
    """The measured bulk concentration (mM), the initial one where none was measured."""
    c = m.bulk_mM[k, s].mean
    return float(c) if math.isfinite(c) else float(m.initial_mM[k, s])


def pump_cell_cost(m: Measurements, a: AgentAnalysis, radius_um: float,
                   density_per_um2: float = DEFAULT_PUMP_DENSITY_PER_UM2) -> PumpCellCost | None:
    """The bill for a cell of radius_um (um) with density_per_um2 pumps per um^2, from the
    run's measurements and its agents' analysis; None for a run without pumps."""
    led = a.pumps_total if a is not None else None
    if led is None:
        return None
    notes = []
    vol_nm3, area_nm2 = sphere_volume_nm3(radius_um), sphere_area_nm2(radius_um)
    records = m.scenario.membranes
    names = {n for mem in records for p in mem.pumps for n, _ in p.carries_out + p.carries_in}
    species, g_ions = {}, 0.0
    for s, name in enumerate(m.species_names):
        if name not in names:
            continue
        c_in, c_out = _concentration(m, INSIDE, s), _concentration(m, OUTSIDE, s)
        g = gradient_free_energy_J(c_in, c_out, vol_nm3, m.temperature)
        species[name] = (c_in, c_out, g)
        if math.isfinite(g):
            g_ions += g
        else:
            notes.append(f"{name}: none outside, so no finite cost to hold it inside; left "
                         f"out")
    vm = m.vm.mean if m.vm is not None and math.isfinite(m.vm.mean) else None
    # C V^2 / 2 = Q V / 2, Q = C A V on one plate (e)
    g_cap = 0.5 * capacitor_charge_e(1.0, vm, area_nm2) * ELEMENTARY_CHARGE * vm * 1e-3 \
        if vm is not None else 0.0
    if vm is None:
        notes.append("no V_m in this run: the capacitor's C V^2 / 2 is left out")
    g_atp = set(led.atp_free_energy_kJ_mol)
    dg_atp = float(sum(g_atp) / len(g_atp))
    if len(g_atp) > 1:
        notes.append("the pumps have different dG_ATP: their mean is used")
    per_atp_J = abs(dg_atp) * _J_PER_KJ / AVOGADRO
    atp = (g_ions + g_cap) / per_atp_J
    eta = led.efficiency if led.efficiency is not None and led.efficiency > 0 else None
    if led.efficiency is not None and led.efficiency <= 0:
        notes.append(f"the run's efficiency is {led.efficiency:.3g} (the pumps ran downhill): "
                     f"the ideal bill only")
    atp_s = led.cycles_per_s_real * density_per_um2 * area_nm2 * _UM2_PER_NM2
    cell = CELL_POWER_W_PER_UM3 * vol_nm3 * _UM3_PER_NM3 / per_atp_J
    return PumpCellCost(
        radius_um=radius_um, area_um2=area_nm2 * _UM2_PER_NM2,
        volume_um3=vol_nm3 * _UM3_PER_NM3, species=species, vm_mV=vm, g_ions_J=g_ions,
        g_capacitor_J=g_cap, atp_free_energy_kJ_mol=dg_atp, atp_to_build=atp,
        efficiency=eta, atp_to_build_real=atp / eta if eta else None,
        acceleration=led.acceleration, cycles_per_s_real=led.cycles_per_s_real,
        density_per_um2=density_per_um2, atp_per_s=atp_s, cell_atp_per_s=cell,
        fraction=atp_s / cell, notes=tuple(notes))


def pump_cost_table(c: PumpCellCost) -> Table:
    """The bill as a table of arithmetic steps."""
    accel = "A mixed" if c.acceleration is None else f"A = {c.acceleration:.3g}"
    t = Table(f"What a real cell pays its pumps: sphere of radius {c.radius_um:g} um, "
              f"{c.density_per_um2:g} pumps per um^2, dG_ATP {c.atp_free_energy_kJ_mol:g} "
              f"kJ/mol ({accel})", ["step", "arithmetic", "result"])
    for name, (c_in, c_out, g) in c.species.items():
        t.add(f"{name} gradient", f"kT [N ln({c_in:.3g} / {c_out:.3g} mM) - (N - N0)], N = "
                                  f"c_in x {c.volume_um3:.3g} um^3", fmt_sci(g, 3, "J"))
    t.add("capacitor C V^2 / 2", "n/a (no V_m)" if c.vm_mV is None else
          f"1 uF/cm^2 x {c.area_um2:.3g} um^2 x ({c.vm_mV * 1e-3:.4f} V)^2 / 2",
          fmt_sci(c.g_capacitor_J, 3, "J"))
    t.add("ATP to build it (ideal)", f"({c.g_ions_J:.3e} + {c.g_capacitor_J:.3e}) J / "
                                     f"{abs(c.atp_free_energy_kJ_mol):g} kJ/mol per N_A",
          fmt_sci(c.atp_to_build, 3))
    t.add("ATP to build it (run's efficiency)",
          "n/a (no positive efficiency measured)" if c.efficiency is None else
          f"{c.atp_to_build:.3e} / {c.efficiency:.3g}", fmt_sci(c.atp_to_build_real, 3))
    t.add("net cycles per pump per real s", f"simulated rate / acceleration ({accel})",
          fmt_sci(c.cycles_per_s_real, 3))
    t.add("ATP per s to hold it", f"{c.cycles_per_s_real:.3g} /s x {c.density_per_um2:g} "
                                  f"/um^2 x {c.area_um2:.3g} um^2", fmt_sci(c.atp_per_s, 3))
    t.add("the cell's ATP turnover (estimate)",
          f"1e-15 W/um^3 x {c.volume_um3:.3g} um^3 / {abs(c.atp_free_energy_kJ_mol):g} kJ/mol "
          f"per N_A", fmt_sci(c.cell_atp_per_s, 2, "/s"))
    t.add("fraction of it for these pumps", f"{c.atp_per_s:.3g} / {c.cell_atp_per_s:.3g}",
          fmt(100 * c.fraction, 2, "%") if abs(c.fraction) >= 1e-4 else
          fmt_sci(100 * c.fraction, 2, "%"))
    bt = c.build_time_s
    t.add("time to build at that rate", "ATP to build / ATP per s",
          "n/a (the pumps made no net cycles)" if bt is None else fmt_sci(bt, 2, "s"))
    t.notes.append("pump density: 10^2 to 10^4 per um^2 (ouabain binding; an order of "
                   "magnitude); the cell's turnover from ~1 W/kg (Milo & Phillips); real "
                   "cells spend 19-28 % of it on the Na,K-ATPase (Rolfe & Brown 1997)")
    t.notes.extend(c.notes)
    return t


def parse_pump_density(text) -> float:
    """--pump-density: pumps per um^2, a number with an optional '/um^2' (UserError if
    bad)."""
    raw = str(text).strip()
    for suffix in ("/um^2", "/um2", "per um^2"):
        if raw.endswith(suffix):
            raw = raw[: -len(suffix)].strip()
    try:
        value = float(raw)
    except ValueError:
        raise UserError(f"--pump-density: must be a number of pumps per um^2 (e.g. 1000), got "
                        f"{str(text)[:40]!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_PUMP_DENSITY_PER_UM2):
        raise UserError(f"--pump-density: must be > 0 and at most "
                        f"{MAX_PUMP_DENSITY_PER_UM2:g} per um^2 (real cells: 10^2 to 10^4), "
                        f"got {str(text)[:40]!r}")
    return value
