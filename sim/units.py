"""Physical constants and unit parsing.

ionsim works internally in the GROMACS/OpenMM unit set:

========== ===================
quantity   internal unit
========== ===================
length     nm
time       ps
energy     kJ/mol
charge     e (elementary charge)
temperature K
========== ===================

Derived internal units: concentration nm^-3 (number density), diffusion coefficient
nm^2/ps, electric potential kJ/(mol e). Conversion happens only at the edges: scenario
files carry units in their values ("150 mM", "2 ps") and reports are printed in mV, mM, ns.

Constants are CODATA 2018 (exact SI values for k_B, N_A, e).
"""

from __future__ import annotations

import math
import re

from .yaml_input import brief

# --- constants (internal units) -----------------------------------------------------------
AVOGADRO = 6.02214076e23  # 1/mol
BOLTZMANN = 0.0083144626  # kJ/(mol K)
ELEMENTARY_CHARGE = 1.602176634e-19  # C
FARADAY = 96485.33212  # C/mol
VACUUM_PERMITTIVITY = 8.8541878128e-12  # F/m (SI, for reporting capacitances)
COULOMB_CONSTANT = 138.935458  # kJ nm / (mol e^2) = 1/(4 pi eps0) in internal units
EPS0 = 1.0 / (4.0 * math.pi * COULOMB_CONSTANT)  # e^2 mol / (kJ nm), eps0 in internal units

# --- conversions ---------------------------------------------------------------------------
MV_PER_KJ_MOL_E = 1.0e6 / FARADAY  # 1 kJ/(mol e) = 10.3643 mV
MOLAR_TO_PER_NM3 = AVOGADRO * 1e-24  # 1 mol/L = 0.60221 nm^-3
PER_NM3_TO_MM = 1e3 / MOLAR_TO_PER_NM3  # number density nm^-3 -> mM
NM2_PER_PS_PER_M2_PER_S = 1e6  # 1 m^2/s = 1e6 nm^2/ps
PS_PER_NS = 1e3


def kT(temperature_K: float) -> float:
    """Thermal energy k_B T in kJ/mol for a temperature in K."""
    return BOLTZMANN * temperature_K


def thermal_voltage_mV(temperature_K: float) -> float:
    """k_B T / e in mV (RT/F): 26.73 mV at 310.15 K."""
    return kT(temperature_K) * MV_PER_KJ_MOL_E


def capacitance_uF_per_cm2(c_internal: float) -> float:
    """Convert a capacitance per area from e / (kJ/(mol e) nm^2) to uF/cm^2.

    One e per (kJ/(mol e)) per nm^2 is 1.602e-19 C / 0.0103643 V / 1e-14 cm^2.
    """
    farad_per_cm2 = ELEMENTARY_CHARGE / (MV_PER_KJ_MOL_E * 1e-3) / 1e-14
    return c_internal * farad_per_cm2 * 1e6


# --- parsing -------------------------------------------------------------------------------
# Each dimension maps accepted unit spellings to the factor that converts to internal units.
UNITS: dict[str, dict[str, float]] = {
    "length": {"nm": 1.0, "A": 0.1, "Å": 0.1, "angstrom": 0.1, "pm": 1e-3, "um": 1e3,
               "µm": 1e3, "mm": 1e6, "m": 1e9},
    "area": {"nm^2": 1.0, "A^2": 1e-2, "um^2": 1e6, "m^2": 1e18},
    "time": {"fs": 1e-3, "ps": 1.0, "ns": 1e3, "us": 1e6, "µs": 1e6, "ms": 1e9, "s": 1e12},
    "temperature": {"K": 1.0},
    "concentration": {"M": MOLAR_TO_PER_NM3, "mol/L": MOLAR_TO_PER_NM3,
                      "mM": 1e-3 * MOLAR_TO_PER_NM3, "uM": 1e-6 * MOLAR_TO_PER_NM3,
                      "µM": 1e-6 * MOLAR_TO_PER_NM3, "nM": 1e-9 * MOLAR_TO_PER_NM3,
                      "nm^-3": 1.0},
    "diffusion": {"m^2/s": 1e6, "cm^2/s": 1e2, "um^2/s": 1e-6, "µm^2/s": 1e-6,
                  "nm^2/ps": 1.0, "nm^2/ns": 1e-3, "A^2/ps": 1e-2},
    "energy": {"kJ/mol": 1.0, "kcal/mol": 4.184, "J/mol": 1e-3},
    "voltage": {"mV": 1.0 / MV_PER_KJ_MOL_E, "V": 1e3 / MV_PER_KJ_MOL_E,
                "kJ/mol/e": 1.0},
    # rates of agents (pump turnover, gating transitions), internal 1/ps
    "rate": {"/ps": 1.0, "1/ps": 1.0, "ps^-1": 1.0, "/ns": 1e-3, "1/ns": 1e-3, "ns^-1": 1e-3,
             "/us": 1e-6, "1/us": 1e-6, "/ms": 1e-9, "1/ms": 1e-9, "/s": 1e-12,
             "1/s": 1e-12, "s^-1": 1e-12, "Hz": 1e-12},
    "surface_charge": {"e/nm^2": 1.0, "C/m^2": 1e-18 / ELEMENTARY_CHARGE,
                       "uC/cm^2": 1e-2 * 1e-18 / ELEMENTARY_CHARGE},
}

