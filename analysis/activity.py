"""Activity coefficients of ions in water: Debye-Hueckel and Davies.

ionsim's ions are ideal in the sense that nothing but Coulomb and WCA forces act between
them, but those forces make them non-ideal: at 150 mM the mean activity coefficient of KCl is
about 0.74. So the potential a simulation reaches can differ from the ideal Nernst value by
(kT/ze) ln(gamma_out/gamma_in), several mV for 150 mM against 5 mM.

Units: ionic strength on the molal scale, mol/kg (the scale on which A and B are defined);
concentrations at the user-facing interface in mM, converted to molality with the density of
pure water (a dilute-solution approximation that ignores the solutes' own volume: about 0.5 %
at 150 mM KCl). Ion size a in nm, temperature in K, potentials in mV.

The constants follow from the dielectric continuum alone (Debye and Hueckel, Phys. Z. 24
(1923) 185; Robinson and Stokes, *Electrolyte Solutions*, 2nd ed., 1959, ch. 9):

    l_B = e^2 / (4 pi eps0 eps_r k_B T)           (Bjerrum length)
    kappa = B sqrt(I),  B = sqrt(8 pi l_B N_A rho_w)   (rho_w: water density, kg/m^3)
    ln gamma_i = -z_i^2 l_B kappa / 2  =>  A = l_B B / (2 ln 10)

giving A = 0.509 kg^1/2 mol^-1/2 and B = 3.29 nm^-1 kg^1/2 mol^-1/2 at 25 C, eps_r 78.4.
"""

from __future__ import annotations

import math

from sim.units import AVOGADRO, thermal_voltage_mV
# The Malmberg-Maryott fit is the scenario's default solvent permittivity too: one function.
from sim.water import relative_permittivity as water_relative_permittivity

from analysis.theory import bjerrum_length_nm, nernst_mV

__all__ = [
    "water_relative_permittivity",
    "water_density_kg_per_m3",
    "debye_hueckel_A",
    "debye_hueckel_B_per_nm",
    "molality_from_mM",
    "log10_gamma_limiting",
    "log10_gamma_extended",
    "log10_gamma_davies",
    "activity_coefficient",
    "nernst_with_activities_mV",
]

_KELVIN_AT_0C = 273.15


def water_density_kg_per_m3(temperature_K: float) -> float:
    """Density of air-free pure water at 1 atm, kg/m^3, from 0 to 40 C.

    rho = a5 (1 - (t + a1)^2 (t + a2) / (a3 (t + a4))), t in degrees Celsius, with
    a1 = -3.983035 C, a2 = 301.797 C, a3 = 522528.9 C^2, a4 = 69.34881 C,
    a5 = 999.974950 kg/m^3 (Tanaka et al., Metrologia 38 (2001) 301): 997.05 at 25 C.
    Outside 0-40 C it is extrapolated (a few 0.1 % off at 100 C), which is harmless here.
    """
    t = temperature_K - _KELVIN_AT_0C
    a1, a2, a3, a4, a5 = -3.983035, 301.797, 522528.9, 69.34881, 999.974950
    return a5 * (1.0 - (t + a1) ** 2 * (t + a2) / (a3 * (t + a4)))


def _resolve(temperature_K, eps_r, density_kg_per_m3):
    if not temperature_K > 0:
        raise ValueError(f"temperature must be > 0 K, got {temperature_K} K")
    if eps_r is None:
        eps_r = water_relative_permittivity(temperature_K)
    if density_kg_per_m3 is None:
        density_kg_per_m3 = water_density_kg_per_m3(temperature_K)
    return eps_r, density_kg_per_m3


def debye_hueckel_B_per_nm(temperature_K: float, eps_r: float | None = None,
                           density_kg_per_m3: float | None = None) -> float:
    """Debye-Hueckel B = kappa / sqrt(I), in nm^-1 kg^1/2 mol^-1/2.

    B = sqrt(8 pi l_B N_A rho_w): kappa^2 = 4 pi l_B sum_i n_i z_i^2 with n_i = N_A rho_w m_i
    (number per m^3 for molality m_i), and sum_i m_i z_i^2 = 2 I. 3.29 at 25 C, eps_r 78.4
    (Robinson and Stokes 1959, appendix tables).

    Args:
        temperature_K: temperature, K.
        eps_r: solvent relative permittivity; default: water at this temperature.
        density_kg_per_m3: solvent density; default: water at this temperature.
    """
    eps_r, rho = _resolve(temperature_K, eps_r, density_kg_per_m3)
    l_b_m = bjerrum_length_nm(temperature_K, eps_r) * 1e-9
    kappa_per_m = math.sqrt(8.0 * math.pi * l_b_m * AVOGADRO * rho)  # at I = 1 mol/kg
    return kappa_per_m * 1e-9


