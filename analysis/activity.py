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

The primitive model (second half of this module). A simulation of ionsim is an implicit-solvent
(McMillan-Mayer) model: charged spheres in a dielectric continuum. Its activity coefficients
are on the *number-density* (molar) scale, gamma_i = exp(beta mu_i^ex) with mu_i =
kT ln(rho_i Lambda^3) + mu_i^ex, and its osmotic coefficient is phi = beta P / rho_total,
P the ions' (osmotic) pressure. The functions there take number densities in nm^-3
(1 M = 0.60221 nm^-3), diameters in nm and the Bjerrum length in nm, and return
dimensionless numbers (energies in units of kT):

- :func:`msa_primitive_model`: the mean spherical approximation for charged hard spheres of
  any diameters and valences (Blum, Mol. Phys. 30 (1975) 1529; Blum and Hoye, J. Phys.
  Chem. 81 (1977) 1311): screening parameter Gamma, excess internal energy, osmotic
  coefficient and ln gamma_i (electrostatic part);
- :func:`bmcsl_hard_spheres`: the hard-sphere part of the same mixture, Boublik-Mansoori-
  Carnahan-Starling-Leland (Boublik, J. Chem. Phys. 53 (1970) 471; Mansoori et al., J. Chem.
  Phys. 54 (1971) 1523);
- :func:`primitive_model`: the two together, the MSA + BMCSL estimate of the model ionsim
  simulates;
- :func:`debye_hueckel_primitive`: Debye-Hueckel on the same (number-density) scale, the
  limiting law or with a closest-approach distance a;
- :func:`barker_henderson_diameter`: the hard-sphere diameter equivalent to a WCA ion.

These are *not* the molal functions above: the molal, solvent-explicit (Lewis-Randall)
coefficients of an experiment differ from the McMillan-Mayer ones by the solvent's volume
and compressibility terms (Friedman, J. Solution Chem. 1 (1972) 387), below 1 % in ln gamma
at 0.15 M.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.integrate import quad
from scipy.optimize import brentq

from sim.units import AVOGADRO, MOLAR_TO_PER_NM3, thermal_voltage_mV
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
    "MSAResult",
    "HardSphereResult",
    "PrimitiveModel",
    "msa_screening",
    "msa_primitive_model",
    "msa_rpm_closed_form",
    "bmcsl_hard_spheres",
    "barker_henderson_diameter",
    "debye_hueckel_primitive",
    "primitive_model",
    "mean_ln_gamma",
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


# --- the primitive model: MSA, BMCSL and Debye-Hueckel on the number-density scale ---------
#
# Densities rho_i in nm^-3, diameters sigma_i in nm, valences z_i, Bjerrum length l_B in nm;
# energies, free energies and chemical potentials in units of kT ("beta U"). Densities of
# ions per volume of the solution: the molar (McMillan-Mayer) scale of an implicit-solvent
# simulation, not the molal scale of the functions above.

def _mixture(densities, diameters, valences):
    """The three per-species arrays, checked: 1-D, one length, finite, rho >= 0, sigma >= 0."""
    rho, sig, z = (np.atleast_1d(np.asarray(v, dtype=np.float64))
                   for v in (densities, diameters, valences))
    if not (rho.ndim == sig.ndim == z.ndim == 1 and rho.shape == sig.shape == z.shape):
        raise ValueError(f"densities, diameters and valences must be 1-D arrays of one "
                         f"length, got shapes {rho.shape}, {sig.shape}, {z.shape}")
    if not (np.all(np.isfinite(rho)) and np.all(np.isfinite(sig)) and np.all(np.isfinite(z))):
        raise ValueError("densities, diameters and valences must be finite")
    if np.any(rho < 0) or np.any(sig < 0):
        raise ValueError("densities and diameters must be >= 0")
    return rho, sig, z


