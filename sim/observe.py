"""Observables computed from the instantaneous state (all cheap, O(N) Numba loops).

The membrane potential is measured, never imposed: V_m = phi_bar(inside bulk) -
phi_bar(outside bulk), with phi_bar the solution of the 1-D Poisson equation with eps(z) for
the laterally averaged charge (sim.forces.membrane_field). "Bulk" is the middle of each
compartment: a window that keeps `BULK_MARGIN_DEBYE` Debye lengths from either membrane
face (at most 40% of the depth on each side).

The double layers are binned twice: ``density`` in z-bins from z = 0 over the whole box, and
``face_density`` (:class:`FaceBins`, :func:`accumulate_face_profiles`) as a function of the
distance from each membrane face's *contact plane* for each species (the plane one ion
radius in front of the face where the ion's centre can first be), in bins finer than one
r.m.s. Brownian step near the plane, over the wall area only.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import units
from .geometry import pore_at
from .periodic import minimum_image
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


#: Width (nm) of the bins next to the contact plane, halved until it is below the smallest
#: r.m.s. Brownian step sqrt(2 D dt) of the scenario's species (0.0125 nm is below the 0.014
#: nm of K+ at dt = 0.05 ps): a wall treatment that is wrong within one step shows there.
CONTACT_BIN_NM = 0.0125
#: The fine bins cover this distance (nm) from the contact plane ...
CONTACT_FINE_NM = 0.25
#: ... coarser bins of this width (nm) follow ...
CONTACT_COARSE_NM = 0.05
#: ... out to this distance (nm), or to the middle of the thinnest compartment less the
#: largest ion radius (so that no ion is in front of two faces), whichever is nearer.
CONTACT_EXTENT_NM = 3.0


class FaceBins:
    """The bins of the ``face_density`` observable (nm), from a scenario with membranes.

    Faces: f = 2 j + side for membrane j, side 0 its lower-z face (touching compartment j),
    side 1 its upper-z face (touching compartment (j + 1) mod M), as
    :meth:`Scenario.face_surface_charges` orders them. The distance x >= 0 of an ion of
    species s from a face's contact plane is |z - z_j| - h_j - a_s (z_j, h_j the membrane's
    mid-plane and half thickness, a_s the ion's radius), on the face's side of the slab.
    Bins: ``n_fine`` of ``fine`` nm from x = 0, then ``n_coarse`` of ``coarse`` nm, to
    ``extent``; ``edges`` (nbins + 1,) and ``widths`` (nbins,) nm.

    Wall area: an ion laterally inside the mouth of a pore that admits its species (within
    r - a_s of the pore axis, :func:`sim.geometry.pore_at`) is in front of water that leads
    into the pore, not in front of wall; it is not counted, and ``wall_area`` (2M, S) nm^2 is
    A - sum over those pores of pi (r - a_s)^2 (a pore that does not admit s is wall to s).
    So the density is that in front of wall, the quantity whose contact value the
    contact-value theorem gives (analysis.double_layer).
    """

    def __init__(self, sc: Scenario):
        if not sc.membranes:
            raise ValueError("face bins need membranes")
        rms = min(math.sqrt(2.0 * sp.diffusion * sc.run.dt) for sp in sc.species)
        fine = CONTACT_BIN_NM
        while fine >= rms:
            fine *= 0.5
        a_max = max(sp.radius for sp in sc.species)
        reach = min(CONTACT_EXTENT_NM,
                    min(c.depth for c in sc.compartments) / 2.0 - a_max)
        n_fine = max(0, min(int(round(CONTACT_FINE_NM / fine)), int(reach / fine)))
        n_coarse = max(0, int((reach - n_fine * fine) / CONTACT_COARSE_NM))
        self.fine, self.coarse = fine, CONTACT_COARSE_NM
        self.n_fine, self.n_coarse = n_fine, n_coarse
        self.extent = n_fine * fine + n_coarse * CONTACT_COARSE_NM
        self.edges = np.concatenate([np.arange(n_fine + 1) * fine,
                                     n_fine * fine + np.arange(1, n_coarse + 1)
                                     * CONTACT_COARSE_NM])
        self.widths = np.diff(self.edges)
        m = len(sc.membranes)
        self.n_faces = 2 * m
        bounds = sc.membrane_bounds()
        self.face_z = np.array([bounds[j][side] for j in range(m) for side in (0, 1)])
        self.face_membrane = np.repeat(np.arange(m), 2)
        self.face_side = np.tile(np.array([0, 1]), m)
        self.face_compartment = np.array([sc.face_compartment(j, side) for j in range(m)
                                          for side in (0, 1)])
        self.radius = np.array([sp.radius for sp in sc.species])
        names = [sp.name for sp in sc.species]
        self.wall_area = np.full((2 * m, len(names)), sc.area)
        for j, mem in enumerate(sc.membranes):
            for ch in mem.channels:
                for s, name in enumerate(names):
                    if name in ch.permeant:
                        mouth = math.pi * max(ch.radius - self.radius[s], 0.0) ** 2
                        self.wall_area[2 * j:2 * j + 2, s] -= mouth

    @property
    def usable(self) -> bool:
        """Whether the compartments leave room for at least two fine bins."""
        return self.n_fine >= 2


@njit(cache=True)
def accumulate_face_profiles(pos, species, g, fine, n_fine, coarse, extent, hist):
    """hist[f, s, b] += 1 for each ion of species s at distance x in bin b from the contact
    plane of face f (see :class:`FaceBins`; g a :class:`sim.geometry.GeometryArrays`).

    Ions inside a membrane slab (in a pore: x < 0), farther than ``extent`` nm, or laterally
    over the mouth of a pore that admits them are not counted. O(N M), plus the pore test
    for the ions within ``extent`` of a face."""
    nbins = hist.shape[2]
    x_fine = n_fine * fine
    for i in range(pos.shape[0]):
        s = species[i]
        a = g.species_radius[s]
        for m in range(g.mem_center.shape[0]):
            dz = minimum_image(pos[i, 2] - g.mem_center[m], g.box[2])
            x = abs(dz) - g.mem_half[m] - a
            if x < 0.0 or x >= extent:
                continue
            if pore_at(pos[i, 0], pos[i, 1], m, s, a, g) >= 0:
                break
            if x < x_fine:
                b = int(x / fine)
            else:
                b = n_fine + int((x - x_fine) / coarse)
            if b >= nbins:
                b = nbins - 1
            hist[2 * m + (1 if dz > 0.0 else 0), s, b] += 1
            break  # extent <= half the thinnest compartment: in front of one face at most


@njit(cache=True, inline="always")
def _sheet_charge(i, pos, charges, sheet_z, sheet_q, lz):
    """(z in [0, Lz) nm, q e) of charge i of face_fields' sequence: the N ions, then the
    faces' fixed sheets."""
    n = pos.shape[0]
    if i < n:
        z = pos[i, 2] - math.floor(pos[i, 2] / lz) * lz
        if z >= lz:
            z = 0.0
        return z, charges[i]
    return sheet_z[i - n], sheet_q[i - n]


