"""Coulomb interactions of the ions, assembled from the force kernels.

Total electrostatic energy (DESIGN section 4):

    U = U_real + U_reciprocal + U_self            Ewald sum, uniform permittivity eps_w
        - U_1D[eps_w] + U_1D[eps(z)]              the laterally averaged (kx = ky = 0) part
                                                  redone with the membrane's low eps

Ewald splitting: real space (erfc, cut-off, cell lists; fused with WCA in
sim.forces.short_range), reciprocal space by smooth particle-mesh Ewald
(sim.forces.ewald), parameters tuned for the requested RMS relative force error
(sim.forces.ewald_tuning). The 1-D correction (sim.forces.membrane_field) gives the
membrane its capacitance eps0 eps_m / d. The same 1-D solver measures the membrane potential.
"""

from __future__ import annotations

import numpy as np

from . import units
from .forces.ewald import SPME, self_energy
from .forces.ewald_tuning import EwaldParameters, tune_ewald
from .forces.membrane_field import (MembraneFieldCorrection, window_mean_potentials,
                                   with_sheets)
from .forces.overlap import pairs_and_mesh, worth_overlapping
from .forces.short_range import ShortRangeForces
from .forces.term import ForceTerm
from .scenario import Scenario


class _PairTermBase(ForceTerm):
    """A term whose `impl` is the pair forces (sim.forces.short_range.ShortRangeForces)."""
    impl: ShortRangeForces

    @property
    def pair_forces(self) -> ShortRangeForces:
        return self.impl


class PairTerm(_PairTermBase):
    """WCA and real-space Coulomb over the Verlet list (sim.forces.short_range)."""
    name = "short_range"
    energy_names = ("wca", "coulomb_real")

    def __init__(self, impl: ShortRangeForces):
        self.impl = impl

    def compute(self, pos, forces):
        wca, real = self.impl.compute(pos, forces)
        return {"wca": wca, "coulomb_real": real}


class EwaldTerm(_PairTermBase):
    """WCA, real-space Coulomb (sim.forces.short_range) and SPME (sim.forces.ewald) in one
    term, so that SPME's FFTs can run in a second thread beside the pairs
    (sim.forces.overlap; the same bits either way). `impl` is the pair forces (also its
    `pair_forces`, whose overlap flags the step uses, as PairTerm's). overlap: None chooses
    by the mesh and the threads (sim.forces.overlap.worth_overlapping), True or False
    forces it."""
    name = "ewald"
    energy_names = ("wca", "coulomb_real", "coulomb_reciprocal", "coulomb_self")

    def __init__(self, pair: ShortRangeForces, spme: SPME, charges, self_term: float):
        self.impl, self.spme, self.charges, self.self_term = pair, spme, charges, self_term
        self.overlap = None

    def compute(self, pos, forces):
        overlap = worth_overlapping(self.spme) if self.overlap is None else self.overlap
        wca, real, reciprocal = pairs_and_mesh(self.impl, self.spme, pos, self.charges,
                                               forces, overlap)
        return {"wca": wca, "coulomb_real": real, "coulomb_reciprocal": reciprocal,
                "coulomb_self": self.self_term}


class _MembraneTerm(ForceTerm):
    name = "membrane_dielectric"
    compiles_apart = True  # sim.forces.membrane_field's kernels serve this term alone

    def __init__(self, impl: MembraneFieldCorrection, charges):
        self.impl, self.charges = impl, charges

    def compute(self, pos, forces):
        return {"membrane_dielectric": self.impl.compute(pos, self.charges, forces)}


def membrane_slabs(scenario: Scenario) -> list[tuple[float, float, float]]:
    """(z_lo, z_hi, eps_m) of each membrane (nm, nm, relative permittivity)."""
    return [(lo, hi, m.permittivity)
            for (lo, hi), m in zip(scenario.membrane_bounds(), scenario.membranes)]


def surface_sheets(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """The membranes' fixed surface charge as sheets: z (nm) of each charged face and its
    charge sigma A (e), from :meth:`Scenario.face_surface_charges` (each face its own
    sigma; an uncharged face is left out)."""
    z, q = [], []
    for j, (lo, hi) in enumerate(scenario.membrane_bounds()):
        for z_face, sigma in zip((lo, hi), scenario.face_surface_charges(j)):
            if sigma != 0.0:
                z.append(z_face)
                q.append(sigma * scenario.area)
    return np.array(z, dtype=np.float64), np.array(q, dtype=np.float64)


def describe(p: EwaldParameters) -> str:
    return (f"alpha {p.alpha:.4g} nm^-1, real-space cut-off {p.cutoff:.3g} nm, mesh "
            f"{'x'.join(str(m) for m in p.mesh)}, B-spline order {p.order}, estimated RMS "
            f"relative force error {p.estimated_error:.2g}")


def build_electrostatic_terms(scenario: Scenario, species, charges, diameters,
                              positions=None):
    """Force terms for a scenario with `electrostatics: ewald` and the tuned Ewald
    parameters. positions (N, 3) nm: the configuration whose real-space work the tuner
    costs (the initial placement, so that a resumed run tunes the same)."""
    es = scenario.electrostatics
    box = np.array(scenario.box)
    params = tune_ewald(box, charges, force_error=es.force_error, alpha=es.alpha,
                        cutoff=es.cutoff, mesh=es.mesh, order=es.order, positions=positions)
    prefactor = units.COULOMB_CONSTANT / scenario.solvent_permittivity
    pair = ShortRangeForces(box, species, charges, diameters, scenario.wca_epsilon,
                            coulomb_prefactor=prefactor, alpha=params.alpha,
                            coulomb_cutoff=params.cutoff)
    spme = SPME(box, params.alpha, params.mesh, params.order, prefactor)
    terms = [EwaldTerm(pair, spme, charges, self_energy(charges, params.alpha, prefactor))]
    if scenario.membranes:
        correction = MembraneFieldCorrection(box, membrane_slabs(scenario),
                                             scenario.solvent_permittivity,
                                             surface_sheets(scenario))
        terms.append(_MembraneTerm(correction, charges))
    return terms, params


def potential_observable(scenario: Scenario, charges):
    """A function pos -> mean potential phi_bar (kJ/(mol e)) over each z-window, from the
    1-D Poisson equation with eps(z) on the laterally averaged charge (ions and the
    membranes' fixed surface charge)."""
    box = np.array(scenario.box)
    slabs = membrane_slabs(scenario)
    eps_w = scenario.solvent_permittivity
    sheets = surface_sheets(scenario)

    def measure(pos, windows):
        z, q = with_sheets(pos[:, 2], charges, sheets)
        return window_mean_potentials(z, q, box, slabs, eps_w, windows)

    return measure
