"""Where an ion may be: the periodic box, membrane slabs, cylindrical pores and their walls.

Walls act on the ion's surface. For an ion of radius a (its species' half diameter) the
forbidden region for its *centre* is, for each membrane of half-thickness h centred at z_m,
the slab |z - z_m| < h + a, except inside a pore that admits the species: the cylinder of
radius r - a around the pore axis. So a centre stays at least one radius from a membrane
face and from a pore wall, and a pore narrower than the ion excludes it by size alone.

Everything the kernels need is flattened into arrays by :class:`Geometry`; the helpers below
are Numba functions inlined into the integrator, which therefore never needs to know what a
channel is beyond "which pore, if any, contains this centre".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from .scenario import Scenario


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

    def kernel_args(self):
        """The arrays, in the order the Numba helpers take them."""
        return (self.box, self.mem_center, self.mem_half, self.comp_lo, self.comp_hi,
                self.ch_x, self.ch_y, self.ch_radius, self.ch_membrane, self.ch_admit)

    def allowed(self, pos: np.ndarray, species: np.ndarray) -> np.ndarray:
        """Boolean (N,): True where each ion's centre is in an allowed place."""
        out = np.empty(len(pos), dtype=np.bool_)
        _allowed_all(pos, species, self.species_radius, *self.kernel_args(), out)
        return out

    def compartments_of(self, pos: np.ndarray) -> np.ndarray:
        """Compartment index per ion from z (-1 inside a membrane slab or pore)."""
        out = np.empty(len(pos), dtype=np.int64)
        _compartments_all(pos, self.box, self.comp_lo, self.comp_hi, out)
        return out


# --- Numba helpers -----------------------------------------------------------------------

@njit(cache=True)
def min_image(d, length):
    """Minimum-image displacement along one periodic axis."""
    return d - length * math.floor(d / length + 0.5)


@njit(cache=True)
def wrap(x, length):
    """Fold a coordinate into [0, length)."""
    x = x - length * math.floor(x / length)
    if x >= length:  # floating point: -1e-17 wraps to exactly length
        x -= length
    return x


@njit(cache=True)
def membrane_at(z, a, box, mem_center, mem_half):
    """Index of the membrane whose widened slab (half thickness + a) contains z, else -1."""
    for m in range(mem_center.shape[0]):
        if abs(min_image(z - mem_center[m], box[2])) < mem_half[m] + a:
            return m
    return -1


@njit(cache=True)
def pore_at(x, y, m, s, a, box, ch_x, ch_y, ch_radius, ch_membrane, ch_admit):
    """Index of a channel of membrane m admitting species s whose open cylinder (radius
    r - a) contains (x, y), else -1."""
    for c in range(ch_x.shape[0]):
        if ch_membrane[c] != m or ch_admit[c, s] == 0:
            continue
        reach = ch_radius[c] - a
        if reach <= 0.0:
            continue
        dx = min_image(x - ch_x[c], box[0])
        dy = min_image(y - ch_y[c], box[1])
        if dx * dx + dy * dy < reach * reach:
            return c
    return -1


@njit(cache=True)
def compartment_at(z, comp_lo, comp_hi):
    """Compartment whose water contains z (z in [0, Lz)), else -1 (inside a membrane)."""
    for k in range(comp_lo.shape[0]):
        if comp_lo[k] <= z < comp_hi[k]:
            return k
    return -1


@njit(cache=True)
def _allowed_all(pos, species, species_radius, box, mem_center, mem_half, comp_lo, comp_hi,
                 ch_x, ch_y, ch_radius, ch_membrane, ch_admit, out):
    for i in range(pos.shape[0]):
        s = species[i]
        a = species_radius[s]
        m = membrane_at(pos[i, 2], a, box, mem_center, mem_half)
        out[i] = m < 0 or pore_at(pos[i, 0], pos[i, 1], m, s, a, box, ch_x, ch_y, ch_radius,
                                  ch_membrane, ch_admit) >= 0


@njit(cache=True)
def _compartments_all(pos, box, comp_lo, comp_hi, out):
    for i in range(pos.shape[0]):
        out[i] = compartment_at(wrap(pos[i, 2], box[2]), comp_lo, comp_hi)