# The unit each dimension is reported in when a resolved scenario is written back.
CANONICAL_UNIT = {"length": "nm", "area": "nm^2", "time": "ps", "temperature": "K",
                  "concentration": "mM", "diffusion": "m^2/s", "energy": "kJ/mol",
                  "voltage": "mV", "surface_charge": "e/nm^2",
                  "rate": "1/ns"}

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([^\s].*?)?\s*$")


class UnitError(ValueError):
    """A value in a scenario lacks a unit, has an unknown one, or one of the wrong dimension."""


MAX_QUANTITY_CHARS = 100  # "150 mM" is 6; a longer text is a mistake (and bounds the regex)


def parse_quantity(value, dimension: str) -> float:
    """Parse ``"150 mM"``-style text into internal units of ``dimension``.

    A bare number is refused (the message names the units that would be accepted) because
    an implicit unit is the commonest source of silently wrong physics. So is a value that
    is not finite ('1e999 nm', or one that overflows on conversion). Messages quote at most
    a short prefix of what was written.
    """
    accepted = UNITS[dimension]
    hint = ", ".join(accepted)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UnitError(f"expected a {dimension} with a unit ({hint}), got {brief(value)}")
    if isinstance(value, (int, float)):
        if value == 0:
            return 0.0
        raise UnitError(f"missing unit: write e.g. '{brief(value, 30)} "
                        f"{CANONICAL_UNIT[dimension]}' (a {dimension} in {hint})")
    if len(value) > MAX_QUANTITY_CHARS:
        raise UnitError(f"{brief(value, 30)} is {len(value)} characters long; a {dimension} "
                        f"is a number and a unit ({hint})")
    match = _QUANTITY.match(value)
    if not match:
        raise UnitError(f"cannot read {brief(value)} as a {dimension}: expected a number and "
                        f"a unit ({hint})")
    number, unit = float(match.group(1)), match.group(2)
    if unit is None:
        if number == 0:
            return 0.0
        raise UnitError(f"missing unit in {brief(value)}: write e.g. "
                        f"'{match.group(1)} {CANONICAL_UNIT[dimension]}' (a {dimension} in {hint})")
    unit = unit.replace("**", "^").replace(" ", "")
    if unit in accepted:
        result = number * accepted[unit]
        if not math.isfinite(result):
            raise UnitError(f"{brief(value)} is not a finite {dimension}")
        return result
    for other, table in UNITS.items():
        if unit in table:
            raise UnitError(f"{brief(value)} is a {other}, but a {dimension} is needed ({hint})")
    raise UnitError(f"unknown unit {brief(unit)} in {brief(value)}: a {dimension} takes {hint}")


def format_quantity(value_internal: float, dimension: str) -> str:
    """Write an internal-unit value back as text that parses to exactly the same float.

    The dimension's canonical unit is used when the shortest decimal in it round-trips
    bit for bit; otherwise the internal unit (conversion factor 1) is, so that a resolved
    scenario reproduces its run exactly.
    """
    unit = CANONICAL_UNIT[dimension]
    text = f"{value_internal / UNITS[dimension][unit]!r} {unit}"
    if parse_quantity(text, dimension) == value_internal:
        return text
    internal = next(u for u, f in UNITS[dimension].items() if f == 1.0)
    return f"{value_internal!r} {internal}"


def display_quantity(value_internal: float, dimension: str) -> str:
    """A short, human-readable rendering ('0 ps', '4.5 nm') for messages."""
    unit = CANONICAL_UNIT[dimension]
    return f"{value_internal / UNITS[dimension][unit]:g} {unit}"