def debye_hueckel_A(temperature_K: float, eps_r: float | None = None,
                    density_kg_per_m3: float | None = None) -> float:
    """Debye-Hueckel A (base-10 logarithm), kg^1/2 mol^-1/2.

    log10 gamma_i = -A z_i^2 sqrt(I) in the limiting law; A = l_B B / (2 ln 10). 0.509 at 25 C,
    eps_r 78.4 (Robinson and Stokes 1959, appendix tables).

    Args: as for :func:`debye_hueckel_B_per_nm`.
    """
    eps_r, rho = _resolve(temperature_K, eps_r, density_kg_per_m3)
    l_b_nm = bjerrum_length_nm(temperature_K, eps_r)
    return l_b_nm * debye_hueckel_B_per_nm(temperature_K, eps_r, rho) / (2.0 * math.log(10))


def molality_from_mM(c_mM: float, temperature_K: float) -> float:
    """Molality (mol/kg) of a dilute aqueous solution of concentration c (mM).

    m = c / rho_w: one litre of a dilute solution holds about rho_w of water. Ignores the
    solutes' volume (0.5 % at 150 mM KCl).
    """
    return (c_mM * 1e-3) / (water_density_kg_per_m3(temperature_K) * 1e-3)


def _check_I(ionic_strength_mol_per_kg):
    if ionic_strength_mol_per_kg < 0:
        raise ValueError(f"ionic strength must be >= 0, got {ionic_strength_mol_per_kg}")


def log10_gamma_limiting(valence: float, ionic_strength_mol_per_kg: float,
                         temperature_K: float, eps_r: float | None = None) -> float:
    """Debye-Hueckel limiting law, log10 gamma = -A z^2 sqrt(I).

    Exact as I -> 0 (Debye and Hueckel 1923); for KCl 0.7 % low at 5 mmol/kg and 10 % at
    0.1 mol/kg.

    Args:
        valence: charge number z.
        ionic_strength_mol_per_kg: ionic strength I, mol/kg.
        temperature_K: temperature, K.
        eps_r: solvent relative permittivity; default: water at this temperature.
    """
    _check_I(ionic_strength_mol_per_kg)
    a_dh = debye_hueckel_A(temperature_K, eps_r)
    return -a_dh * valence ** 2 * math.sqrt(ionic_strength_mol_per_kg)


def log10_gamma_extended(valence: float, ionic_strength_mol_per_kg: float,
                         ion_size_nm: float, temperature_K: float,
                         eps_r: float | None = None) -> float:
    """Extended Debye-Hueckel law, log10 gamma = -A z^2 sqrt(I) / (1 + B a sqrt(I)).

    Ions of closest-approach distance a (Debye and Hueckel 1923; Robinson and Stokes 1959,
    ch. 9). With a = 0.35 nm it follows the Hamer-Wu KCl data to 0.1 % at 5 mmol/kg and
    1.2 % at 0.15 mol/kg.

    Args:
        valence: charge number z.
        ionic_strength_mol_per_kg: ionic strength I, mol/kg.
        ion_size_nm: ion size parameter a, nm (> 0).
        temperature_K: temperature, K.
        eps_r: solvent relative permittivity; default: water at this temperature.
    """
    _check_I(ionic_strength_mol_per_kg)
    if not ion_size_nm > 0:
        raise ValueError(f"ion_size_nm must be > 0, got {ion_size_nm}")
    a_dh = debye_hueckel_A(temperature_K, eps_r)
    b_dh = debye_hueckel_B_per_nm(temperature_K, eps_r)
    root = math.sqrt(ionic_strength_mol_per_kg)
    return -a_dh * valence ** 2 * root / (1.0 + b_dh * ion_size_nm * root)


