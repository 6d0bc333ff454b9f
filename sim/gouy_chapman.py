"""Gouy-Chapman estimates the engine needs before a run: the surface potential of a charged
face and the surface excess of each ion species, for monovalent ions.

These set up a compartment whose `concentration_basis` is `bulk` (:func:`sim.system.
ion_counts`): it gets c_s V + Gamma_s A ions of species s, so that the concentrations far
from the faces come out near the c_s asked for. They are estimates (mean field, point ions,
one semi-infinite double layer per face); the bulk concentration a run really has is
measured (the ``bulk_concentration`` observable, ``analysis.runs.measure().bulk_mM``) and
reported by the analysis. The double-layer analysis itself (analysis.theory.gouy_chapman)
lives above the engine; sim must not import analysis, so the closed forms are here.

Internal units: sigma e/nm^2, number densities nm^-3, lengths nm, kT kJ/mol, potentials as
u = e psi / kT (dimensionless).
"""

from __future__ import annotations

import math

from . import units

__all__ = ["debye_length", "surface_potential", "surface_excess"]


def debye_length(n_total: float, kT: float, eps_r: float) -> float:
    """lambda_D (nm) of a monovalent electrolyte with n_total (nm^-3) cations and as many
    anions: sqrt(eps0 eps_r kT / (2 n_total e^2)) (Debye and Hueckel, Phys. Z. 24 (1923)
    185)."""
    if not n_total > 0:
        raise ValueError(f"the Debye length needs ions: n_total must be > 0, got {n_total}")
    return math.sqrt(units.EPS0 * eps_r * kT / (2.0 * n_total))


def surface_potential(sigma: float, n_total: float, kT: float, eps_r: float) -> float:
    """u0 = e psi_0 / kT at the plane of closest approach of a face of charge density sigma
    (e/nm^2) in a monovalent electrolyte of bulk n_total cations (= anions) per nm^3, from
    the Grahame equation

        sigma = sqrt(8 n_total eps0 eps_r kT) sinh(u0 / 2)

    (Grahame, Chem. Rev. 41 (1947) 441; Israelachvili, Intermolecular and Surface Forces,
    3rd ed., ch. 14, eq. 14.11). psi_0 has the sign of sigma."""
    sigma_star = math.sqrt(8.0 * n_total * units.EPS0 * eps_r * kT)  # e/nm^2
    return 2.0 * math.asinh(sigma / sigma_star)


def surface_excess(sigma: float, densities, valences, kT: float, eps_r: float) -> list[float]:
    """Gamma_s (nm^-2): the ions of each species per unit area that the diffuse layer of one
    face of charge density sigma (e/nm^2) holds beyond the bulk density n_s (nm^-3),

        Gamma_s = n_s int_0^inf (exp(-z_s u(x)) - 1) dx = 2 n_s lambda_D (exp(-z_s u0 / 2) - 1),

    the closed form of the Gouy-Chapman profile tanh(u/4) = tanh(u0/4) exp(-x/lambda_D) for
    monovalent ions z_s = +-1 (Gouy 1910, Chapman 1913; Israelachvili, 3rd ed., ch. 14), x
    from the plane of closest approach; lambda_D and u0 (Grahame, :func:`surface_potential`)
    from the total cation density n_total = sum of n_s over cations, which a neutral bulk
    makes equal to the anions' (a mix of monovalent ions is the 1:1 problem at n_total).
    sum_s z_s Gamma_s = -sigma exactly: the layer balances its face.

    densities, valences: one entry per species (a species absent from the bulk has
    Gamma_s = 0). Raises ValueError for a valence other than +-1 among the species present,
    or a bulk without both signs."""
    if any(n > 0 and abs(z) != 1 for n, z in zip(densities, valences)):
        raise ValueError("the Gouy-Chapman surface excess here is for monovalent ions only")
    cations = sum(n for n, z in zip(densities, valences) if z > 0)
    anions = sum(n for n, z in zip(densities, valences) if z < 0)
    if not (cations > 0 and anions > 0):
        raise ValueError("the Gouy-Chapman surface excess needs a bulk with cations and "
                         "anions")
    n_total = 0.5 * (cations + anions)  # equal for a neutral bulk
    if sigma == 0.0:
        return [0.0 for _ in densities]
    lam = debye_length(n_total, kT, eps_r)
    u0 = surface_potential(sigma, n_total, kT, eps_r)
    return [2.0 * n * lam * math.expm1(-z * u0 / 2.0) if n > 0 else 0.0
            for n, z in zip(densities, valences)]