@njit(cache=True)
def face_fields(pos, charges, sheet_z, sheet_q, lz, bounds, inv, s_at, face_z, face_side,
                area, out):
    """out[f] = D.n (e/nm^2) in the water just in front of face f: the laterally averaged
    (kx = ky = 0) displacement eps0 eps_w E of the 1-D problem the engine solves
    (sim.forces.membrane_field: ions as sheets, the faces' fixed sheets, eps(z)), along the
    normal n pointing from the face into its water (-z for a lower-z face, face_side 0; +z
    for an upper-z face, face_side 1). It equals the face's sigma where the membrane's
    interior is field-free.

    D(z) = (Q0 + sum_{z_i < z} q_i) / A with Q0 = -(1 / S_L) sum_i q_i (S_L - S(z_i)) (the
    periodicity of phi; S the elastance, (bounds, inv, s_at) of a DielectricProfile, S_L
    = s_at[-1]); face_z and sheet_z wrapped into [0, Lz) alike, so that a face's own sheet is
    found by equality: below the face's water for an upper-z face, above it for a lower-z
    one. O(N (segments + faces)), no allocation."""
    nseg = inv.shape[0]
    s_total = s_at[nseg]
    n = pos.shape[0]
    acc = 0.0
    for i in range(n + sheet_z.shape[0]):
        z, q = _sheet_charge(i, pos, charges, sheet_z, sheet_q, lz)
        seg = 0
        while seg < nseg - 1 and z >= bounds[seg + 1]:
            seg += 1
        acc += q * (s_total - (s_at[seg] + inv[seg] * (z - bounds[seg])))
    q0 = -acc / s_total
    for f in range(face_z.shape[0]):
        zf = face_z[f]
        upper = face_side[f] == 1
        below = q0
        for i in range(n + sheet_z.shape[0]):
            z, q = _sheet_charge(i, pos, charges, sheet_z, sheet_q, lz)
            if z < zf or (upper and z == zf):
                below += q
        out[f] = below / area if upper else -below / area


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
