"""Where an ion may be: the periodic box, membrane slabs, cylindrical pores and their walls.

Walls act on the ion's surface. For an ion of radius a (its species' half diameter) the
forbidden region for its *centre* is, for each membrane of half-thickness h centred at z_m,
the slab |z - z_m| < h + a, except inside a pore that admits the species: the cylinder of
radius r - a around the pore axis. So a centre stays at least one radius from a membrane
face and from a pore wall, and a pore narrower than the ion excludes it by size alone.

Everything the kernels need is flattened into arrays by :class:`Geometry` and handed to them
as one record, :class:`GeometryArrays` (walls, pores and the pores' energies). The helpers
below answer the only questions the integrator asks of it: which membrane slab, which pore
(if any) and which compartment contains a centre.
"""

from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
from numba import njit

from .periodic import minimum_image, wrap
from .scenario import Scenario

#: The record the kernels receive (a namedtuple, so Numba types it once and caches it):
#: box (3,) nm; mem_center, mem_half (M,) nm; comp_lo, comp_hi (K,) nm; ch_x, ch_y,
#: ch_radius (C,) nm; ch_membrane (C,); ch_admit (C, S) uint8; ch_boltzmann (C, S)
#: exp(-E/kT) of a species' energy E in a pore; species_radius (S,) nm.
GeometryArrays = namedtuple("GeometryArrays", [
    "box", "mem_center", "mem_half", "comp_lo", "comp_hi", "ch_x", "ch_y", "ch_radius",
    "ch_membrane", "ch_admit", "ch_boltzmann", "species_radius"])


@dataclass(frozen=True)
class Geometry:
    """Flat arrays describing the box, membranes, compartments and channels (nm)."""
    box: np.ndarray            # (3,) box edges
    mem_center: np.ndarray     # (M,) z of each membrane's mid-plane
    mem_half: np.ndarray       # (M,) half thickness
    comp_lo: np.ndarray        # (K,) z of each compartment's lower face
    comp_hi: np.ndarray        # (K,) z of its upper face (comp_hi may exceed... never: all in [0, Lz])
    ch_x: np.ndarray           # (C,) channel axis x
    ch_y: np.ndarray           # (C,) channel axis y
    ch_radius: np.ndarray      # (C,) pore radius
    ch_membrane: np.ndarray    # (C,) index of the membrane the channel crosses
    ch_admit: np.ndarray       # (C, S) uint8, 1 if species s may enter channel c
    ch_boltzmann: np.ndarray   # (C, S) exp(-E/kT), E the species' energy in the pore
    species_radius: np.ndarray  # (S,)

    @classmethod
    def from_scenario(cls, sc: Scenario) -> "Geometry":
        names = [s.name for s in sc.species]
        comp = sc.compartment_bounds()
        mem = sc.membrane_bounds()
        channels = [(k, ch) for k, m in enumerate(sc.membranes) for ch in m.channels]
        admit = np.zeros((len(channels), len(names)), np.uint8)
        boltzmann = np.ones((len(channels), len(names)))
        for c, (_, ch) in enumerate(channels):
            barriers = dict(ch.barriers)
            for name in ch.permeant:
                if name in names:
                    admit[c, names.index(name)] = 1
                    boltzmann[c, names.index(name)] = math.exp(-barriers.get(name, 0.0) / sc.kT)
        return cls(
            box=np.array(sc.box, dtype=np.float64),
            mem_center=np.array([(lo + hi) / 2 for lo, hi in mem], dtype=np.float64),
            mem_half=np.array([(hi - lo) / 2 for lo, hi in mem], dtype=np.float64),
            comp_lo=np.array([lo for lo, _ in comp], dtype=np.float64),
            comp_hi=np.array([hi for _, hi in comp], dtype=np.float64),
            ch_x=np.array([ch.x for _, ch in channels], dtype=np.float64),
            ch_y=np.array([ch.y for _, ch in channels], dtype=np.float64),
            ch_radius=np.array([ch.radius for _, ch in channels], dtype=np.float64),
            ch_membrane=np.array([k for k, _ in channels], dtype=np.int64),
            ch_admit=admit, ch_boltzmann=boltzmann,
            species_radius=np.array([s.radius for s in sc.species], dtype=np.float64),
        )

    def accessible_volume(self, compartment: int, radius: float) -> float:
        """Volume (nm^3) open to the centre of an ion of `radius` nm in a compartment: the
        water between the membrane faces less a layer of one radius at each face (pores
        excluded)."""
        depth = self.comp_hi[compartment] - self.comp_lo[compartment]
        if len(self.mem_center):
            depth -= 2 * radius
        return max(depth, 0.0) * self.box[0] * self.box[1]

    @property
    def arrays(self) -> GeometryArrays:
        """The record the kernels take."""
        return GeometryArrays(self.box, self.mem_center, self.mem_half, self.comp_lo,
                              self.comp_hi, self.ch_x, self.ch_y, self.ch_radius,
                              self.ch_membrane, self.ch_admit, self.ch_boltzmann,
                              self.species_radius)

    def allowed(self, pos: np.ndarray, species: np.ndarray) -> np.ndarray:
        """Boolean (N,): True where each ion's centre is in an allowed place."""
        out = np.empty(len(pos), dtype=np.bool_)
        _allowed_all(pos, species, self.arrays, out)
        return out

    def compartments_of(self, pos: np.ndarray) -> np.ndarray:
        """Compartment index per ion from z (-1 inside a membrane slab or pore)."""
        out = np.empty(len(pos), dtype=np.int64)
        _compartments_all(pos, self.arrays, out)
        return out


# --- Numba helpers (g: a GeometryArrays) -----------------------------------------------------

min_image = minimum_image  # the name the placement kernel uses


@njit(cache=True)
def membrane_at(z, a, g):
    """Index of the membrane whose widened slab (half thickness + a) contains z, else -1."""
    for m in range(g.mem_center.shape[0]):
        if abs(minimum_image(z - g.mem_center[m], g.box[2])) < g.mem_half[m] + a:
            return m
    return -1


@njit(cache=True)
def pore_at(x, y, m, s, a, g):
    """Index of a channel of membrane m admitting species s whose open cylinder (radius
    r - a) contains (x, y), else -1."""
    for c in range(g.ch_x.shape[0]):
        if g.ch_membrane[c] != m or g.ch_admit[c, s] == 0:
            continue
        reach = g.ch_radius[c] - a
        if reach <= 0.0:
            continue
        dx = minimum_image(x - g.ch_x[c], g.box[0])
        dy = minimum_image(y - g.ch_y[c], g.box[1])
        if dx * dx + dy * dy < reach * reach:
            return c
    return -1


@njit(cache=True)
def compartment_at(z, g):
    """Compartment whose water contains z (z in [0, Lz)), else -1 (inside a membrane)."""
    for k in range(g.comp_lo.shape[0]):
        if g.comp_lo[k] <= z < g.comp_hi[k]:
            return k
    return -1


@njit(cache=True)
def _allowed_all(pos, species, g, out):
    for i in range(pos.shape[0]):
        s = species[i]
        a = g.species_radius[s]
        m = membrane_at(pos[i, 2], a, g)
        out[i] = m < 0 or pore_at(pos[i, 0], pos[i, 1], m, s, a, g) >= 0


@njit(cache=True)
def _compartments_all(pos, g, out):
    for i in range(pos.shape[0]):
        out[i] = compartment_at(wrap(pos[i, 2], g.box[2]), g)
