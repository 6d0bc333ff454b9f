"""Equilibrium membrane potentials and screening lengths from theory.

Units at this interface: concentrations in mM (mmol/L), temperature in K, potentials in mV,
lengths in nm. The membrane potential is always V_m = V_in - V_out (inside minus outside).
All ions are treated as ideal (activity = concentration); ``analysis.activity`` supplies the
Debye-Hueckel corrections.

Contents
--------
- :func:`nernst_mV`: Nernst equilibrium potential of one species.
- :func:`ghk_voltage_mV`: Goldman-Hodgkin-Katz voltage equation for monovalent ions.
- :func:`donnan_equilibrium` (numerical, general valences, finite or infinite bath) and
  :func:`donnan_exact_1to1` (closed form), both returning a :class:`DonnanEquilibrium`.
- :func:`ionic_strength_mM`, :func:`debye_length_nm`, :func:`bjerrum_length_nm`.
- :func:`gouy_chapman`: the diffuse double layer at a charged plane (a :class:`GouyChapman`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from scipy.optimize import brentq

from sim.observe import debye_length_of_density
from sim.units import (
    BOLTZMANN,
    COULOMB_CONSTANT,
    EPS0,
    MOLAR_TO_PER_NM3,
    thermal_voltage_mV,
)

__all__ = [
    "nernst_mV",
    "ghk_voltage_mV",
    "DonnanEquilibrium",
    "donnan_equilibrium",
    "donnan_exact_1to1",
    "ionic_strength_mM",
    "debye_length_nm",
    "bjerrum_length_nm",
    "GouyChapman",
    "gouy_chapman",
]


def _check_temperature(temperature_K: float) -> None:
    if not temperature_K > 0:
        raise ValueError(f"temperature must be > 0 K, got {temperature_K} K")


def _check_valence(valence: float, what: str = "valence") -> None:
    if valence == 0 or not math.isfinite(valence):
        raise ValueError(f"{what} must be a non-zero number, got {valence}")


# --- Nernst -------------------------------------------------------------------------------

def nernst_mV(c_out_mM: float, c_in_mM: float, valence: float, temperature_K: float) -> float:
    """Nernst equilibrium potential V_in - V_out in mV.

    V = (k_B T / (z e)) ln(c_out / c_in)

    Equal electrochemical potential of the species on both sides,
    kT ln c_in + z e V_in = kT ln c_out + z e V_out, gives the equation above (Nernst,
    Z. phys. Chem. 4 (1889) 129; e.g. Hille, *Ion Channels of Excitable Membranes*, 3rd ed.,
    2001, ch. 1). Example: K+ 150 mM inside, 5 mM outside, 310.15 K gives -90.9 mV.

    Args:
        c_out_mM: concentration outside, mM (> 0).
        c_in_mM: concentration inside, mM (> 0).
        valence: charge number z (e.g. +1 for K+, -1 for Cl-).
        temperature_K: temperature, K.

    Returns:
        The equilibrium membrane potential (inside minus outside), mV.
    """
    _check_temperature(temperature_K)
    _check_valence(valence)
    if not (c_out_mM > 0 and c_in_mM > 0):
        raise ValueError(f"Nernst needs positive concentrations, got c_out={c_out_mM} mM, "
                         f"c_in={c_in_mM} mM")
    return thermal_voltage_mV(temperature_K) / valence * math.log(c_out_mM / c_in_mM)


# --- Goldman-Hodgkin-Katz -----------------------------------------------------------------

def ghk_voltage_mV(permeabilities: Mapping[str, float], c_in: Mapping[str, float],
                   c_out: Mapping[str, float], valences: Mapping[str, float],
                   temperature_K: float) -> float:
    """Goldman-Hodgkin-Katz reversal (resting) potential V_in - V_out in mV.

    V = (k_B T / e) ln( (sum_cations P_i c_out,i + sum_anions P_j c_in,j)
                        / (sum_cations P_i c_in,i + sum_anions P_j c_out,j) )

    Zero net current of independent ions, each crossing a constant field (Goldman, J. Gen.
    Physiol. 27 (1943) 37; Hodgkin and Katz, J. Physiol. 108 (1949) 37). Only the ratios of
    the permeabilities matter. Example: the textbook mammalian set (K+ 140/5, Na+ 15/145,
    Cl- 10/110 mM in/out) with P_K : P_Na : P_Cl = 1 : 0.04 : 0.45 gives -67.3 mV at 310.15 K.

    Args:
        permeabilities: species name -> permeability (any unit, relative values are fine;
            >= 0, not all zero). Only species named here enter the sum.
        c_in: species name -> concentration inside, mM.
        c_out: species name -> concentration outside, mM.
        valences: species name -> charge number; only +1 and -1 are allowed, because with
            other valences the zero-current condition is no longer this closed form.
        temperature_K: temperature, K.

    Returns:
        The potential at which the net current is zero, mV.

    Raises:
        ValueError: a valence other than +/-1, a missing species, a negative value, or
            numerator/denominator zero (no permeant ion on one side).
    """
    _check_temperature(temperature_K)
    numerator = 0.0
    denominator = 0.0
    for name, perm in permeabilities.items():
        for table, label in ((c_in, "c_in"), (c_out, "c_out"), (valences, "valences")):
            if name not in table:
                raise ValueError(f"GHK: species {name!r} has a permeability but no entry in "
                                 f"{label}")
        z = valences[name]
        if z not in (1, -1):
            raise ValueError(f"GHK voltage equation is for monovalent ions only; species "
                             f"{name!r} has valence {z} (use valence +1 or -1)")
        if perm < 0 or c_in[name] < 0 or c_out[name] < 0:
            raise ValueError(f"GHK: species {name!r} has a negative permeability or "
                             f"concentration")
        if z == 1:
            numerator += perm * c_out[name]
            denominator += perm * c_in[name]
        else:
            numerator += perm * c_in[name]
            denominator += perm * c_out[name]
    if numerator <= 0 or denominator <= 0:
        raise ValueError("GHK: no permeant ion on one side (a sum of P*c is zero), the "
                         "potential is unbounded")
    return thermal_voltage_mV(temperature_K) * math.log(numerator / denominator)


# --- Donnan -------------------------------------------------------------------------------

def _exp(x: float) -> float:
    """exp that saturates at e^700 instead of overflowing while a bracket is widened."""
    return math.exp(min(x, 700.0))


@dataclass(frozen=True)
class DonnanEquilibrium:
    """Donnan equilibrium across a membrane permeable to some ions only.

    Attributes:
        c_in_mM: permeant species -> equilibrium concentration inside, mM (read-only map).
        c_out_mM: permeant species -> equilibrium concentration outside, mM (read-only map).
        potential_mV: Donnan potential V_in - V_out, mV.
        donnan_ratio: r = exp(-e V / kT); every permeant species obeys c_in/c_out = r^z.
        impermeant_mM: concentration of the impermeant species inside, mM.
        impermeant_valence: its charge number.
        osmotic_excess_mM: total solute concentration inside minus outside (mM, ideal
            van 't Hoff): the osmotic imbalance a Donnan system carries.
    """

    c_in_mM: Mapping[str, float]
    c_out_mM: Mapping[str, float]
    potential_mV: float
    donnan_ratio: float
    impermeant_mM: float
    impermeant_valence: float
    osmotic_excess_mM: float


def _make_result(c_in, c_out, u, impermeant_mM, impermeant_valence, temperature_K):
    return DonnanEquilibrium(
        c_in_mM=MappingProxyType(dict(c_in)),
        c_out_mM=MappingProxyType(dict(c_out)),
        potential_mV=u * thermal_voltage_mV(temperature_K),
        donnan_ratio=math.exp(-u),
        impermeant_mM=impermeant_mM,
        impermeant_valence=impermeant_valence,
        osmotic_excess_mM=sum(c_in.values()) + impermeant_mM - sum(c_out.values()),
    )


def donnan_equilibrium(valences: Mapping[str, float], c_out_mM: Mapping[str, float],
                       impermeant_mM: float, impermeant_valence: float,
                       temperature_K: float, c_in_mM: Mapping[str, float] | None = None,
                       volume_ratio_out_in: float = math.inf,
                       neutrality_tol_mM: float = 1e-6) -> DonnanEquilibrium:
    """Donnan equilibrium, solved numerically for any valences and volumes.

    Model (Donnan, Z. Elektrochem. 17 (1911) 572; e.g. Keener and Sneyd, *Mathematical
    Physiology*, 2nd ed., 2009, ch. 2): the inside holds an impermeant species
    (concentration c_A, valence z_A) and permeant species i (valence z_i) that cross freely
    until each is at electrochemical equilibrium, c_in,i = c_out,i exp(-z_i u) with
    u = e V / kT and V = V_in - V_out. Each compartment is electroneutral (the membrane
    capacitor's charge is some 1e-5 of the ions, see ``analysis.cell``), so u solves

        f(u) = sum_i z_i c_in,i(u) + z_A c_A = 0,

    where, with volumes fixed (volume ratio rho = V_out/V_in, totals per inside volume
    N_i = c_in,i^0 + rho c_out,i^0),

        c_in,i(u) = N_i / (1 + rho exp(z_i u)),   c_out,i(u) = N_i / (rho + exp(-z_i u)),

    and with an infinite bath (rho = inf) c_out,i is fixed and c_in,i = c_out,i exp(-z_i u).
    Every term z_i c_in,i(u) decreases with u, so f is monotonic and has exactly one root when
    any exists; it is bracketed and found with Brent's method (scipy.optimize.brentq) to
    |du| < 1e-13.

    Args:
        valences: permeant species -> charge number (non-zero).
        c_out_mM: permeant species -> outside concentration, mM: the bath (infinite bath)
            or the initial outside state (finite volumes). Must be electroneutral for an
            infinite bath.
        impermeant_mM: impermeant species inside, mM (>= 0).
        impermeant_valence: its charge number (e.g. -1 for a monovalent organic anion).
        temperature_K: temperature, K.
        c_in_mM: permeant species -> initial inside concentration, mM; required for finite
            volumes (with the impermeant species it must make the whole system neutral),
            ignored for an infinite bath.
        volume_ratio_out_in: V_out / V_in (> 0); ``math.inf`` (default) for an infinite bath.
        neutrality_tol_mM: how far from electroneutral the input may be, mM of charge.

    Returns:
        A :class:`DonnanEquilibrium`.

    Raises:
        ValueError: a non-neutral input (the message gives the excess charge), or no
            equilibrium (too few permeant counter-ions to neutralise the impermeant charge).
    """
    _check_temperature(temperature_K)
    _check_valence(impermeant_valence, "impermeant_valence")
    if impermeant_mM < 0:
        raise ValueError(f"impermeant_mM must be >= 0, got {impermeant_mM}")
    if not volume_ratio_out_in > 0:
        raise ValueError(f"volume_ratio_out_in must be > 0, got {volume_ratio_out_in}")
    names = list(valences)
    for name in names:
        _check_valence(valences[name], f"valence of {name!r}")
        if name not in c_out_mM:
            raise ValueError(f"Donnan: species {name!r} has no c_out_mM entry")
        if c_out_mM[name] < 0:
            raise ValueError(f"Donnan: negative c_out_mM for {name!r}")
    z = {n: float(valences[n]) for n in names}
    fixed_charge = impermeant_valence * impermeant_mM  # mM of elementary charges, inside
    infinite = math.isinf(volume_ratio_out_in)

    if infinite:
        excess = sum(z[n] * c_out_mM[n] for n in names)
        if abs(excess) > neutrality_tol_mM:
            raise ValueError(f"Donnan: the bath is not electroneutral: net charge "
                             f"{excess:+.6g} mM (sum of z*c_out)")

        def c_in_of(u):
            return {n: c_out_mM[n] * _exp(-z[n] * u) for n in names}

        def c_out_of(u):
            return {n: float(c_out_mM[n]) for n in names}
    else:
        if c_in_mM is None:
            raise ValueError("Donnan with finite volumes needs the initial c_in_mM")
        rho = float(volume_ratio_out_in)
        for name in names:
            if name not in c_in_mM or c_in_mM[name] < 0:
                raise ValueError(f"Donnan: species {name!r} needs c_in_mM >= 0")
        excess = (fixed_charge + sum(z[n] * c_in_mM[n] for n in names)
                  + rho * sum(z[n] * c_out_mM[n] for n in names))
        if abs(excess) > neutrality_tol_mM:
            raise ValueError(f"Donnan: the system is not electroneutral: net charge "
                             f"{excess:+.6g} mM per inside volume")
        total = {n: c_in_mM[n] + rho * c_out_mM[n] for n in names}

        def c_in_of(u):
            return {n: total[n] / (1.0 + rho * _exp(z[n] * u)) for n in names}

        def c_out_of(u):
            return {n: total[n] / (rho + _exp(-z[n] * u)) for n in names}

    def imbalance(u):
        return fixed_charge + sum(z[n] * c for n, c in c_in_of(u).items())

    # f decreases with u: widen [lo, hi] until it changes sign. Beyond |u| ~ 700/|z| the
    # exponentials saturate, so a bracket not found by then does not exist.
    zmax = max([abs(v) for v in z.values()] + [1.0])
    lo, hi = -1.0, 1.0
    while imbalance(lo) < 0 or imbalance(hi) > 0:
        if hi * zmax > 700:
            raise ValueError("Donnan: no equilibrium exists: the permeant ions cannot "
                             "neutralise the impermeant charge "
                             f"({fixed_charge:+.6g} mM) inside")
        lo, hi = 2 * lo, 2 * hi
    if imbalance(lo) == 0:
        u = lo
    elif imbalance(hi) == 0:
        u = hi
    else:
        u = brentq(imbalance, lo, hi, xtol=1e-13, maxiter=500)
    return _make_result(c_in_of(u), c_out_of(u), u, impermeant_mM, impermeant_valence,
                        temperature_K)


def donnan_exact_1to1(c_bath_mM: float, impermeant_mM: float, impermeant_valence: float,
                      temperature_K: float, cation: str = "K",
                      anion: str = "Cl") -> DonnanEquilibrium:
    """Donnan equilibrium in closed form: 1:1 salt, infinite bath.

    A bath of a monovalent salt (cation z = +1, anion z = -1, both at c) faces an inside that
    also holds an impermeant species (c_A, z_A). Equilibrium of each permeant ion gives the
    Donnan product c_+^in c_-^in = c^2 (since c_+^in / c = r and c_-^in / c = 1/r), and
    electroneutrality inside, c_+^in - c_-^in + z_A c_A = 0. Eliminating c_-^in = c^2 / c_+^in:

        (c_+^in)^2 + z_A c_A c_+^in - c^2 = 0
        c_+^in = ( -z_A c_A + sqrt(z_A^2 c_A^2 + 4 c^2) ) / 2      (the positive root)
        c_-^in = c^2 / c_+^in = ( z_A c_A + sqrt(z_A^2 c_A^2 + 4 c^2) ) / 2
        V = (kT / e) ln(c / c_+^in)

    (e.g. Keener and Sneyd, *Mathematical Physiology*, 2nd ed., 2009, ch. 2). Example: c = 100 mM,
    c_A = 100 mM, z_A = -1 gives c_+^in = 50 (1 + sqrt 5) = 161.8 mM, c_-^in = 61.8 mM and
    V = -(kT/e) ln((1 + sqrt 5)/2) = -12.86 mV at 310.15 K.

    Args:
        c_bath_mM: salt concentration of the bath, mM (> 0).
        impermeant_mM: impermeant species inside, mM (>= 0).
        impermeant_valence: its charge number (any non-zero value).
        temperature_K: temperature, K.
        cation, anion: names used as keys of the result's concentration maps.

    Returns:
        A :class:`DonnanEquilibrium`.
    """
    _check_temperature(temperature_K)
    _check_valence(impermeant_valence, "impermeant_valence")
    if not c_bath_mM > 0 or impermeant_mM < 0:
        raise ValueError("donnan_exact_1to1 needs c_bath_mM > 0 and impermeant_mM >= 0")
    q = impermeant_valence * impermeant_mM
    root = math.sqrt(q * q + 4.0 * c_bath_mM ** 2)
    # Each of the two forms below avoids the cancellation the other suffers for large |q|.
    if q <= 0:
        c_plus = (-q + root) / 2.0
        c_minus = c_bath_mM ** 2 / c_plus
    else:
        c_minus = (q + root) / 2.0
        c_plus = c_bath_mM ** 2 / c_minus
    u = math.log(c_bath_mM / c_plus)
    return _make_result({cation: c_plus, anion: c_minus},
                        {cation: c_bath_mM, anion: c_bath_mM},
                        u, impermeant_mM, impermeant_valence, temperature_K)


# --- screening ----------------------------------------------------------------------------

def ionic_strength_mM(concentrations_mM: Mapping[str, float],
                      valences: Mapping[str, float]) -> float:
    """Ionic strength I = (1/2) sum_i c_i z_i^2, in mM.

    Args:
        concentrations_mM: species -> concentration, mM.
        valences: species -> charge number (every species in ``concentrations_mM``).
    """
    total = 0.0
    for name, conc in concentrations_mM.items():
        if name not in valences:
            raise ValueError(f"ionic strength: species {name!r} has no valence")
        if conc < 0:
            raise ValueError(f"ionic strength: negative concentration for {name!r}")
        total += conc * valences[name] ** 2
    return 0.5 * total


def bjerrum_length_nm(temperature_K: float, eps_r: float) -> float:
    """Bjerrum length l_B = e^2 / (4 pi eps0 eps_r k_B T), nm.

    The distance at which two elementary charges interact with k_B T; 0.714 nm in water at
    25 C (eps_r 78.4), e.g. Israelachvili, *Intermolecular and Surface Forces*, 3rd ed.
    """
    _check_temperature(temperature_K)
    if not eps_r > 0:
        raise ValueError(f"eps_r must be > 0, got {eps_r}")
    return COULOMB_CONSTANT / (eps_r * BOLTZMANN * temperature_K)


def debye_length_nm(ionic_strength_mM: float, temperature_K: float, eps_r: float) -> float:
    """Debye screening length, nm.

    lambda_D = sqrt( eps0 eps_r k_B T / (sum_i n_i z_i^2 e^2) ) = sqrt( eps0 eps_r k_B T /
    (2 N_A e^2 I) ), with n_i the number densities and I the ionic strength (Debye and
    Hueckel, Phys. Z. 24 (1923) 185). Check: 0.304 nm / sqrt(I / 1 M) for a 1:1 salt in water
    at 25 C (Israelachvili, *Intermolecular and Surface Forces*, 3rd ed., ch. 14).

    Args:
        ionic_strength_mM: ionic strength, mM (> 0; see :func:`ionic_strength_mM`).
        temperature_K: temperature, K.
        eps_r: relative permittivity of the solvent (78.4 for water at 25 C).
    """
    _check_temperature(temperature_K)
    if not ionic_strength_mM > 0:
        raise ValueError(f"the Debye length needs an ionic strength > 0, got "
                         f"{ionic_strength_mM} mM")
    if not eps_r > 0:
        raise ValueError(f"eps_r must be > 0, got {eps_r}")
    # sum_i n_i z_i^2 = 2 I, converted from mM to number per nm^3; internal units throughout.
    sum_n_z2 = 2.0 * ionic_strength_mM * 1e-3 * MOLAR_TO_PER_NM3
    return debye_length_of_density(sum_n_z2, BOLTZMANN * temperature_K, eps_r)


# --- Gouy-Chapman --------------------------------------------------------------------------

@dataclass(frozen=True)
class GouyChapman:
    """The Poisson-Boltzmann double layer of a uniformly charged plane in a 1:1 electrolyte.

    x is the distance (nm) from the plane of closest approach of the ions (the charge sits
    there, or a charge-free Stern gap lies in front of it); psi(x) is the potential relative
    to the bulk, u = e psi / kT:

        tanh(u(x) / 4) = tanh(u0 / 4) exp(-x / lambda_D),   u0 = 2 asinh(sigma / sigma*),
        sigma* = sqrt(8 n0 eps0 eps_r kT),

    n0 the bulk number density of each sign (Gouy 1910, Chapman 1913; e.g. Israelachvili,
    *Intermolecular and Surface Forces*, 3rd ed., eq. 14.9-14.11). Valid for monovalent ions
    of any mix (n0 = total cations = total anions), point ions, mean field.

    Attributes: sigma_e_per_nm2, c0_mM, temperature_K, eps_r (inputs), debye_length_nm,
    surface_potential_mV (psi(0)), sigma_star_e_per_nm2.
    """

    sigma_e_per_nm2: float
    c0_mM: float
    temperature_K: float
    eps_r: float
    debye_length_nm: float
    surface_potential_mV: float
    sigma_star_e_per_nm2: float

    @property
    def _u0(self) -> float:
        return self.surface_potential_mV / thermal_voltage_mV(self.temperature_K)

    def potential_mV(self, x_nm):
        """psi(x) - psi(bulk) in mV, x >= 0 nm (array or float)."""
        import numpy as np
        x = np.asarray(x_nm, dtype=float)
        u = 4.0 * np.arctanh(math.tanh(self._u0 / 4.0) * np.exp(-x / self.debye_length_nm))
        return u * thermal_voltage_mV(self.temperature_K)

    def concentration_mM(self, x_nm, valence: int):
        """c(x) = c0 exp(-valence e psi / kT) of a monovalent species, mM."""
        import numpy as np
        u = self.potential_mV(x_nm) / thermal_voltage_mV(self.temperature_K)
        return self.c0_mM * np.exp(-valence * u)


def gouy_chapman(sigma_e_per_nm2: float, c0_mM: float, temperature_K: float,
                 eps_r: float) -> GouyChapman:
    """The Gouy-Chapman double layer (see :class:`GouyChapman`).

    Args:
        sigma_e_per_nm2: surface charge density of the plane, e/nm^2 (negative for a
            negatively charged face).
        c0_mM: bulk concentration of the 1:1 electrolyte (of each sign), mM, > 0.
        temperature_K: temperature, K.
        eps_r: relative permittivity of the solvent.
    """
    _check_temperature(temperature_K)
    if not c0_mM > 0:
        raise ValueError(f"Gouy-Chapman needs a bulk concentration > 0 mM, got {c0_mM}")
    if not eps_r > 0:
        raise ValueError(f"eps_r must be > 0, got {eps_r}")
    n0 = c0_mM * 1e-3 * MOLAR_TO_PER_NM3
    kT = BOLTZMANN * temperature_K
    sigma_star = math.sqrt(8.0 * n0 * EPS0 * eps_r * kT)  # e/nm^2
    u0 = 2.0 * math.asinh(sigma_e_per_nm2 / sigma_star)
    return GouyChapman(sigma_e_per_nm2, c0_mM, temperature_K, eps_r,
                       debye_length_nm(c0_mM, temperature_K, eps_r),
                       u0 * thermal_voltage_mV(temperature_K), sigma_star)


def mullins_noda_mV(p_k: float, p_na: float, c_in: Mapping[str, float],
                    c_out: Mapping[str, float], temperature_K: float,
                    ratio: float = 1.5) -> float:
    """The pump-leak steady-state potential V_in - V_out in mV (Mullins and Noda, J. Gen.
    Physiol. 47 (1963) 117):

        V = (k_B T / e) ln( (r P_K [K]o + P_Na [Na]o) / (r P_K [K]i + P_Na [Na]i) )

    where a pump moving 3 Na+ out for 2 K+ in (r = 3/2) balances the GHK leaks of K+ and
    Na+ (the other ions at equilibrium or impermeant). r = 1 gives the GHK voltage of the
    two ions; the electrogenic pump (r > 1) makes V more negative.

    Args:
        p_k, p_na: permeabilities (any one unit; only their ratio matters), >= 0.
        c_in, c_out: "K+" and "Na+" -> concentration, mM.
        temperature_K: K. ratio: the pump's Na+ : K+ stoichiometry, 3/2.
    """
    _check_temperature(temperature_K)
    num = ratio * p_k * c_out["K+"] + p_na * c_out["Na+"]
    den = ratio * p_k * c_in["K+"] + p_na * c_in["Na+"]
    if not (num > 0 and den > 0):
        raise ValueError("the pump-leak potential needs K+ or Na+ permeant on both sides")
    return thermal_voltage_mV(temperature_K) * math.log(num / den)
