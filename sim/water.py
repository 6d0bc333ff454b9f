"""Properties of liquid water that configure a scenario (and that the analysis reuses).

Only fits to measurements live here, each with its range of validity; sim/ and analysis/
both import this module, so each fit exists once.
"""

from __future__ import annotations

KELVIN_AT_0C = 273.15


def relative_permittivity(temperature_K: float) -> float:
    """Static relative permittivity of pure water, from 0 to 100 C (dimensionless).

    eps_r = 87.740 - 0.40008 t + 9.398e-4 t^2 - 1.410e-6 t^3 with t in degrees Celsius
    (Malmberg and Maryott, J. Res. Natl. Bur. Stand. 56 (1956) 1): 78.30 at 25 C, 74.15 at
    37 C. A temperature more than 1 C outside the fit's range raises ValueError (a scenario's
    temperature is bounded to 273.15-373.15 K before this is called).
    """
    t = temperature_K - KELVIN_AT_0C
    if not -1.0 <= t <= 101.0:
        raise ValueError(f"the Malmberg-Maryott fit holds for 0-100 C, got {temperature_K} K")
    return 87.740 - 0.40008 * t + 9.398e-4 * t ** 2 - 1.410e-6 * t ** 3