def _packing(rho, sig) -> float:
    """Packing fraction xi_3 = (pi/6) sum_i rho_i sigma_i^3 (< 1 required)."""
    xi3 = math.pi / 6.0 * float(np.sum(rho * sig ** 3))
    if not xi3 < 1.0:
        raise ValueError(f"packing fraction {xi3:.3g} >= 1: the spheres do not fit")
    return xi3


def _msa_coupling(gamma, rho, sig, z, delta):
    """(Omega, P_n, eta) of Blum (1975) at the screening parameter gamma (nm^-1):

        Omega = 1 + (pi / (2 Delta)) sum_k rho_k sigma_k^3 / (1 + Gamma sigma_k)
        P_n   = (1 / Omega) sum_k rho_k sigma_k z_k / (1 + Gamma sigma_k)        (nm^-2)
        eta   = pi P_n / (2 Delta)                                              (nm^-2)

    with Delta = 1 - xi_3. P_n (and eta) vanish when all diameters are equal in a neutral
    mixture: the coupling of charge and size."""
    g = 1.0 + gamma * sig
    omega = 1.0 + math.pi / (2.0 * delta) * float(np.sum(rho * sig ** 3 / g))
    p_n = float(np.sum(rho * sig * z / g)) / omega
    return omega, p_n, math.pi * p_n / (2.0 * delta)


def msa_screening(densities, diameters, valences, bjerrum_nm: float) -> tuple[float, float]:
    """The MSA screening parameter Gamma (nm^-1) and eta = pi P_n / (2 Delta) (nm^-2).

    Gamma is the root of (Blum, Mol. Phys. 30 (1975) 1529, eq. 20 of Blum and Hoye, J. Phys.
    Chem. 81 (1977) 1311)

        Gamma^2 = pi l_B sum_k rho_k [ (z_k - eta sigma_k^2) / (1 + Gamma sigma_k) ]^2,

    solved by bracketing (Brent): Gamma - sqrt(RHS) is negative at 0 and positive for large
    Gamma. Equal diameters sigma give eta = 0 and the closed form
    2 Gamma sigma = sqrt(1 + 2 kappa sigma) - 1 (Waisman and Lebowitz, J. Chem. Phys. 56
    (1972) 3086), kappa^2 = 4 pi l_B sum rho z^2; as rho -> 0, Gamma -> kappa / 2.

    Args:
        densities: number densities rho_i, nm^-3; diameters: sigma_i, nm; valences: z_i.
        bjerrum_nm: Bjerrum length l_B = e^2 / (4 pi eps0 eps_r kT), nm.
    """
    rho, sig, z = _mixture(densities, diameters, valences)
    if not bjerrum_nm > 0:
        raise ValueError(f"bjerrum_nm must be > 0, got {bjerrum_nm}")
    delta = 1.0 - _packing(rho, sig)
    kappa = math.sqrt(4.0 * math.pi * bjerrum_nm * float(np.sum(rho * z * z)))
    if kappa == 0.0:
        return 0.0, 0.0

    def excess(gamma):
        eta = _msa_coupling(gamma, rho, sig, z, delta)[2]
        rhs = math.pi * bjerrum_nm * float(np.sum(rho * ((z - eta * sig ** 2)
                                                          / (1.0 + gamma * sig)) ** 2))
        return gamma - math.sqrt(rhs)

    hi = kappa
    while excess(hi) < 0.0:
        hi *= 2.0
    gamma = brentq(excess, 0.0, hi, xtol=1e-15 * kappa, rtol=1e-15, maxiter=500)
    return gamma, _msa_coupling(gamma, rho, sig, z, delta)[2]


@dataclass(frozen=True)
class MSAResult:
    """The electrostatic (excess over hard spheres) part of the primitive model in the MSA.

    Attributes:
        gamma_per_nm: screening parameter Gamma, nm^-1.
        eta_per_nm2: eta = pi P_n / (2 Delta), nm^-2 (0 for equal diameters).
        energy_per_volume: beta U_el / V, nm^-3.
        energy_per_ion: beta U_el / N (kT per ion, all species counted).
        free_energy_per_volume: beta A_el / V, nm^-3.
        osmotic_excess: phi_el = beta P_el / rho_total (the MSA's part of phi - 1).
        ln_gamma: (S,) ln gamma_i, electrostatic part, number-density scale.
    """

    gamma_per_nm: float
    eta_per_nm2: float
    energy_per_volume: float
    energy_per_ion: float
    free_energy_per_volume: float
    osmotic_excess: float
    ln_gamma: np.ndarray


