"""Partial selectivity of a pore: the diffusion-resistance model and the pore's occupancy.

A pore that admits two species s (K+, Na+) with an energy E_s inside it is, for each species,
a diffusion resistance (nm^-1 ps: 1 / (D x length)) in series with two access resistances:

    R_s = L_s e^{E_s/kT} <1/g>_pore / (pi rho_s^2 D_s) + 2 / (4 rho_s D_s)

with rho_s = r - a_s the radius open to the ion's centre, L_s = d + 2 a_s the length its
centre travels inside the pore (the membrane slab widened by its radius), and the Hall
access resistance 1 / (4 rho D) of a disk in a plane on each side (Hall, J. Gen. Physiol. 66
(1975) 531). P_s / P_ref = R_ref / R_s.

g(z) is the pore's occupancy relative to the bulk, n_s(z) / (c_s e^{-E_s/kT}), apart from
the species' own pore energy: the Boltzmann factor of everything else (for an ideal gas,
g = 1). The resistance of a channel whose equilibrium density is n(z) is
integral dz / (D A n(z) / c) (Smoluchowski; e.g. Berg, *Random Walks in Biology*, 1993,
ch. 3), so a pore depleted to g < 1 raises its own resistance by <1/g> and leaves the access
resistances alone. A pore that admits cations only holds a net positive charge that no
anion screens: with electrostatics on, g in the middle of the selectivity scenario's pores
is about 0.15-0.2 (measured), the pore's resistance is then about 8 times the access
resistance instead of 1.7 times, and P_Na / P_K moves from the bare model's 0.37 towards the
pore-limited value (D_Na / D_K) (rho_Na / rho_K)^2 (L_K / L_Na) e^{-E_Na/kT} = 0.29. Both
species carry the same charge, so g is measured from the reference species (the better
sampled one: no barrier) and applied to both.

Units: nm, ps, nm^2/ps, nm^-3, kJ/mol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.units import PER_NM3_TO_MM

from analysis.runs import Measurements

__all__ = ["ResistanceModel", "PoreOccupancy", "resistance_model", "pore_occupancy",
           "crossing_dispersion", "shared_channel"]

#: Bins of the density profile that must lie inside the pore for its occupancy to count.
MIN_PORE_BINS = 4
#: Segments along the pore that <1/g> averages over (profile bins are merged into them, so
#: that a thin bin that happened to hold no ion in a block does not make 1/g infinite).
PORE_SEGMENTS = 10


def shared_channel(scenario, species: str, reference: str):
    """The first channel type that admits both species (ValueError if none)."""
    for mem in scenario.membranes:
        for ch in mem.channels:
            if species in ch.permeant and reference in ch.permeant:
                return ch
    raise ValueError(f"no channel admits both {species} and {reference}")


@dataclass(frozen=True)
class ResistanceModel:
    """P_species / P_reference from the resistance model (module doc), the pore-limited
    value (access resistances dropped), and the reference species' pore / access ratio."""

    ratio: float
    pore_limited: float
    pore_over_access: float


def resistance_model(scenario, species: str, reference: str = "K+",
                     inverse_occupancy: float = 1.0) -> ResistanceModel:
    """The model of the module doc for the pore both species share.

    Args:
        scenario: a Scenario.
        species, reference: species names (P_species / P_reference is returned).
        inverse_occupancy: <1/g> along the pore (1 for an ideal gas; :func:`pore_occupancy`
            measures it).
    """
    ch = shared_channel(scenario, species, reference)
    d = scenario.membranes[0].thickness
    sp = {s.name: s for s in scenario.species}
    barriers = dict(ch.barriers)

    def parts(name):
        a, diffusion = sp[name].radius, sp[name].diffusion
        rho = ch.radius - a
        boltz = math.exp(barriers.get(name, 0.0) / scenario.kT)
        pore = (d + 2 * a) * boltz * inverse_occupancy / (math.pi * rho ** 2 * diffusion)
        return pore, 2 / (4 * rho * diffusion)

    pore_ref, access_ref = parts(reference)
    pore_s, access_s = parts(species)
    return ResistanceModel(ratio=(pore_ref + access_ref) / (pore_s + access_s),
                           pore_limited=pore_ref / pore_s,
                           pore_over_access=pore_ref / access_ref)


@dataclass(frozen=True)
class PoreOccupancy:
    """<1/g> along the pores (mean and SE over blocks of frames), g in the middle third,
    and the number of profile bins inside the pore; reason says why it is missing."""

    inverse_mean: float = math.nan
    inverse_se: float = math.nan
    middle: float = math.nan
    middle_se: float = math.nan
    bins: int = 0
    reason: str = ""