def log10_gamma_davies(valence: float, ionic_strength_mol_per_kg: float,
                       temperature_K: float, eps_r: float | None = None) -> float:
    """Davies equation, log10 gamma = -A z^2 ( sqrt(I)/(1 + sqrt(I)) - 0.3 I ).

    Empirical, no ion size (Davies, *Ion Association*, Butterworths, 1962); useful to
    about 0.1-0.5 mol/kg.

    Args:
        valence: charge number z.
        ionic_strength_mol_per_kg: ionic strength I, mol/kg.
        temperature_K: temperature, K.
        eps_r: solvent relative permittivity; default: water at this temperature.
    """
    _check_I(ionic_strength_mol_per_kg)
    a_dh = debye_hueckel_A(temperature_K, eps_r)
    root = math.sqrt(ionic_strength_mol_per_kg)
    return -a_dh * valence ** 2 * (root / (1.0 + root) - 0.3 * ionic_strength_mol_per_kg)


def activity_coefficient(valence: float, ionic_strength_mol_per_kg: float,
                         temperature_K: float, model: str = "extended",
                         ion_size_nm: float = 0.35, eps_r: float | None = None) -> float:
    """Single-ion activity coefficient gamma (dimensionless, molal scale).

    For a 1:1 salt whose two ions share one size a, this is also the mean activity
    coefficient gamma_+- that experiments measure.

    Args:
        valence: charge number z.
        ionic_strength_mol_per_kg: ionic strength I, mol/kg.
        temperature_K: temperature, K.
        model: "limiting", "extended" (default) or "davies".
        ion_size_nm: ion size a for the extended law, nm (0.35 nm fits KCl).
        eps_r: solvent relative permittivity; default: water at this temperature.
    """
    if model == "limiting":
        log10_g = log10_gamma_limiting(valence, ionic_strength_mol_per_kg, temperature_K,
                                       eps_r)
    elif model == "extended":
        log10_g = log10_gamma_extended(valence, ionic_strength_mol_per_kg, ion_size_nm,
                                       temperature_K, eps_r)
    elif model == "davies":
        log10_g = log10_gamma_davies(valence, ionic_strength_mol_per_kg, temperature_K,
                                     eps_r)
    else:
        raise ValueError(f"unknown activity model {model!r}: use 'limiting', 'extended' "
                         f"or 'davies'")
    return 10.0 ** log10_g


def nernst_with_activities_mV(c_out_mM: float, c_in_mM: float, valence: float,
                              temperature_K: float,
                              ionic_strength_out_mM: float | None = None,
                              ionic_strength_in_mM: float | None = None,
                              model: str = "extended", ion_size_nm: float = 0.35,
                              eps_r: float | None = None) -> float:
    """Nernst potential from activities, V_in - V_out in mV.

    V = (kT/ze) ln(a_out / a_in) = (kT/ze) ln(c_out / c_in) + (kT/ze) ln(gamma_out / gamma_in):
    the ideal value shifted by the activity term. Example: K+ 150 mM inside, 5 mM outside,
    each side a KCl solution (I = c), extended Debye-Hueckel at 310.15 K: -90.9 + 6.5 = -84.4 mV.

    Args:
        c_out_mM, c_in_mM: concentrations of the ion, mM (> 0).
        valence: its charge number z.
        temperature_K: temperature, K.
        ionic_strength_out_mM, ionic_strength_in_mM: ionic strength on each side, mM.
            Default: the ion with monovalent counter-ions only, I = (z^2 + |z|) c / 2
            (I = c for a 1:1 salt).
        model, ion_size_nm, eps_r: as for :func:`activity_coefficient`.
    """
    ideal = nernst_mV(c_out_mM, c_in_mM, valence, temperature_K)
    own = 0.5 * (valence ** 2 + abs(valence))
    i_out = own * c_out_mM if ionic_strength_out_mM is None else ionic_strength_out_mM
    i_in = own * c_in_mM if ionic_strength_in_mM is None else ionic_strength_in_mM
    g_out = activity_coefficient(valence, molality_from_mM(i_out, temperature_K),
                                 temperature_K, model, ion_size_nm, eps_r)
    g_in = activity_coefficient(valence, molality_from_mM(i_in, temperature_K),
                                temperature_K, model, ion_size_nm, eps_r)
    return ideal + thermal_voltage_mV(temperature_K) / valence * math.log(g_out / g_in)