def msa_primitive_model(densities, diameters, valences, bjerrum_nm: float) -> MSAResult:
    """Thermodynamics of charged hard spheres (the primitive model) in the MSA.

    With Gamma and eta from :func:`msa_screening` (Blum 1975; Blum and Hoye 1977; the forms
    of Simonin, Blum and Turq, J. Phys. Chem. 100 (1996) 7704, eqs. 6-11):

        beta U / V    = -l_B [ Gamma sum_k rho_k z_k^2 / (1 + Gamma sigma_k)
                               + eta sum_k rho_k sigma_k z_k / (1 + Gamma sigma_k) ]
        beta A / V    = beta U / V + Gamma^3 / (3 pi)
        ln gamma_i    = -l_B [ Gamma z_i^2 / (1 + Gamma sigma_i)
                               + eta sigma_i ( (2 z_i - eta sigma_i^2) / (1 + Gamma sigma_i)
                                               + eta sigma_i^2 / 3 ) ]
        phi_el        = -Gamma^3 / (3 pi rho_T) - 2 l_B eta^2 / (pi rho_T)

    (rho_T = sum rho_k). ln gamma_i = d(beta A/V)/d rho_i and phi_el = (sum rho_i ln gamma_i
    - beta A/V) / rho_T, and beta U = l_B d(beta A)/d l_B (charging): the tests hold the
    closed forms to these derivatives numerically. As rho -> 0 they tend to the Debye-Hueckel
    limiting law: beta U/N -> -(l_B kappa / 2) sum x_k z_k^2, ln gamma_i -> -z_i^2 l_B kappa/2,
    phi_el -> -kappa^3 / (24 pi rho_T).

    Args: as for :func:`msa_screening`.
    """
    rho, sig, z = _mixture(densities, diameters, valences)
    gamma, eta = msa_screening(rho, sig, z, bjerrum_nm)
    rho_t = float(np.sum(rho))
    g = 1.0 + gamma * sig
    u_v = -bjerrum_nm * (gamma * float(np.sum(rho * z * z / g))
                         + eta * float(np.sum(rho * sig * z / g)))
    a_v = u_v + gamma ** 3 / (3.0 * math.pi)
    ln_g = -bjerrum_nm * (gamma * z * z / g
                          + eta * sig * ((2.0 * z - eta * sig ** 2) / g + eta * sig ** 2 / 3.0))
    if rho_t > 0:
        u_n = u_v / rho_t
        phi = -(gamma ** 3 / (3.0 * math.pi) + 2.0 * bjerrum_nm * eta ** 2 / math.pi) / rho_t
    else:
        u_n = phi = 0.0
    return MSAResult(gamma, eta, u_v, u_n, a_v, phi, ln_g)


def msa_rpm_closed_form(density_total: float, diameter_nm: float, bjerrum_nm: float,
                        valence: float = 1.0) -> tuple[float, float, float]:
    """The restricted primitive model (a z:z salt, one diameter) in the MSA, in closed form:
    (beta U / N, phi_el, ln gamma_+-) (Waisman and Lebowitz, J. Chem. Phys. 56 (1972) 3086
    and 3093), with x = kappa sigma, kappa^2 = 4 pi l_B rho_T z^2:

        Gamma sigma = (sqrt(1 + 2x) - 1) / 2
        beta U / N  = -z^2 l_B Gamma / (1 + Gamma sigma)
        phi_el      = -Gamma^3 / (3 pi rho_T)
        ln gamma_+- = -z^2 l_B Gamma / (1 + Gamma sigma) = beta U / N

    (ln gamma_+- = beta A / N + phi_el, and beta A / N = beta U / N + Gamma^3 / (3 pi rho_T)
    cancels phi_el exactly.)

    The check of :func:`msa_primitive_model` at equal diameters (tests/test_thermo.py).
    """
    kappa = math.sqrt(4.0 * math.pi * bjerrum_nm * density_total * valence ** 2)
    gs = 0.5 * (math.sqrt(1.0 + 2.0 * kappa * diameter_nm) - 1.0)
    gamma = gs / diameter_nm
    u_n = -valence ** 2 * bjerrum_nm * gamma / (1.0 + gs)
    phi = -gamma ** 3 / (3.0 * math.pi * density_total)
    return u_n, phi, u_n