def open_area(scenario, j: int, name: str) -> float:
    """Cross-section (nm^2) of membrane j's pores that admit species `name` open to its
    centre: the sum of pi (r - a)^2 over them, a the species' radius."""
    a = scenario.species[scenario.species_index(name)].radius
    return sum(math.pi * (ch.radius - a) ** 2 for ch in scenario.membranes[j].channels
               if name in ch.permeant and ch.radius > a)


def _pore_profiles(m: Measurements, name: str, density: np.ndarray):
    """g(z) of species `name` in each membrane's pores (a list of arrays), from a mean
    density profile (S, nbins) nm^-3."""
    sc = m.scenario
    s = sc.species_index(name)
    nbins = density.shape[1]
    width = sc.box[2] / nbins
    z = (np.arange(nbins) + 0.5) * width
    a = sc.species[s].radius
    c_bulk = np.mean([m.bulk_mM[k, s].mean for k in range(len(sc.compartments))])
    c_bulk /= PER_NM3_TO_MM
    profiles = []
    for j, (lo, hi) in enumerate(sc.membrane_bounds()):
        inside = (z - width / 2 >= lo - a) & (z + width / 2 <= hi + a)
        profiles.append(density[s, inside] * sc.area / (open_area(sc, j, name) * c_bulk))
    return profiles


def pore_occupancy(m: Measurements, name: str = "K+", blocks: int = 8) -> PoreOccupancy:
    """Measured occupancy g(z) of the pores by species `name` (module doc), after
    equilibration: <1/g> along the pore and g in its middle third, each with a jackknife
    SE over `blocks` consecutive blocks of density frames (Efron, *The Jackknife, the
    Bootstrap and Other Resampling Plans*, SIAM 1982).

    Needs at least MIN_PORE_BINS profile bins inside the pore (observables.
    profile_bin_width) and `blocks` frames after equilibration."""
    dens = m.run.observable("density")
    times = np.asarray(dens.time, dtype=float)
    frames = np.flatnonzero(times >= m.t_equil_ps)
    if frames.size < blocks:
        return PoreOccupancy(reason=f"{frames.size} density frames after equilibration, "
                                    f"fewer than {blocks}")
    values = np.asarray(dens.value, dtype=float)[frames]
    bins = min(p.size for p in _pore_profiles(m, name, values.mean(axis=0)))
    if bins < MIN_PORE_BINS:
        return PoreOccupancy(bins=bins, reason=f"{bins} profile bins inside the pore; set "
                                               f"observables.profile_bin_width finer")

    def estimates(selected):
        profiles = [np.array([seg.mean() for seg in np.array_split(p, PORE_SEGMENTS)])
                    for p in _pore_profiles(m, name, values[selected].mean(axis=0))]
        if any(np.any(p <= 0) for p in profiles):
            return None
        return (np.mean([np.mean(1 / p) for p in profiles]),
                np.mean([p[p.size // 3: 2 * p.size // 3].mean() for p in profiles]))

    everything = np.arange(frames.size)
    whole = estimates(everything)
    parts = np.array_split(everything, blocks)
    # jackknife over blocks: each estimate leaves one block out, so a thin segment that
    # was empty in one block does not make 1/g infinite
    loo = [estimates(np.concatenate(parts[:b] + parts[b + 1:])) for b in range(blocks)]
    if whole is None or any(e is None for e in loo):
        return PoreOccupancy(bins=bins, reason="a stretch of the pores held no ion: run "
                                               "longer")
    loo = np.array(loo)
    se = np.sqrt((blocks - 1) / blocks * np.sum((loo - loo.mean(axis=0)) ** 2, axis=0))
    return PoreOccupancy(inverse_mean=float(whole[0]), inverse_se=float(se[0]),
                         middle=float(whole[1]), middle_se=float(se[1]), bins=bins)


def crossing_dispersion(times_ps: np.ndarray, t_from_ps: float, t_to_ps: float,
                        blocks: int = 8) -> float:
    """Variance over mean of the crossing counts in `blocks` equal time blocks (>= 1).

    Crossings come in bursts (an ion that has just crossed often crosses back; a pore's
    occupancy changes slowly), so their count scatters more than a Poisson count; the SE of
    a rate from n crossings is sqrt(F n), with F this factor (1 for Poisson, never less)."""
    t = np.asarray(times_ps, dtype=float)
    t = t[(t >= t_from_ps) & (t <= t_to_ps)]
    if t.size == 0 or t_to_ps <= t_from_ps:
        return 1.0
    counts, _ = np.histogram(t, bins=blocks, range=(t_from_ps, t_to_ps))
    mean = counts.mean()
    return max(1.0, float(counts.var(ddof=1) / mean)) if mean > 0 else 1.0
