"""The state of a simulation: ions as a structure of arrays, and their initial placement."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from . import gouy_chapman, units
from .forces.cells import CellList, cell_coordinates, cell_index, link
from .geometry import Geometry, min_image
from .rng import STREAM_PLACEMENT, stream_key, uniform1
from .scenario import Scenario, ScenarioError

# Random sequential addition of hard spheres jams near a volume fraction of 0.38; refuse
# well before that so that placement never spins.
MAX_PACKING_FRACTION = 0.30
MAX_ATTEMPTS_PER_ION = 2000


@dataclass
class Ions:
    """All ions. pos (N,3) nm wrapped into the box; species (N,) index into the scenario's
    species; comp (N,) compartment each ion was last in; last_channel (N,) last pore it was
    in (-1: none yet)."""
    pos: np.ndarray
    species: np.ndarray
    comp: np.ndarray
    last_channel: np.ndarray

    @property
    def n(self) -> int:
        return len(self.species)

    def charges(self, valences: np.ndarray) -> np.ndarray:
        return valences[self.species].astype(np.float64)


def compartment_volume(scenario: Scenario, geometry: Geometry, k: int) -> float:
    """The accessible volume (nm^3) used to turn compartment k's concentrations into ion
    numbers: open to the centre of the compartment's concentration-weighted mean ion.

    One volume per compartment (rather than one per species) keeps a neutral set of
    concentrations neutral after rounding to whole ions.
    """
    comp = scenario.compartments[k]
    weights = [(comp.concentration(s.name), s.radius) for s in scenario.species]
    total = sum(c for c, _ in weights)
    radius = sum(c * a for c, a in weights) / total if total > 0 else 0.0
    return geometry.accessible_volume(k, radius)


def ion_counts(scenario: Scenario, geometry: Geometry) -> np.ndarray:
    """Ions to place, (K compartments, S species).

    `concentration_basis: mean` (and any compartment without charged faces):
    round(c * accessible volume), made neutral, plus the counter-ions of the charged faces
    the compartment touches (:meth:`Scenario.counterions`).

    `bulk` with charged faces: c_s V + sum over its charged faces of Gamma_s A, Gamma_s the
    Gouy-Chapman surface excess of species s at the face for the bulk concentrations c
    (:func:`bulk_basis_exact`), rounded to whole ions whose charge is exactly minus the
    faces' (a whole number of e), so the compartment with its faces is neutral. No
    counter-ions are added: the excess already holds them.

    One volume per compartment keeps a neutral pair of monovalent species neutral after
    rounding; with three or more species (or the surface excess) rounding alone can leave a
    net charge of a few e. Then the counts nearest their exact value after a change of one
    ion are changed, one ion at a time, until the charge is the one wanted (see
    :func:`_neutral_rounding`; with monovalent ions every step of one ion helps, so it
    always gets there).
    """
    valences = np.array([s.valence for s in scenario.species], dtype=np.int64)
    counts = np.zeros((len(scenario.compartments), len(scenario.species)), dtype=np.int64)
    for k, comp in enumerate(scenario.compartments):
        volume = compartment_volume(scenario, geometry, k)
        if _bulk_basis_applies(scenario, k):
            exact = bulk_basis_exact(scenario, k, volume)
            counts[k] = _neutral_rounding(exact, valences, -scenario.face_charge(k))
            continue
        exact = np.array([comp.concentration(sp.name) * volume for sp in scenario.species])
        counts[k] = _neutral_rounding(exact, valences)
        for name, n in scenario.counterions(k).items():
            counts[k, scenario.species_index(name)] += n
    return counts


def _bulk_basis_applies(scenario: Scenario, k: int) -> bool:
    """Compartment k asks for bulk concentrations and some face that bounds it is charged."""
    return scenario.compartments[k].concentration_basis == "bulk" and any(
        scenario.face_surface_charges(j)[side] != 0.0 for j, side in scenario.bounding_faces(k))


def bulk_basis_exact(scenario: Scenario, k: int, volume: float) -> np.ndarray:
    """Unrounded ion numbers (S,) of compartment k for `concentration_basis: bulk`:
    N_s = c_s V + A sum_faces Gamma_s(sigma_face), with V the accessible volume (nm^3), A the
    area (nm^2), c_s (nm^-3) the bulk concentrations and Gamma_s (nm^-2) the Gouy-Chapman
    surface excess of each charged face that bounds the compartment
    (:func:`sim.gouy_chapman.surface_excess`: 2 c_s lambda_D (exp(-z_s e psi_0 / 2kT) - 1),
    psi_0 from the Grahame equation). Each face's layer is the semi-infinite one: an
    estimate that needs the compartment several Debye lengths deep; the bulk a run reaches
    is measured (observable bulk_concentration). Refuses (ScenarioError at the depth) a
    compartment so shallow that the co-ions' depletion exceeds their c V."""
    comp = scenario.compartments[k]
    dens = [comp.concentration(sp.name) for sp in scenario.species]
    valences = [sp.valence for sp in scenario.species]
    exact = np.array(dens) * volume
    for j, side in scenario.bounding_faces(k):
        sigma = scenario.face_surface_charges(j)[side]
        if sigma != 0.0:
            exact += scenario.area * np.array(gouy_chapman.surface_excess(
                sigma, dens, valences, scenario.kT, scenario.solvent_permittivity))
    if np.any(exact < 0):
        s = int(np.argmin(exact))
        n_total = sum(c for c, z in zip(dens, valences) if z > 0)
        lam = gouy_chapman.debye_length(n_total, scenario.kT, scenario.solvent_permittivity)
        raise ScenarioError(scenario.source, f"compartments[{k}].depth",
                            f"{comp.depth:g} nm is too shallow for concentration_basis: "
                            f"bulk: the Gouy-Chapman depletion of "
                            f"{scenario.species[s].name} at its charged faces exceeds the "
                            f"{dens[s] * volume:.3g} ions of its bulk; make compartment "
                            f"{comp.name!r} several Debye lengths ({lam:.2f} nm) deep")
    return exact