@dataclass(frozen=True)
class HardSphereResult:
    """A hard-sphere mixture in the BMCSL equation of state.

    Attributes:
        packing_fraction: xi_3 = (pi/6) sum rho_i sigma_i^3.
        pressure_per_kT: beta P, nm^-3 (ideal part included).
        osmotic_excess: beta P / rho_T - 1.
        free_energy_per_volume: beta A_ex / V, nm^-3.
        ln_gamma: (S,) beta mu_i^ex, number-density scale.
    """

    packing_fraction: float
    pressure_per_kT: float
    osmotic_excess: float
    free_energy_per_volume: float
    ln_gamma: np.ndarray


def bmcsl_hard_spheres(densities, diameters) -> HardSphereResult:
    """Hard spheres of several diameters: Boublik-Mansoori-Carnahan-Starling-Leland.

    With xi_n = (pi/6) sum_i rho_i sigma_i^n, D = 1 - xi_3, L = ln(1 - xi_3) (Boublik,
    J. Chem. Phys. 53 (1970) 471; Mansoori, Carnahan, Starling and Leland, J. Chem. Phys. 54
    (1971) 1523):

        beta P     = (6/pi) [ xi_0 / D + 3 xi_1 xi_2 / D^2 + (3 - xi_3) xi_2^3 / D^3 ]
        beta A / V = (6/pi) [ (xi_2^3 / xi_3^2 - xi_0) L + 3 xi_1 xi_2 / D
                              + xi_2^3 / (xi_3 D^2) ]
        beta mu_i  = d(beta A / V) / d rho_i = sum_n (d f / d xi_n) sigma_i^n

    (f the bracket of beta A / V). One diameter gives Carnahan-Starling:
    beta P / rho = (1 + e + e^2 - e^3) / (1 - e)^3, beta mu = (8e - 9e^2 + 3e^3)/(1 - e)^3.

    Args:
        densities: rho_i, nm^-3; diameters: sigma_i, nm (0: a point particle).
    """
    rho, sig, _ = _mixture(densities, diameters, np.zeros_like(np.atleast_1d(densities),
                                                              dtype=np.float64))
    xi3 = _packing(rho, sig)
    rho_t = float(np.sum(rho))
    if xi3 == 0.0:  # point particles (or no particles): an ideal gas
        return HardSphereResult(0.0, rho_t, 0.0, 0.0, np.zeros_like(rho))
    x0, x1, x2 = (math.pi / 6.0 * float(np.sum(rho * sig ** n)) for n in range(3))
    d = 1.0 - xi3
    log_d = math.log1p(-xi3)
    r = x2 ** 3 / xi3 ** 2
    pressure = 6.0 / math.pi * (x0 / d + 3.0 * x1 * x2 / d ** 2 + (3.0 - xi3) * x2 ** 3 / d ** 3)
    a_v = 6.0 / math.pi * ((r - x0) * log_d + 3.0 * x1 * x2 / d + x2 ** 3 / (xi3 * d ** 2))
    df0 = -log_d
    df1 = 3.0 * x2 / d
    df2 = 3.0 * x2 ** 2 / xi3 ** 2 * log_d + 3.0 * x1 / d + 3.0 * x2 ** 2 / (xi3 * d ** 2)
    df3 = (-2.0 * x2 ** 3 / xi3 ** 3 * log_d - (r - x0) / d + 3.0 * x1 * x2 / d ** 2
           - x2 ** 3 / (xi3 ** 2 * d ** 2) + 2.0 * x2 ** 3 / (xi3 * d ** 3))
    ln_g = df0 + df1 * sig + df2 * sig ** 2 + df3 * sig ** 3
    return HardSphereResult(xi3, pressure, pressure / rho_t - 1.0, a_v, ln_g)


