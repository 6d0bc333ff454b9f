"""The membrane as a capacitor, and the ion budget of making a membrane potential.

A membrane potential V needs only the charge Q = C A V on the membrane capacitor. This module
turns that into numbers of ions, compares them with the ions a compartment holds, and gives
the shift of the Nernst potential the crossing causes: about 1e-5 of a real cell's K+ and a
few microvolts, which is why the Nernst potential can be computed from the bulk
concentrations as if nothing had crossed.

Units: capacitance per area in uF/cm^2 (1 uF/cm^2 = 1e-2 F/m^2), voltage in mV, area in nm^2,
volumes in nm^3, lengths in nm unless the name says um, concentrations in mM, temperature in
K, charge in elementary charges e unless the name says C (coulomb).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from sim.units import (
    AVOGADRO,
    BOLTZMANN,
    ELEMENTARY_CHARGE,
    MOLAR_TO_PER_NM3,
    VACUUM_PERMITTIVITY,
)

from analysis.theory import nernst_mV

__all__ = [
    "specific_capacitance_uF_per_cm2",
    "capacitor_charge_e",
    "ions_for_voltage",
    "voltage_per_ion_mV",
    "thermal_voltage_noise_mV",
    "capacitance_from_voltage_variance_uF_per_cm2",
    "sphere_volume_nm3",
    "sphere_area_nm2",
    "ions_in_volume",
    "IonBudget",
    "ion_budget",
    "cell_ion_budget",
    "lecture_ions_in_cell",
    "OneMillimolarLeak",
    "lecture_one_millimolar_leak",
]

_F_PER_M2_PER_UF_PER_CM2 = 1e-2  # 1 uF/cm^2 = 1e-6 F / 1e-4 m^2
_M2_PER_NM2 = 1e-18
_NM_PER_UM = 1e3
_J_PER_KJ = 1e3


def _capacitance_F(C_uF_per_cm2: float, area_nm2: float) -> float:
    if not (C_uF_per_cm2 > 0 and area_nm2 > 0):
        raise ValueError(f"capacitance and area must be > 0, got {C_uF_per_cm2} uF/cm^2, "
                         f"{area_nm2} nm^2")
    return C_uF_per_cm2 * _F_PER_M2_PER_UF_PER_CM2 * area_nm2 * _M2_PER_NM2


# --- the membrane capacitor ---------------------------------------------------------------

def specific_capacitance_uF_per_cm2(eps_r: float, thickness_nm: float) -> float:
    """Capacitance per area of a dielectric slab, C/A = eps0 eps_r / d, in uF/cm^2.

    The parallel-plate capacitor. A lipid core of eps_r 2 and 4 nm gives 0.44 uF/cm^2; real
    membranes measure about 1 uF/cm^2 (BioNumbers 104078).

    Args:
        eps_r: relative permittivity of the slab.
        thickness_nm: slab thickness d, nm.
    """
    if not (eps_r > 0 and thickness_nm > 0):
        raise ValueError(f"eps_r and thickness must be > 0, got {eps_r}, {thickness_nm} nm")
    farad_per_m2 = VACUUM_PERMITTIVITY * eps_r / (thickness_nm * 1e-9)
    return farad_per_m2 / _F_PER_M2_PER_UF_PER_CM2


def capacitor_charge_e(C_uF_per_cm2: float, V_mV: float, area_nm2: float) -> float:
    """Charge Q = C A V on one plate of a membrane patch, in elementary charges.

    The inside plate carries +Q for V = V_in - V_out; the sign follows V.

    Args:
        C_uF_per_cm2: specific capacitance, uF/cm^2.
        V_mV: voltage across the membrane, mV.
        area_nm2: membrane area, nm^2.
    """
    return _capacitance_F(C_uF_per_cm2, area_nm2) * V_mV * 1e-3 / ELEMENTARY_CHARGE


def ions_for_voltage(C_uF_per_cm2: float, V_mV: float, area_nm2: float,
                     valence: float = 1) -> float:
    """Number of ions of valence z that must cross to charge a patch to V: |C A V| / (|z| e).

    Args: as for :func:`capacitor_charge_e`; valence: charge number of the crossing ion.
    """
    if valence == 0:
        raise ValueError("valence must be non-zero")
    return abs(capacitor_charge_e(C_uF_per_cm2, V_mV, area_nm2)) / abs(valence)


def voltage_per_ion_mV(C_uF_per_cm2: float, area_nm2: float, valence: float = 1) -> float:
    """Voltage change one ion makes by crossing a patch, |z| e / (C A), in mV.

    160 mV per e on 100 nm^2 at 1 uF/cm^2: 1.602e-19 C / (1e-2 F/m^2 * 1e-16 m^2) = 0.160 V.

    Args:
        C_uF_per_cm2: specific capacitance, uF/cm^2.
        area_nm2: membrane area, nm^2.
        valence: charge number of the ion.
    """
    return abs(valence) * ELEMENTARY_CHARGE / _capacitance_F(C_uF_per_cm2, area_nm2) * 1e3


def thermal_voltage_noise_mV(C_uF_per_cm2: float, area_nm2: float,
                             temperature_K: float) -> float:
    """RMS thermal voltage noise of a capacitor, sqrt(k_B T / C), in mV.

    Equipartition of the energy Q^2/(2C) (the kT/C noise; Johnson, Phys. Rev. 32 (1928) 97,
    Nyquist, ibid. 110). In a double-membrane box the two membranes are in parallel: pass
    the sum of their areas.

    Args:
        C_uF_per_cm2: specific capacitance, uF/cm^2.
        area_nm2: total capacitor area, nm^2.
        temperature_K: temperature, K.
    """
    kT_J = BOLTZMANN * _J_PER_KJ * temperature_K / AVOGADRO  # per ion, J
    return math.sqrt(kT_J / _capacitance_F(C_uF_per_cm2, area_nm2)) * 1e3


def capacitance_from_voltage_variance_uF_per_cm2(var_V_mV2: float, area_nm2: float,
                                                  temperature_K: float) -> float:
    """Specific capacitance from the equilibrium variance of the voltage, C = k_B T / Var(V).

    Inverse of :func:`thermal_voltage_noise_mV` (same source and area convention).

    Args:
        var_V_mV2: variance of the membrane voltage, mV^2.
        area_nm2: total capacitor area, nm^2.
        temperature_K: temperature, K.
    """
    if not var_V_mV2 > 0:
        raise ValueError(f"the voltage variance must be > 0, got {var_V_mV2} mV^2")
    kT_J = BOLTZMANN * _J_PER_KJ * temperature_K / AVOGADRO  # per ion, J
    farad = kT_J / (var_V_mV2 * 1e-6)
    return farad / (area_nm2 * _M2_PER_NM2) / _F_PER_M2_PER_UF_PER_CM2


# --- geometry and counts ------------------------------------------------------------------

def sphere_volume_nm3(radius_um: float) -> float:
    """Volume of a sphere, 4/3 pi R^3, in nm^3, for a radius in um."""
    return 4.0 / 3.0 * math.pi * (radius_um * _NM_PER_UM) ** 3


def sphere_area_nm2(radius_um: float) -> float:
    """Surface area of a sphere, 4 pi R^2, in nm^2, for a radius in um."""
    return 4.0 * math.pi * (radius_um * _NM_PER_UM) ** 2


def ions_in_volume(c_mM: float, volume_nm3: float) -> float:
    """Number of ions at concentration c (mM) in a volume (nm^3): c N_A V."""
    return c_mM * 1e-3 * MOLAR_TO_PER_NM3 * volume_nm3


# --- ion budget ---------------------------------------------------------------------------

@dataclass(frozen=True)
class IonBudget:
    """What the crossing of some ions does to one species' concentrations and Nernst potential.

    Attributes:
        ions_out: ions that crossed from inside to outside (negative: inward).
        fraction_of_inside: |ions_out| / ions inside before the crossing.
        c_in_before_mM, c_in_after_mM, c_out_before_mM, c_out_after_mM: concentrations, mM.
        nernst_before_mV, nernst_after_mV: Nernst potential V_in - V_out, mV.
        nernst_shift_mV: nernst_after_mV - nernst_before_mV, mV.
        membrane_voltage_mV: voltage the crossed charge puts on the membrane capacitor, mV
            (None where no capacitance was given).
    """

    ions_out: float
    fraction_of_inside: float
    c_in_before_mM: float
    c_in_after_mM: float
    c_out_before_mM: float
    c_out_after_mM: float
    nernst_before_mV: float
    nernst_after_mV: float
    nernst_shift_mV: float
    membrane_voltage_mV: float | None = None


def ion_budget(ions_out: float, c_in_mM: float, c_out_mM: float, valence: float,
               temperature_K: float, volume_in_nm3: float,
               volume_out_nm3: float = math.inf) -> IonBudget:
    """Concentration change and Nernst shift caused by ``ions_out`` ions leaving a compartment.

    c_in' = c_in - n / (N_A V_in), c_out' = c_out + n / (N_A V_out) (unchanged for an infinite
    bath), and the shift E(c_out', c_in') - E(c_out, c_in) of the Nernst potential
    (:func:`analysis.theory.nernst_mV`). For small n / N_in the shift is
    (kT/ze) (n/N_in + n/N_out): the fraction of ions that crossed, in units of kT/ze.

    Args:
        ions_out: number of ions that crossed outward (negative: inward).
        c_in_mM, c_out_mM: concentrations before the crossing, mM.
        valence: charge number of the species.
        temperature_K: temperature, K.
        volume_in_nm3: inside volume, nm^3.
        volume_out_nm3: outside volume, nm^3 (default infinite).
    """
    if not volume_in_nm3 > 0 or not volume_out_nm3 > 0:
        raise ValueError("volumes must be > 0 nm^3")
    n_in = ions_in_volume(c_in_mM, volume_in_nm3)
    c_in_after = c_in_mM - ions_out / (MOLAR_TO_PER_NM3 * 1e-3 * volume_in_nm3)
    c_out_after = c_out_mM + ions_out / (MOLAR_TO_PER_NM3 * 1e-3 * volume_out_nm3)
    if c_in_after <= 0 or c_out_after <= 0:
        raise ValueError(f"{ions_out:g} ions crossing would empty a compartment")
    before = nernst_mV(c_out_mM, c_in_mM, valence, temperature_K)
    after = nernst_mV(c_out_after, c_in_after, valence, temperature_K)
    return IonBudget(ions_out=ions_out, fraction_of_inside=abs(ions_out) / n_in,
                     c_in_before_mM=c_in_mM, c_in_after_mM=c_in_after,
                     c_out_before_mM=c_out_mM, c_out_after_mM=c_out_after,
                     nernst_before_mV=before, nernst_after_mV=after,
                     nernst_shift_mV=after - before)


def cell_ion_budget(V_mV: float, radius_um: float, c_in_mM: float, c_out_mM: float,
                    valence: float, temperature_K: float, C_m_uF_per_cm2: float = 1.0,
                    volume_out_nm3: float = math.inf) -> IonBudget:
    """Ion budget of charging a spherical cell to V by one species alone.

    The inside plate must carry Q = C_m 4 pi R^2 V, so n = -Q / (z e) ions leave (K+ leaves to
    make the inside negative). Example: R = 5 um, C_m = 1 uF/cm^2, V = -90 mV: Q = 1e-6 F/cm^2
    * 3.14e-6 cm^2 * 0.09 V = 2.8e-13 C = 1.8e6 K+ ions, out of 150 mM * 5.24e-13 L * N_A =
    4.7e10 inside: a fraction 3.7e-5, which shifts E_K by (kT/e) 3.7e-5 = 1e-3 mV.

    Args:
        V_mV: membrane voltage V_in - V_out to reach, mV.
        radius_um: cell radius, um.
        c_in_mM, c_out_mM: concentrations of the species before, mM.
        valence: its charge number.
        temperature_K: temperature, K.
        C_m_uF_per_cm2: specific membrane capacitance, uF/cm^2 (default 1).
        volume_out_nm3: outside volume, nm^3 (default infinite).

    Returns:
        An :class:`IonBudget` with ``membrane_voltage_mV`` = V_mV.
    """
    if valence == 0:
        raise ValueError("valence must be non-zero")
    q_e = capacitor_charge_e(C_m_uF_per_cm2, V_mV, sphere_area_nm2(radius_um))
    budget = ion_budget(-q_e / valence, c_in_mM, c_out_mM, valence, temperature_K,
                        sphere_volume_nm3(radius_um), volume_out_nm3)
    return replace(budget, membrane_voltage_mV=V_mV)


# --- two claims of the lecture behind this project, recomputed ----------------------------

def lecture_ions_in_cell(radius_um: float = 5.0, c_mM: float = 150.0) -> float:
    """Number of ions of one species in a spherical cell: c N_A 4/3 pi R^3.

    The lecture says "about 1e20" K+ ions. For R = 5 um and 150 mM:
    V = 4/3 pi (5e-6 m)^3 = 5.24e-16 m^3 = 5.24e-13 L, and
    n = 0.150 mol/L * 5.24e-13 L * 6.022e23 /mol = 4.7e10,
    nine orders of magnitude fewer (1e20 K+ at 150 mM would fill 1.1 mL).

    Args:
        radius_um: cell radius, um.
        c_mM: concentration, mM.
    """
    return ions_in_volume(c_mM, sphere_volume_nm3(radius_um))


@dataclass(frozen=True)
class OneMillimolarLeak:
    """What a concentration drop of a cation in a cell would do (see the function).

    Attributes:
        ions: ions that left.
        charge_C: charge they carried, C.
        capacitance_F: membrane capacitance of the cell, F.
        voltage_from_charge_mV: the voltage that charge puts on the membrane, mV.
        nernst_shift_mV: shift of the Nernst potential from the concentration change, mV.
    """

    ions: float
    charge_C: float
    capacitance_F: float
    voltage_from_charge_mV: float
    nernst_shift_mV: float


def lecture_one_millimolar_leak(diameter_um: float = 10.0, delta_c_mM: float = 1.0,
                                c_in_mM: float = 150.0, c_out_mM: float = 5.0,
                                valence: float = 1, temperature_K: float = 310.15,
                                C_m_uF_per_cm2: float = 1.0) -> OneMillimolarLeak:
    """If 1 mM of K+ left a cell of 10 um diameter: a tiny Nernst shift, but volts of charge.

    R = 5 um: V = 5.24e-13 L, A = 4 pi (5e-4 cm)^2 = 3.14e-6 cm^2.
    ions = 1e-3 mol/L * 5.24e-13 L * 6.022e23 /mol = 3.15e8; charge = 3.15e8 * 1.602e-19 C
    = 5.05e-11 C; C = 1 uF/cm^2 * 3.14e-6 cm^2 = 3.14e-12 F; charge / C = 16 V.
    The concentration change alone moves E_K by (kT/e) ln(150/149) = 26.73 mV * 0.00669 =
    0.18 mV (bath infinite). So even a concentration change too small to matter for the
    Nernst potential would, as uncompensated charge, put volts on the membrane: tens of times
    the few hundred mV at which lipid membranes break down.

    Args:
        diameter_um: cell diameter, um.
        delta_c_mM: drop of the inside concentration, mM.
        c_in_mM, c_out_mM: concentrations before, mM (outside: infinite bath).
        valence: charge number of the ion.
        temperature_K: temperature, K.
        C_m_uF_per_cm2: specific membrane capacitance, uF/cm^2.
    """
    radius_um = diameter_um / 2.0
    volume = sphere_volume_nm3(radius_um)
    ions = ions_in_volume(delta_c_mM, volume)
    charge_C = ions * abs(valence) * ELEMENTARY_CHARGE
    cap_F = _capacitance_F(C_m_uF_per_cm2, sphere_area_nm2(radius_um))
    budget = ion_budget(ions, c_in_mM, c_out_mM, valence, temperature_K, volume)
    return OneMillimolarLeak(ions=ions, charge_C=charge_C, capacitance_F=cap_F,
                             voltage_from_charge_mV=charge_C / cap_F * 1e3,
                             nernst_shift_mV=budget.nernst_shift_mV)