def _neutral_rounding(exact: np.ndarray, valences: np.ndarray, target: int = 0) -> np.ndarray:
    """Whole ion numbers near `exact` (S,) whose charge sum(n z) is `target` (e) where a
    change of a few ions can make it so. Greedy: each step changes by one ion the species
    (present in `exact`) whose change most reduces |charge - target| at the least distance
    from its exact value. Where no step helps (say only divalent species left), the charge
    stays and :func:`check_counts` refuses the scenario with the numbers."""
    n = np.rint(exact).astype(np.int64)
    for _ in range(8 * len(n) + 8):
        charge = int(n @ valences) - target
        if charge == 0:
            break
        best = None
        for s in np.nonzero(exact > 0)[0]:
            for delta in (-1, 1):
                if n[s] + delta < 0 or abs(charge + delta * valences[s]) >= abs(charge):
                    continue
                cost = (abs(charge + delta * valences[s]), abs(n[s] + delta - exact[s]))
                if best is None or cost < best[0]:
                    best = (cost, s, delta)
        if best is None:
            break
        n[best[1]] += best[2]
    return n


def check_counts(scenario: Scenario, geometry: Geometry, counts: np.ndarray) -> None:
    """Refuse integer ion sets that are not neutral or cannot be packed."""
    valences = np.array([s.valence for s in scenario.species])
    diam = np.array([s.diameter for s in scenario.species])
    for k, comp in enumerate(scenario.compartments):
        key = f"compartments[{k}]"
        # the ions' charge must cancel the faces' (the counter-ions, or the surface excess
        # of a bulk-basis compartment, carry it), so the compartment with its faces is
        # neutral; the concentrations' own rounding is what can leave a remainder
        charge = int(counts[k] @ valences) + scenario.face_charge(k)
        if charge != 0:
            detail = ", ".join(f"{n} {sp.name}" for n, sp in zip(counts[k], scenario.species))
            raise ScenarioError(scenario.source, f"{key}.concentrations",
                                f"rounding to whole ions gives {detail}: net charge "
                                f"{charge:+d} e in compartment {comp.name!r}"
                                + (" with its charged faces" if scenario.face_charge(k)
                                   else "") + "; adjust the "
                                f"depth or box so that the counts balance")
        volume = compartment_volume(scenario, geometry, k)
        if volume <= 0:
            raise ScenarioError(scenario.source, f"{key}.depth",
                                f"compartment {comp.name!r} is thinner than an ion "
                                f"({comp.depth:g} nm)")
        packing = float(counts[k] @ (math.pi / 6 * diam**3)) / volume
        if packing > MAX_PACKING_FRACTION:
            raise ScenarioError(scenario.source, f"{key}.concentrations",
                                f"{int(counts[k].sum())} ions of total volume "
                                f"{packing * volume:.4g} nm^3 in {volume:.4g} nm^3 of "
                                f"compartment {comp.name!r}: volume fraction {packing:.2f} "
                                f"exceeds {MAX_PACKING_FRACTION} (more ions than fit); lower "
                                f"the concentrations")