def barker_henderson_diameter(sigma_nm, wca_epsilon_kT: float):
    """The hard-sphere diameter equivalent to the WCA repulsion (nm, like sigma_nm).

    d = integral_0^{2^(1/6) sigma} [1 - exp(-u_WCA(r) / kT)] dr (Barker and Henderson,
    J. Chem. Phys. 47 (1967) 4714): the diameter whose hard spheres have the same second
    virial coefficient to first order in the softness. u_WCA/kT depends on r/sigma and
    eps/kT only, so d = sigma f(eps/kT): f = 1.0156 at eps = 1 kT (ionsim's default), 0
    without repulsion. Lorentz mixing of sigma then gives additive d as well.

    Args:
        sigma_nm: WCA diameter(s) sigma, nm (scalar or array).
        wca_epsilon_kT: the WCA strength eps in units of kT (>= 0).
    """
    if not wca_epsilon_kT >= 0:
        raise ValueError(f"wca_epsilon_kT must be >= 0, got {wca_epsilon_kT}")
    return np.asarray(sigma_nm, dtype=np.float64) * _bh_factor(float(wca_epsilon_kT))


def _bh_factor(eps_kT: float) -> float:
    if eps_kT == 0.0:
        return 0.0
    r_cut = 2.0 ** (1.0 / 6.0)

    def integrand(x):
        s6 = x ** -6
        return -math.expm1(-eps_kT * (4.0 * (s6 * s6 - s6) + 1.0))

    # below 0.7 sigma the Boltzmann factor is < exp(-200 eps): the integrand is 1 there
    lo = 0.7
    value, _ = quad(integrand, lo, r_cut, epsabs=1e-13, epsrel=1e-12, limit=200)
    return lo + value


def debye_hueckel_primitive(densities, valences, bjerrum_nm: float,
                            closest_approach_nm: float = 0.0) -> MSAResult:
    """Debye-Hueckel for the primitive model, number-density scale (same fields as the MSA;
    gamma_per_nm holds kappa / 2, eta 0).

    With kappa^2 = 4 pi l_B sum_k rho_k z_k^2 and one closest-approach distance a (Debye and
    Hueckel 1923; McQuarrie, *Statistical Mechanics*, 1976, ch. 15):

        beta U / V = -(l_B kappa / 2) sum_k rho_k z_k^2 / (1 + kappa a)
        ln gamma_i = -z_i^2 l_B kappa / (2 (1 + kappa a))
        phi - 1    = -kappa^3 / (24 pi rho_T) tau(kappa a),
        tau(x)     = (3 / x^3) [1 + x - 1 / (1 + x) - 2 ln(1 + x)]   (tau(0) = 1)

    a = 0 is the limiting law. The free energy is not needed here (free_energy_per_volume
    is NaN).

    Args:
        densities: rho_i, nm^-3; valences: z_i; bjerrum_nm: l_B, nm.
        closest_approach_nm: a, nm (>= 0).
    """
    rho, _, z = _mixture(densities, np.zeros_like(np.atleast_1d(densities), dtype=np.float64),
                         valences)
    if not closest_approach_nm >= 0:
        raise ValueError(f"closest_approach_nm must be >= 0, got {closest_approach_nm}")
    rho_t = float(np.sum(rho))
    kappa = math.sqrt(4.0 * math.pi * bjerrum_nm * float(np.sum(rho * z * z)))
    x = kappa * closest_approach_nm
    u_v = -0.5 * bjerrum_nm * kappa * float(np.sum(rho * z * z)) / (1.0 + x)
    ln_g = -z * z * bjerrum_nm * kappa / (2.0 * (1.0 + x))
    phi = -kappa ** 3 / (24.0 * math.pi * rho_t) * _tau(x) if rho_t > 0 else 0.0
    return MSAResult(0.5 * kappa, 0.0, u_v, u_v / rho_t if rho_t > 0 else 0.0, math.nan,
                     phi, ln_g)


