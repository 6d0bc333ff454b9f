"""Observables computed from the instantaneous state (all cheap, O(N) Numba loops).

The membrane potential is measured, never imposed: V_m = phi_bar(inside bulk) -
phi_bar(outside bulk), with phi_bar the solution of the 1-D Poisson equation with eps(z) for
the laterally averaged charge (sim.forces.membrane_field). "Bulk" is the middle of each
compartment: a window that keeps `BULK_MARGIN_DEBYE` Debye lengths from either membrane
face (at most 40% of the depth on each side).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import units
from .scenario import Scenario

BULK_MARGIN_DEBYE = 3.0


def debye_length_of_density(sum_n_z2: float, kT: float, eps_r: float) -> float:
    """Debye screening length (nm), the one definition (analysis.theory uses it too):

        lambda_D = sqrt(eps0 eps_r kT / sum_i n_i z_i^2)

    (Debye and Hueckel, Phys. Z. 24 (1923) 185), in internal units: sum_n_z2 the number
    densities n_i (nm^-3) times the squared valences, > 0; kT in kJ/mol; eps_r the
    solvent's relative permittivity; eps0 in e^2 mol / (kJ nm)."""
    return math.sqrt(units.EPS0 * eps_r * kT / sum_n_z2)


def debye_length(scenario: Scenario, compartment: int) -> float:
    """Debye length (nm) of a compartment's initial electrolyte (math.inf with no ions):
    :func:`debye_length_of_density` of its concentrations c_i (nm^-3) and valences z_i."""
    valence = {s.name: s.valence for s in scenario.species}
    strength = sum(c * valence[n] ** 2 for n, c in scenario.compartments[compartment]
                   .concentrations)
    if strength <= 0:
        return math.inf
    return debye_length_of_density(strength, scenario.kT, scenario.solvent_permittivity)


def bulk_windows(scenario: Scenario) -> np.ndarray:
    """(K, 2) z-ranges (nm) of each compartment's bulk region."""
    windows = []
    for k, (lo, hi) in enumerate(scenario.compartment_bounds()):
        if not scenario.membranes:
            windows.append((lo, hi))
            continue
        margin = min(BULK_MARGIN_DEBYE * debye_length(scenario, k), 0.4 * (hi - lo))
        windows.append((lo + margin, hi - margin))
    return np.array(windows, dtype=np.float64)


@njit(cache=True)
def count_by_compartment(comp, species, n_comp, n_species, out):
    """out[k, s] = number of ions of species s whose compartment label is k."""
    out[:, :] = 0
    for i in range(comp.shape[0]):
        if comp[i] >= 0:
            out[comp[i], species[i]] += 1


@njit(cache=True)
def count_in_windows(pos, species, windows, out):
    """out[k, s] = ions of species s with z inside window k."""
    out[:, :] = 0
    for i in range(pos.shape[0]):
        z = pos[i, 2]
        for k in range(windows.shape[0]):
            if windows[k, 0] <= z < windows[k, 1]:
                out[k, species[i]] += 1
                break


@njit(cache=True)
def accumulate_profile(pos, species, bin_width, hist):
    """hist[s, b] += 1 for each ion of species s in z-bin b (bins of bin_width nm from 0)."""
    nbins = hist.shape[1]
    for i in range(pos.shape[0]):
        b = int(pos[i, 2] / bin_width)
        if b >= nbins:
            b = nbins - 1
        hist[species[i], b] += 1


def advance_unwrapped(sim, n_steps: int, every: int) -> np.ndarray:
    """Advance `sim` by n_steps (in chunks of `every`) and return each ion's displacement
    (N, 3) nm over them, unwrapped across the periodic box.

    `every` must be short enough that no ion moves half a box edge between looks (the
    minimum image of each chunk's displacement is taken). Used for mean squared
    displacements: D = <|dr|^2> / (6 t)."""
    box = sim.geometry.box
    prev = sim.ions.pos.copy()
    moved = np.zeros_like(prev)
    for _ in range(n_steps // every):
        sim.advance(every)
        d = sim.ions.pos - prev
        d -= box * np.round(d / box)
        moved += d
        prev = sim.ions.pos.copy()
    return moved