def place_ions(scenario: Scenario, geometry: Geometry, counts: np.ndarray) -> Ions:
    """Random, non-overlapping initial positions, reproducible from the scenario's seed.

    Each ion is uniform over its compartment's accessible volume; a candidate closer than
    sigma_ij = (d_i + d_j)/2 to an ion already placed is redrawn. The ions placed so far are
    kept in the shared cell list (sim.forces.cells), filled one ion at a time, with cells
    at least the largest diameter wide, so every sigma_ij is within the 27 cells around a
    candidate. Whether a candidate clashes does not depend on the order in which the cells
    are searched, so the positions follow from the seed alone.
    """
    n_total = int(counts.sum())
    pos = np.zeros((n_total, 3))
    species = np.zeros(n_total, dtype=np.int64)
    comp = np.zeros(n_total, dtype=np.int64)
    diam = np.array([s.diameter for s in scenario.species], dtype=np.float64)
    box = geometry.box
    cell = max(float(diam.max()) if len(diam) else 1.0, 1e-3)
    # single_image=False: a clash test asks only whether some ion is within sigma, which the
    # minimum image answers even in a box narrower than two diameters
    cells = CellList(box, cell, n_total, single_image=False)
    head, nxt = cells.sequential()
    key0, key1 = stream_key(scenario.run.seed, STREAM_PLACEMENT)
    placed = 0
    for k in range(counts.shape[0]):
        for s in range(counts.shape[1]):
            n = int(counts[k, s])
            if n == 0:
                continue
            a = geometry.species_radius[s]
            z_lo, z_hi = geometry.comp_lo[k], geometry.comp_hi[k]
            if len(geometry.mem_center):
                z_lo, z_hi = z_lo + a, z_hi - a
            failed = _place_group(pos, species, diam, placed, n, s, z_lo, z_hi, box,
                                  cells.ncell, head, nxt, key0, key1, MAX_ATTEMPTS_PER_ION)
            if failed >= 0:
                raise ScenarioError(
                    scenario.source, f"compartments[{k}].concentrations",
                    f"could not place {scenario.species[s].name} ion {failed - placed + 1} "
                    f"of {n} in compartment {scenario.compartments[k].name!r} without "
                    f"overlap after {MAX_ATTEMPTS_PER_ION} attempts (more ions than fit)")
            comp[placed:placed + n] = k
            placed += n
    return Ions(pos, species, comp, -np.ones(n_total, dtype=np.int64))


@njit(cache=True)
def _place_group(pos, species, diam, start, n, s, z_lo, z_hi, box, ncell, head, nxt, key0,
                 key1, max_attempts):
    """Place ions start..start+n-1 of species s in z in [z_lo, z_hi), linking each into the
    sequential cell list (head, nxt) of the ions placed before it. Returns -1 on success or
    the index of the ion that could not be placed."""
    for i in range(start, start + n):
        done = False
        for attempt in range(max_attempts):
            counter = attempt * 3
            x = uniform1(key0, key1, counter, i) * box[0]
            y = uniform1(key0, key1, counter + 1, i) * box[1]
            z = z_lo + uniform1(key0, key1, counter + 2, i) * (z_hi - z_lo)
            z = z - box[2] * math.floor(z / box[2])
            cx, cy, cz = cell_coordinates(x, y, z, box, ncell)
            clash = False
            for ox in range(-1, 2):
                for oy in range(-1, 2):
                    for oz in range(-1, 2):
                        j = head[cell_index(cx + ox, cy + oy, cz + oz, ncell)]
                        while j >= 0 and not clash:
                            dx = min_image(x - pos[j, 0], box[0])
                            dy = min_image(y - pos[j, 1], box[1])
                            dz = min_image(z - pos[j, 2], box[2])
                            sig = 0.5 * (diam[s] + diam[species[j]])
                            if dx * dx + dy * dy + dz * dz < sig * sig:
                                clash = True
                            j = nxt[j]
            if not clash:
                pos[i, 0] = x
                pos[i, 1] = y
                pos[i, 2] = z
                species[i] = s
                link(i, cell_index(cx, cy, cz, ncell), head, nxt)
                done = True
                break
        if not done:
            return i
    return -1


def mobility_arrays(scenario: Scenario, species: np.ndarray):
    """Per-ion drift coefficient D dt / kT (nm^2 mol/kJ) and noise amplitude sqrt(2 D dt)."""
    d = np.array([s.diffusion for s in scenario.species])[species]
    dt = scenario.run.dt
    return d * dt / units.kT(scenario.temperature), np.sqrt(2.0 * d * dt)