def _tau(x: float) -> float:
    """tau(x) of :func:`debye_hueckel_primitive`; its series below x = 0.01, where the
    closed form loses digits to cancellation."""
    if x < 1e-2:
        return 1.0 - 1.5 * x + 1.8 * x ** 2 - 2.0 * x ** 3 + 15.0 / 7.0 * x ** 4
    return 3.0 / x ** 3 * (1.0 + x - 1.0 / (1.0 + x) - 2.0 * math.log1p(x))


@dataclass(frozen=True)
class PrimitiveModel:
    """MSA + BMCSL for a mixture of charged hard spheres (see :func:`primitive_model`).

    Attributes:
        densities, diameters, valences: the mixture (nm^-3, nm, e).
        bjerrum_nm: l_B, nm.
        msa: the electrostatic part; hard_spheres: the hard-sphere part.
    """

    densities: np.ndarray
    diameters: np.ndarray
    valences: np.ndarray
    bjerrum_nm: float
    msa: MSAResult
    hard_spheres: HardSphereResult

    @property
    def energy_per_ion(self) -> float:
        """beta U_el / N: the electrostatic energy per ion, kT (hard spheres have none)."""
        return self.msa.energy_per_ion

    @property
    def osmotic_coefficient(self) -> float:
        """phi = beta P / rho_T = 1 + phi_HS - 1 + phi_el."""
        return 1.0 + self.hard_spheres.osmotic_excess + self.msa.osmotic_excess

    @property
    def ln_gamma(self) -> np.ndarray:
        """(S,) ln gamma_i = beta mu_i^ex(HS) + ln gamma_i(MSA), number-density scale."""
        return self.hard_spheres.ln_gamma + self.msa.ln_gamma


def primitive_model(densities, diameters, valences, temperature_K: float,
                    eps_r: float) -> PrimitiveModel:
    """The MSA (:func:`msa_primitive_model`) on top of BMCSL hard spheres
    (:func:`bmcsl_hard_spheres`): ln gamma_i, phi and the energy of the primitive model.

    Args:
        densities: rho_i, nm^-3 (1 M = 0.60221 nm^-3; a mM concentration c is
            c * 1e-3 * sim.units.MOLAR_TO_PER_NM3).
        diameters: hard-sphere diameters, nm (for WCA ions, see
            :func:`barker_henderson_diameter`).
        valences: z_i; temperature_K: K; eps_r: the solvent's relative permittivity.
    """
    l_b = bjerrum_length_nm(temperature_K, eps_r)
    rho, sig, z = _mixture(densities, diameters, valences)
    return PrimitiveModel(rho, sig, z, l_b, msa_primitive_model(rho, sig, z, l_b),
                          bmcsl_hard_spheres(rho, sig))


def density_per_nm3(c_mM: float) -> float:
    """Number density (nm^-3) of a concentration in mM."""
    return c_mM * 1e-3 * MOLAR_TO_PER_NM3


def mean_ln_gamma(ln_gamma, group) -> float:
    """ln gamma_+- of a neutral group of ions: the mean of ln gamma_i over its members.

    Args:
        ln_gamma: (S,) per-species ln gamma_i.
        group: species indices, one per ion (e.g. (K, Cl), or (Ca, Cl, Cl) for CaCl2).
    """
    ln_gamma = np.asarray(ln_gamma, dtype=np.float64)
    return float(np.mean([ln_gamma[s] for s in group]))
