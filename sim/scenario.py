"""Scenario files: YAML in, a validated and immutable configuration out.

A scenario is read with :func:`sim.yaml_input.load_yaml` (size, nesting, alias expansion
and duplicate keys bounded) and converted into frozen dataclasses in internal units (nm, ps,
kJ/mol, e, K; concentrations as number densities in nm^-3). Every value that has a
dimension must carry its unit ("150 mM", "4 nm"). Unknown keys are errors. Every error is
a :class:`ScenarioError` whose message names the file, the key path and what is accepted,
e.g. ``scenarios/k.yaml: membranes[0].channels[1].radius: must be > 0 nm, got -0.5 nm``.

Every key is declared once, in ``SCENARIO`` below (see :mod:`sim.schema`): its kind, unit,
default, bounds and a one-line doc. Reading, the messages, :meth:`Scenario.to_dict` and the
reference docs/scenarios.md (``python -m sim.scenario``) all follow from that declaration; a
simple new key is one :class:`~sim.schema.Field` there plus the dataclass attribute it
fills. Checks across keys (electroneutrality, channel overlap, ...) are the sections'
:class:`~sim.schema.Rule` s, each with the one-line rule the reference lists.

Layout along z (periodic): compartment 0, membrane 0, compartment 1, membrane 1, ... The
box starts at z = 0 with compartment 0; membrane k separates compartment k from compartment
k+1 (the last membrane from compartment 0, across the periodic boundary). Zero membranes
means one compartment of bulk electrolyte; one membrane is refused (it would face the same
compartment on both sides).

Sizes are bounded (the constants below), so that a mistyped number is refused with what to
change instead of exhausting memory at set-up; how many ions and how much memory a run
takes is checked separately (:func:`sim.limits.check_work`). Error messages quote at most a
short prefix of a value (:func:`sim.yaml_input.brief`).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import units, water
from .errors import ScenarioError
from . import schema
from .schema import (CHOICE, INTEGER, LIST, MAPPING, NUMBER, QUANTITY, SECTION, START, STEPS,
                     TEXT, Computed, Field, Limit, Reader, Rule, Section, attributes, build,
                     write)
from .units import display_quantity, parse_quantity
from .yaml_input import brief, join as _join, load_yaml, text as _text

__all__ = ["Species", "Channel", "Membrane", "Compartment", "Electrostatics", "RunSettings",
           "Scenario", "ScenarioError", "SCENARIO", "load_scenario", "parse_scenario",
           "default_species_table", "grid_positions", "reference"]

INTEGRATORS = ("leimkuhler-matthews", "euler-maruyama")
ELECTROSTATICS_METHODS = ("ewald", "off")
_DATA = Path(__file__).parent / "data"

# --- limits ----------------------------------------------------------------------------
# Temperature: Malmberg & Maryott's water permittivity fit holds for 0-100 C, and the
# species' D, interpolated linearly from 25 C and 37 C, stays > 0 there (it would turn
# negative below about 255 K, where ions could jump through membranes).
T_MIN, T_MAX = 273.15, 373.15  # K
# Sizes, nm: a micrometre box edge is 1e6 nm^2 of membrane, 50 times the flagship's 20 nm;
# membranes are 3-10 nm thick; the z extent bounds the density profile and the mesh.
MAX_LATERAL = 1000.0
MAX_COMPARTMENT_DEPTH = 1000.0
MAX_THICKNESS = 100.0
MAX_BOX_Z = 4000.0
MAX_PROFILE_BINS = 20_000  # density profile bins (Lz / profile_bin_width), written per frame
MAX_MEMBRANES = 32
# Every ion looks at every pore of a membrane it is in, each step: 1e4 pores is already slow.
MAX_CHANNELS_PER_MEMBRANE = 5_000
MAX_CHANNELS = 10_000  # in all membranes; also bounds the resolved scenario.yaml (~0.9 MB)
MAX_SURFACE_CHARGE = 2.0  # e/nm^2: one charge per 0.5 nm^2, about every lipid head group
MAX_BARRIER_KT = 100.0  # |channel barrier| in kT: exp(100) is still a float, exp(710) is not
MAX_CONCENTRATION = 100.0 * units.MOLAR_TO_PER_NM3  # nm^-3 (100 M)
MAX_STEPS = 10**12  # 1e12 steps would take decades at 1e6 particle-steps per second
MAX_MESH = 4096  # per dimension: a 1 um edge at 0.25 nm spacing
MAX_NAME = 64
MAX_SPECIES, MAX_SPECIES_NAME = 64, 32
MAX_VALENCE = 8  # e; the most charged ion in the table is Ca2+
MAX_DESCRIPTION = 2000
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]*")


# --- configuration dataclasses (internal units) --------------------------------------------

@dataclass(frozen=True)
class Species:
    """An ion species. diameter nm, diffusion nm^2/ps, valence in e."""
    name: str
    valence: int
    diameter: float
    diffusion: float

    @property
    def radius(self) -> float:
        return 0.5 * self.diameter


@dataclass(frozen=True)
class Channel:
    """A cylindrical pore through a membrane along z at (x, y) nm, radius nm.

    ``permeant`` lists the species admitted; an ion also needs radius < pore radius.
    ``barriers`` maps a permeant species to its energy inside the pore (kJ/mol): a barrier
    (> 0, partial selectivity) or a binding well (< 0, as a K+ selectivity filter binds K+);
    absent means 0.
    """
    x: float
    y: float
    radius: float
    permeant: tuple[str, ...]
    barriers: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Membrane:
    """A lipid slab normal to z: thickness nm, relative permittivity, its channels."""
    thickness: float
    permittivity: float
    channels: tuple[Channel, ...]
    surface_charge: float = 0.0  # e/nm^2 on each face, a fixed uniform sheet
    counterion: str | None = None  # species added to each facing compartment to balance it


@dataclass(frozen=True)
class Compartment:
    """Water between two membranes: depth nm (face to face), concentrations nm^-3."""
    name: str
    depth: float
    concentrations: tuple[tuple[str, float], ...]

    def concentration(self, species: str) -> float:
        return dict(self.concentrations).get(species, 0.0)


@dataclass(frozen=True)
class Electrostatics:
    """Coulomb interactions. ``method`` 'ewald' or 'off'; force_error is the requested RMS
    relative force error; alpha nm^-1, cutoff nm, mesh and order fix the tuner's choice."""
    method: str = "ewald"
    force_error: float = 1e-3
    alpha: float | None = None
    cutoff: float | None = None
    mesh: tuple[int, int, int] | None = None
    order: int | None = None


@dataclass(frozen=True)
class RunSettings:
    """dt ps; steps; intervals in steps; integrator name; equilibration ps (None = auto)."""
    dt: float
    steps: int
    seed: int
    sample_interval: int
    frame_interval: int
    checkpoint_interval: int
    integrator: str = "leimkuhler-matthews"
    equilibration: float | None = None


@dataclass(frozen=True)
class Scenario:
    """A complete, validated experiment in internal units."""
    name: str
    description: str
    temperature: float
    solvent_permittivity: float
    species: tuple[Species, ...]
    box_xy: tuple[float, float]
    compartments: tuple[Compartment, ...]
    membranes: tuple[Membrane, ...]
    electrostatics: Electrostatics
    run: RunSettings
    wca_epsilon: float
    profile_bin_width: float
    source: str = "<scenario>"

    # -- derived geometry ---------------------------------------------------------------
    @property
    def box(self) -> tuple[float, float, float]:
        """Box edges (Lx, Ly, Lz) in nm."""
        lz = sum(c.depth for c in self.compartments) + sum(m.thickness for m in self.membranes)
        return (self.box_xy[0], self.box_xy[1], lz)

    @property
    def area(self) -> float:
        """Membrane (lateral box) area in nm^2."""
        return self.box_xy[0] * self.box_xy[1]

    def compartment_bounds(self) -> list[tuple[float, float]]:
        """(z_lo, z_hi) nm of each compartment's water, face to face."""
        bounds, z = [], 0.0
        for k, comp in enumerate(self.compartments):
            bounds.append((z, z + comp.depth))
            z += comp.depth + (self.membranes[k].thickness if self.membranes else 0.0)
        return bounds

    def membrane_bounds(self) -> list[tuple[float, float]]:
        """(z_lo, z_hi) nm of each membrane slab."""
        return [(hi, hi + m.thickness)
                for (lo, hi), m in zip(self.compartment_bounds(), self.membranes)]

    def facing_membranes(self, k: int) -> list[int]:
        """The membranes whose faces bound compartment k (membrane k above it, membrane
        k - 1 below it, periodically); none without membranes."""
        m = len(self.membranes)
        return [k % m, (k - 1) % m] if m else []

    def counterions(self, k: int) -> dict[str, int]:
        """Ions added to compartment k to balance the surface charge of the faces it
        touches: |sigma| A / |valence| counter-ions per charged face."""
        valence = {s.name: s.valence for s in self.species}
        added: dict[str, int] = {}
        for j in self.facing_membranes(k):
            mem = self.membranes[j]
            if mem.surface_charge != 0.0:
                n = int(round(-mem.surface_charge * self.area / valence[mem.counterion]))
                added[mem.counterion] = added.get(mem.counterion, 0) + n
        return added

    def species_index(self, name: str) -> int:
        return [s.name for s in self.species].index(name)

    @property
    def kT(self) -> float:
        return units.kT(self.temperature)

    def steps_for(self, duration_ps: float) -> int:
        """The number of time steps closest to a simulated time in ps."""
        return int(round(duration_ps / self.run.dt))

    def with_run(self, **changes) -> "Scenario":
        """A copy with run settings replaced (used by the CLI's --steps/--seed)."""
        return dataclasses.replace(self, run=dataclasses.replace(self.run, **changes))

    def to_dict(self) -> dict:
        """The resolved scenario, every default filled in, units written out (in the order
        and units of ``SCENARIO``); :func:`parse_scenario` reads it back to an equal one."""
        return write(SCENARIO, self)


def default_species_table() -> dict[str, dict]:
    """The shipped species table (sim/data/species.yaml), raw (a fresh copy each call)."""
    return copy.deepcopy(_species_table())


@functools.lru_cache(maxsize=1)
def _species_table() -> dict[str, dict]:
    # read once: the pure-Python YAML loader took 13 ms a scenario for these six lines
    return load_yaml(_DATA / "species.yaml")


def _diffusion_at(entry: dict, temperature: float) -> float:
    """Interpolate the tabulated D (25 C, 37 C) linearly in T; nm^2/ps."""
    d25 = parse_quantity(entry["diffusion_25C"], "diffusion")
    d37 = parse_quantity(entry["diffusion_37C"], "diffusion")
    return d25 + (d37 - d25) * (temperature - 298.15) / 12.0


# --- readers of values with an unusual shape (Field.read) -----------------------------------
# Each is read(reader, field, value, key, values, ctx): `key` is the value's key path,
# `values` what its section read so far, `ctx` what the levels above read (the top level's
# temperature, box, species; `siblings`, the list entries before this one; `source`).

def _file_stem(values: dict, ctx: dict) -> str:
    """The default name: the file's stem, made plain."""
    stem = re.sub(r"[^A-Za-z0-9._+-]", "_", Path(ctx["source"]).stem).lstrip(".")[:MAX_NAME]
    return stem or "scenario"


def _read_name(r: Reader, f: Field, name, key: str, values, ctx) -> str:
    """A plain name, since runs/<name> is the default run directory (a '/' or '..' would
    put it elsewhere)."""
    if isinstance(name, int) and not isinstance(name, bool):
        name = str(name)  # `name: 2024` reads as a number
    if not isinstance(name, str):
        r.fail(key, f"must be a plain name (letters, digits, '._+-'), got "
                    f"{type(name).__name__} {brief(name)}")
    if len(name) > MAX_NAME or not _PLAIN_NAME.fullmatch(name):
        r.fail(key, f"must be a plain name: ASCII letters, digits and '._+-', at most "
                    f"{MAX_NAME} characters, not starting with '.' (it names the run "
                    f"directory runs/<name>), got {brief(name)}")
    return name


def _read_description(r: Reader, f: Field, value, key: str, values, ctx) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        r.fail(key, f"must be text, got {type(value).__name__} {brief(value)}")
    if len(value) > MAX_DESCRIPTION:
        r.fail(key, f"is {len(value)} characters long, more than the {MAX_DESCRIPTION} "
                    f"accepted (put long notes in YAML comments)")
    return value.strip()


def _read_species(r: Reader, f: Field, overrides, key: str, values, ctx) -> dict[str, Species]:
    """The shipped table at the scenario's temperature, with `overrides` (name -> fields)
    changing or adding entries; a new species needs every field."""
    section = f.item.section
    result: dict[str, Species] = {}
    for name, entry in default_species_table().items():
        result[name] = Species(name, int(entry["valence"]),
                               parse_quantity(entry["diameter"], "length"),
                               _diffusion_at(entry, ctx["temperature"]))
    if not isinstance(overrides, dict):
        r.fail(key, f"must be a mapping of species name to fields, got {brief(overrides)}")
    if len(overrides) > MAX_SPECIES:
        r.fail(key, f"{len(overrides)} species; at most {MAX_SPECIES} are accepted")
    for name, entry in overrides.items():
        skey = _join(key, name)
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_SPECIES_NAME \
                or not name.isprintable():
            r.fail(skey, f"a species name must be text of at most {MAX_SPECIES_NAME} "
                         f"printable characters, e.g. K+, got {brief(name)}")
        known = result.get(name)
        base = None if known is None else {g.key: getattr(known, g.attr) for g in section.fields}
        given = r.section(section, entry, skey, ctx, base=base,
                          required=frozenset() if known else None)
        result[name] = Species(name, **attributes(section, given))
    return result


def _known_species(r: Reader, name, key: str, species: dict[str, Species]) -> str:
    if not isinstance(name, str) or name not in species:
        r.fail(key, f"unknown species {brief(name)}; known: {', '.join(species)} "
                    f"(define new ones under 'species:' with valence, diameter, diffusion)")
    return name


def _read_species_name(r: Reader, f: Field, name, key: str, values, ctx) -> str:
    return _known_species(r, name, key, ctx["species"])


def _check_species_key(r: Reader, name, key: str, values, ctx):
    _known_species(r, name, key, ctx["species"])


def _read_lateral(r: Reader, f: Field, lateral, key: str, values, ctx) -> tuple[float, float]:
    """(Lx, Ly) nm from one length (a square) or a list of two."""
    if isinstance(lateral, list):
        if len(lateral) != 2:
            r.fail(key, f"must be one length or a list of two (x, y), got {brief(lateral)}")
        return tuple(r.value(f.item, v, f"{key}[{i}]", values, ctx)
                     for i, v in enumerate(lateral))
    side = r.value(f.item, lateral, key, values, ctx)
    return (side, side)


def _read_compartment_name(r: Reader, f: Field, name, key: str, values, ctx) -> str:
    if isinstance(name, int) and not isinstance(name, bool):
        name = str(name)
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME \
            or not name.isprintable():
        r.fail(key, f"must be a name of at most {MAX_NAME} printable characters, "
                    f"got {brief(name)}")
    return name


def _read_channels(r: Reader, f: Field, raw, key: str, values, ctx) -> tuple[Channel, ...]:
    """A membrane's channel entries, each one pore or a grid of `count`."""
    if not isinstance(raw, list):
        r.fail(key, "must be a list of channels")
    channels: list[Channel] = []
    sub = dict(ctx, siblings=channels)  # the `count` rule sees how many are placed already
    for j, entry in enumerate(raw):
        channels.extend(r.value(f.item, entry, f"{key}[{j}]", values, sub))
        if len(channels) > MAX_CHANNELS_PER_MEMBRANE:
            r.fail(key, f"more than {MAX_CHANNELS_PER_MEMBRANE} channels in one membrane; "
                        f"use fewer")
    return tuple(channels)


def _read_position(r: Reader, f: Field, pos, key: str, values, ctx) -> tuple[float, float]:
    """(x, y) nm inside the box: each in [0, box edge)."""
    if not isinstance(pos, list) or len(pos) != 2:
        r.fail(key, f"must be [x, y] with units, got {brief(pos)}")
    xy = []
    for k, (v, lim) in enumerate(zip(pos, ctx["box"]["lateral"])):
        q = r.value(f.item, v, f"{key}[{k}]", values, ctx)
        if q >= lim:
            r.fail(f"{key}[{k}]", f"{_text(v)} is outside the box: must be in "
                                  f"[0 nm, {lim:g} nm)")
        xy.append(q)
    return tuple(xy)


def _read_permeant(r: Reader, f: Field, permeant, key: str, values, ctx) -> list[str]:
    if isinstance(permeant, str):
        permeant = [permeant]
    if not isinstance(permeant, list):
        r.fail(key, "must be a list of species names, e.g. [K+]")
    for k, name in enumerate(permeant):
        _known_species(r, name, f"{key}[{k}]", ctx["species"])
    return permeant


def _check_barrier_key(r: Reader, name, key: str, values, ctx):
    permeant = values["permeant"]
    if name not in permeant:
        r.fail(key, f"barrier for {brief(name)}, which is not in permeant {brief(permeant)}")


def _read_alpha(r: Reader, f: Field, given, key: str, values, ctx) -> float:
    """The Ewald splitting parameter, nm^-1 (not a dimension of sim.units)."""
    if isinstance(given, bool) or not isinstance(given, (str, int, float)) or \
            len(str(given)) > units.MAX_QUANTITY_CHARS:
        r.fail(key, f"must be an inverse length like '1.2 nm^-1', got {brief(given)}")
    number = str(given).replace("nm^-1", "").replace("/nm", "").strip()
    try:
        alpha = float(number)
    except ValueError:
        r.fail(key, f"must be an inverse length like '1.2 nm^-1', got {brief(given)}")
    if not str(given).strip().endswith(("nm^-1", "/nm")):
        r.fail(key, f"missing unit: write '{number} nm^-1'")
    if not (alpha > 0 and math.isfinite(alpha)):
        r.fail(key, f"must be > 0 nm^-1 and finite, got {_text(given)}")
    return alpha


def _read_mesh(r: Reader, f: Field, given, key: str, values, ctx) -> tuple[int, int, int]:
    m = [given, given, given] if isinstance(given, int) else given
    if not (isinstance(m, list) and len(m) == 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and 4 <= v <= MAX_MESH for v in m)):
        r.fail(key, f"must be an integer from 4 to {MAX_MESH} or a list of three, "
                    f"got {brief(given)}")
    return tuple(m)


def _size_limit(maximum: float, what: str) -> Limit:
    """At most `maximum` nm, with the message that says why sizes are bounded."""
    return Limit(f"a {what} of {{text}} is more than the {maximum:g} nm accepted (the "
                 f"memory and time a run takes grow with the box)", hi=maximum)


def grid_positions(count: int, box_xy) -> list[tuple[float, float]]:
    """Lay ``count`` channels on an nx x ny grid (nx*ny == count) with the aspect ratio
    closest to the box's, each at the centre of its cell (nm)."""
    lx, ly = box_xy
    best = min(((nx, count // nx) for nx in range(1, count + 1) if count % nx == 0),
               key=lambda g: abs(math.log((lx / g[0]) / (ly / g[1]))))
    nx, ny = best
    return [((ix + 0.5) * lx / nx, (iy + 0.5) * ly / ny) for iy in range(ny) for ix in range(nx)]


def _check_channel_overlap(r: Reader, channels, key, box_xy):
    """Refuse two pores of one membrane that overlap (periodic minimum image in x, y).

    A hash grid, so that 1e4 pores are checked in milliseconds rather than the 5e7 pair
    tests of comparing all pairs: each pore is entered in every cell its bounding square
    touches, and two overlapping disks share a point, hence a cell. The cell edge is the
    pores' RMS diameter (at least the smallest diameter), which keeps the number of cell
    entries O(n) for disjoint pores whatever the mix of radii. Pores are entered in order
    and each is compared with those before it, so the pair reported is the one with the
    lowest second index (then the lowest first)."""
    n = len(channels)
    if n < 2:
        return
    lx, ly = box_xy
    diam = [2 * ch.radius for ch in channels]
    edge = max(min(diam), math.sqrt(sum(d * d for d in diam) / n))
    nx, ny = max(1, int(lx / edge)), max(1, int(ly / edge))
    wx, wy = lx / nx, ly / ny
    cells: dict[tuple[int, int], list[int]] = {}
    for b, cb in enumerate(channels):
        rx, ry = _cell_span(cb.x, cb.radius, wx, nx), _cell_span(cb.y, cb.radius, wy, ny)
        mine = [(ix, iy) for ix in rx for iy in ry]
        seen, hits = set(), []
        for cell in mine:
            for a in cells.get(cell, ()):
                if a in seen:
                    continue
                seen.add(a)
                ca = channels[a]
                dx = (ca.x - cb.x + lx / 2) % lx - lx / 2
                dy = (ca.y - cb.y + ly / 2) % ly - ly / 2
                if math.hypot(dx, dy) < ca.radius + cb.radius:
                    hits.append(a)
        if hits:
            a = min(hits)
            ca = channels[a]
            r.fail(key, f"channels {a} at ({ca.x:g}, {ca.y:g}) nm and {b} at "
                        f"({cb.x:g}, {cb.y:g}) nm overlap (radii {ca.radius:g}, "
                        f"{cb.radius:g} nm); place them further apart or use fewer")
        for cell in mine:
            cells.setdefault(cell, []).append(b)


def _cell_span(centre: float, radius: float, width: float, n: int) -> list[int]:
    """Periodic cell indices (cells of `width`, n of them) touched by [centre -+ radius]."""
    lo, hi = math.floor((centre - radius) / width), math.floor((centre + radius) / width)
    if hi - lo + 1 >= n:
        return list(range(n))
    return sorted({i % n for i in range(lo, hi + 1)})


# --- rules across keys (Rule.check) ---------------------------------------------------------
# Each is check(reader, raw, values, key, ctx): `raw` the section as written, `values` what
# it read so far, `key` its key path. The one-line rule each enforces is in SCENARIO below.

def _box_z(values: dict) -> float:
    """The box's z edge, nm: compartment depths plus membrane thicknesses."""
    return sum(c.depth for c in values["compartments"]) + \
        sum(m.thickness for m in values["membranes"])


def _one_membrane(r: Reader, raw, values, key, ctx):
    if len(values["membranes"]) == 1:
        r.fail("membranes", "one membrane in a periodic box faces the same compartment on both "
                            "sides; use 0 (bulk electrolyte) or 2 or more membranes")


def _compartments_for_membranes(r: Reader, raw, values, key, ctx):
    membranes, compartments = values["membranes"], values["compartments"]
    needed = max(1, len(membranes))
    if len(compartments) != needed:
        r.fail("compartments", f"{len(membranes)} membranes need {needed} compartment(s) "
                               f"(periodic z: compartment k lies before membrane k), "
                               f"got {len(compartments)}")


def _box_z_limit(r: Reader, raw, values, key, ctx):
    lz = _box_z(values)
    if lz > MAX_BOX_Z:
        r.fail("compartments", f"the box is {lz:g} nm along z (compartment depths plus "
                               f"membrane thicknesses), more than the {MAX_BOX_Z:g} nm "
                               f"accepted; make the compartments shallower")


def _profile_bins(r: Reader, raw, values, key, ctx):
    lz, bin_width = _box_z(values), values["observables"]["profile_bin_width"]
    if lz / bin_width > MAX_PROFILE_BINS:
        r.fail("observables.profile_bin_width", f"{lz:g} nm of box in bins of "
                                                f"{bin_width:g} nm is {lz / bin_width:.3g} "
                                                f"bins, more than {MAX_PROFILE_BINS}; use "
                                                f"bins of at least "
                                                f"{lz / MAX_PROFILE_BINS:.3g} nm")


def _cutoff_in_box(r: Reader, raw, values, key, ctx):
    es, edges = values["electrostatics"], values["box"]["lateral"] + (_box_z(values),)
    if es.cutoff is not None and es.cutoff > 0.5 * min(edges):
        r.fail("electrostatics.cutoff", f"{es.cutoff:g} nm exceeds half the smallest box "
                                        f"edge, {0.5 * min(edges):g} nm")


def _barriers_need_em(r: Reader, raw, values, key, ctx):
    if values["run"].integrator == "leimkuhler-matthews" and any(
            ch.barriers for m in values["membranes"] for ch in m.channels):
        r.fail("run.integrator", "channel barriers need 'integrator: euler-maruyama': the "
                                 "Metropolis test at a pore mouth is exact only with "
                                 "uncorrelated noise, and Leimkuhler-Matthews correlates "
                                 "successive steps (it biases the pore's occupancy)")


def _used_species(values: dict) -> set[str]:
    """The species a scenario uses: in a concentration, a channel's permeant list, or as a
    counter-ion. Only these are simulated and written back."""
    used = {n for c in values["compartments"] for n, _ in c.concentrations}
    used |= {n for m in values["membranes"] for ch in m.channels for n in ch.permeant}
    used |= {m.counterion for m in values["membranes"] if m.counterion}
    return used


def _diffusion_positive(r: Reader, raw, values, key, ctx):
    used, temperature = _used_species(values), values["temperature"]
    for sp in values["species"].values():
        if sp.name in used and not sp.diffusion > 0:  # the table's interpolation fails at T
            r.fail("temperature", f"at {temperature:g} K the diffusion coefficient of "
                                  f"{sp.name} interpolated from species.yaml is "
                                  f"{sp.diffusion:.3g} nm^2/ps, not > 0; give "
                                  f"species.{sp.name}.diffusion")


def _needs_ions(r: Reader, raw, values, key, ctx):
    if not any(c > 0 for comp in values["compartments"] for _, c in comp.concentrations) and \
            not any(m.surface_charge for m in values["membranes"]):
        r.fail("compartments", "every concentration is 0: a run needs ions (the currents, "
                               "the membrane potential and every observable are theirs; with "
                               "electrostatics: ewald at least two charged ones)")


def _electroneutral(r: Reader, raw, values, key, ctx):
    """Each compartment's concentrations must carry zero net charge (1e-6 mM tolerance)."""
    valence = {name: sp.valence for name, sp in values["species"].items()}
    for i, comp in enumerate(values["compartments"]):
        excess = sum(valence[n] * c for n, c in comp.concentrations) * units.PER_NM3_TO_MM
        if abs(excess) > 1e-6:
            r.fail(f"compartments[{i}].concentrations",
                   f"compartment {comp.name!r} is not electroneutral: net charge "
                   f"{excess:+.6g} mM (sum of valence x concentration must be 0)")


def _unique_compartment_name(r: Reader, raw, values, key, ctx):
    name = values["name"]
    if any(c.name == name for c in ctx["siblings"]):
        r.fail(f"{key}.name", f"duplicate compartment name {name!r}")


def _counterion_given(r: Reader, raw, values, key, ctx):
    if values["surface_charge"] == 0.0:
        if "counterion" in raw:
            r.fail(f"{key}.counterion", "given without a surface_charge")
    elif "counterion" not in raw:
        r.fail(f"{key}.counterion", "is required with a surface_charge: the species added "
                                    "to each facing compartment to balance it, e.g. K+")


SURFACE_CHARGE_ROUNDING = 5e-3  # relative: a face's charge may be moved this far to whole e


def _whole_counterions(r: Reader, raw, values, key, ctx):
    """A face must carry a whole number of counter-ion charges. A value within
    SURFACE_CHARGE_ROUNDING of that (e.g. 0.01 C/m^2 written for 0.0625 e/nm^2) is moved
    onto it; farther is refused."""
    sigma, name = values["surface_charge"], values["counterion"]
    if sigma == 0.0:
        return
    box_xy = ctx["box"]["lateral"]
    valence = ctx["species"][name].valence
    per_face = -sigma * box_xy[0] * box_xy[1] / valence
    if per_face <= 0:
        r.fail(f"{key}.counterion", f"{name} (valence {valence:+d}) has the sign of the "
                                    f"surface charge {sigma:+g} e/nm^2; a counter-ion has "
                                    f"the opposite sign")
    area = box_xy[0] * box_xy[1]
    whole = round(per_face)
    if whole < 1 or abs(per_face - whole) > SURFACE_CHARGE_ROUNDING * whole:
        near = sorted({max(1, math.floor(per_face)), max(1, math.ceil(per_face))})
        options = " or ".join(f"{-n * valence / area:.6g} e/nm^2 ({n} per face)" for n in near)
        r.fail(f"{key}.surface_charge", f"{sigma:g} e/nm^2 x {area:g} nm^2 is "
                                        f"{per_face:.6g} {name} per face, not a whole "
                                        f"number; use e.g. {options}")
    values["surface_charge"] = -whole * valence / area


def _channels_apart(r: Reader, raw, values, key, ctx):
    _check_channel_overlap(r, values["channels"], f"{key}.channels", ctx["box"]["lateral"])


def _channels_in_all(r: Reader, raw, values, key, ctx):
    if len(values["channels"]) + sum(len(m.channels) for m in ctx["siblings"]) > MAX_CHANNELS:
        r.fail(f"{key}.channels", f"more than {MAX_CHANNELS} channels in all membranes; "
                                  f"use fewer")


def _one_placement(r: Reader, raw, values, key, ctx):
    if ("position" in raw) == ("count" in raw):
        r.fail(key, "give exactly one of 'position: [x, y]' or 'count: N' (laid on a grid)")


def _pore_fits_box(r: Reader, raw, values, key, ctx):
    radius, box_xy = values["radius"], ctx["box"]["lateral"]
    if 2 * radius >= min(box_xy):
        r.fail(f"{key}.radius", f"channel diameter {2 * radius:g} nm must be smaller than the "
                                f"box's lateral size {min(box_xy):g} nm")


def _room_for_count(r: Reader, raw, values, key, ctx):
    count = values["count"]
    if count is not None and count > MAX_CHANNELS_PER_MEMBRANE - len(ctx["siblings"]):
        r.fail(f"{key}.count", f"{count} channels; a membrane takes at most "
                               f"{MAX_CHANNELS_PER_MEMBRANE} (every ion in a membrane "
                               f"looks at each of its pores every step)")


def _steps_or_duration(r: Reader, raw, values, key, ctx):
    if ("steps" in raw) == ("duration" in raw):
        r.fail(key, "give exactly one of 'steps: N' or 'duration: T' (e.g. '20 ns')")


def _duration_in_steps(r: Reader, raw, values, key, ctx):
    if values["duration"] is None:
        return
    dt = values["dt"]
    ratio = values["duration"] / dt
    if not ratio <= MAX_STEPS:  # also inf: 1e300 ns in steps of 1e-300 ps
        r.fail(f"{key}.duration", f"{_text(raw['duration'])} is more than {MAX_STEPS:.0e} "
                                  f"steps of {display_quantity(dt, 'time')}")
    values["steps"] = int(round(ratio))


def _intervals_multiple(r: Reader, raw, values, key, ctx):
    sample, frame = values["sample_interval"], values["frame_interval"]
    checkpoint = values["checkpoint_interval"]
    if frame % sample or checkpoint % sample:
        r.fail(key, f"frame_interval ({frame}) and checkpoint_interval ({checkpoint}) must be "
                    f"multiples of sample_interval ({sample} steps)")


# --- building records where a section's attributes are not enough -------------------------

def _build_channels(values: dict, ctx: dict) -> list[Channel]:
    """One entry's pores: the one at `position`, or `count` on a grid."""
    positions = [values["position"]] if values["position"] is not None else \
        grid_positions(values["count"], ctx["box"]["lateral"])
    radius, permeant, barriers = values["radius"], values["permeant"], list(values["barriers"])
    return [Channel(x, y, radius, tuple(permeant), tuple(barriers)) for x, y in positions]


def _build_scenario(values: dict, ctx: dict) -> Scenario:
    """The scenario, with only the species it uses (in the table's order, then new ones)."""
    used = _used_species(values)
    fields = attributes(SCENARIO, values)
    fields["species"] = tuple(sp for name, sp in values["species"].items() if name in used)
    return Scenario(**fields, source=ctx["source"])


# --- the schema: every key, in one place ----------------------------------------------------
# Order is the order keys are read (first error wins), written back and documented.
_TABLE = "from sim/data/species.yaml; required for a new species"
_STEPS_LIMIT = Limit(f"must be at most {MAX_STEPS:.0e} steps, got {{brief}}", hi=MAX_STEPS)

SPECIES = Section(
    "species", "An ion species: an entry of sim/data/species.yaml changed, or a new one.", (
        Field("valence", INTEGER, "Charge of one ion.", unit_doc="e", default_doc=_TABLE,
              limit=Limit(f"must be a non-zero integer charge (in e) from -{MAX_VALENCE} to "
                          f"{MAX_VALENCE}, got {{brief}}", hi=MAX_VALENCE, magnitude=True,
                          nonzero=True)),
        Field("diameter", QUANTITY, "Ion diameter (the WCA contact distance; an ion fits a "
              "pore of larger radius than its own).", dimension="length", minimum=0.0,
              default_doc=_TABLE),
        Field("diffusion", QUANTITY, "Diffusion coefficient in water.", dimension="diffusion",
              minimum=0.0, default_doc="from sim/data/species.yaml, linear in T between 25 C "
              "and 37 C; required for a new species"),
    ), record=Species, key_attr="name")

CHANNEL = Section(
    "channel", "A cylindrical pore through the membrane along z: one at `position`, or "
    "`count` of them on a grid.", (
        Field("position", LIST, "Where the pore's axis crosses the membrane; give this or "
              "`count`.", attr=("x", "y"), default=None, read=_read_position,
              item=Field("x", QUANTITY, "", dimension="length", minimum=0.0, strict=False),
              type_doc="[x, y] lengths", bounds_doc="each in [0, box edge)"),
        Field("count", INTEGER, "Pores laid on an nx x ny grid (nx ny = count, cells nearest "
              "the box's aspect ratio, each pore at a cell's centre); give this or "
              "`position`. Written back as one entry per pore.", attr=None, default=None,
              minimum=0, written=False),
        Field("radius", QUANTITY, "Pore radius; an ion enters if its radius is smaller.",
              dimension="length", minimum=0.0),
        Field("permeant", LIST, "The species the pore admits (one name or a list).",
              read=_read_permeant, item=Field("species", TEXT, ""),
              type_doc="list of species"),
        Field("barriers", MAPPING, "Energy of a permeant species inside the pore: > 0 a "
              "barrier (partial selectivity), < 0 a binding well; absent is 0.",
              default={}, null_ok=True, omit_empty=True, key_check=_check_barrier_key,
              key_doc="permeant species",
              shape="must map permeant species to energies, e.g. {Na+: 2 kT}",
              item=Field("barrier", QUANTITY, "The species' energy in the pore.",
                         dimension="energy", kT=True, limit=Limit(
                             f"{{text}} is beyond +-{MAX_BARRIER_KT:g} kT (a barrier that "
                             f"high is never crossed, a well that deep never left)",
                             hi=MAX_BARRIER_KT, magnitude=True, per_kT=True))),
    ), record=Channel, build=_build_channels,
    # where the pore is, last: a bad radius or species is reported before a bad position
    read_order=("radius", "permeant", "barriers", "position", "count"),
    rules=(
        Rule("", "exactly one of `position` and `count`", _one_placement, after=START),
        Rule("radius", "the pore's diameter is smaller than the smaller box edge",
             _pore_fits_box, after="radius"),
        Rule("count", f"at most {MAX_CHANNELS_PER_MEMBRANE} pores in one membrane",
             _room_for_count, after="count"),
    ))

MEMBRANE = Section(
    "membrane", "A lipid slab normal to z: membrane k separates compartment k from "
    "compartment k + 1 (the last one from compartment 0, across the periodic boundary).", (
        Field("thickness", QUANTITY, "Slab thickness.", dimension="length", minimum=0.0,
              limit=_size_limit(MAX_THICKNESS, "membrane thickness")),
        Field("permittivity", NUMBER, "Relative permittivity of the slab.", minimum=0.0,
              default=2.0),
        Field("surface_charge", QUANTITY, "A fixed uniform sheet of charge on each face.",
              dimension="surface_charge", default="0 e/nm^2", limit=Limit(
                  f"|{{value:g}}| e/nm^2 is more than the {MAX_SURFACE_CHARGE:g} e/nm^2 "
                  f"accepted (one charge per 0.5 nm^2 of membrane)", hi=MAX_SURFACE_CHARGE,
                  magnitude=True)),
        Field("counterion", TEXT, "The species added to each compartment the membrane faces, "
              "|surface_charge| x area / |valence| per face, to balance it.", default=None,
              read=_read_species_name, omit_empty=True, type_doc="species",
              default_doc="none (required with a surface charge)"),
        Field("channels", LIST, "The membrane's pores.", default=[], null_ok=True,
              read=_read_channels, item=Field("channel", SECTION, "", section=CHANNEL),
              bounds_doc=f"at most {MAX_CHANNELS_PER_MEMBRANE} pores"),
    ), record=Membrane, rules=(
        Rule("counterion", "`counterion` is given if and only if `surface_charge` is not 0",
             _counterion_given, after="surface_charge"),
        Rule("surface_charge", f"the counter-ion has the opposite sign, and each face holds a "
             f"whole number of them (a charge within {SURFACE_CHARGE_ROUNDING:.1%} of one is "
             f"moved onto it)", _whole_counterions, after="counterion"),
        Rule("channels", "no two pores of a membrane overlap (periodically in x and y)",
             _channels_apart),
        Rule("channels", f"at most {MAX_CHANNELS} pores in all membranes", _channels_in_all),
    ))

COMPARTMENT = Section(
    "compartment", "Water between two membrane faces (without membranes, the whole box).", (
        Field("name", TEXT, "Names the compartment in reports.", read=_read_compartment_name,
              default=Computed("`compartment<k>`, k its index",
                               lambda values, ctx: f"compartment{ctx['index']}"),
              bounds_doc=f"at most {MAX_NAME} printable characters"),
        Field("depth", QUANTITY, "Extent along z, face to face.", dimension="length",
              minimum=0.0, limit=_size_limit(MAX_COMPARTMENT_DEPTH, "compartment depth")),
        Field("concentrations", MAPPING, "Initial concentration of each species (the "
              "compartment gets round(c V) ions of it, V the volume open to its centres).",
              key_check=_check_species_key, key_doc="species", min_items=1,
              shape="must map species names to concentrations, e.g. {K+: 150 mM, A-: 150 mM}",
              item=Field("concentration", QUANTITY, "Concentration of the species.",
                         dimension="concentration", minimum=0.0, strict=False, limit=Limit(
                             "{text} is more than the 100 M accepted (pure water is 55 M)",
                             hi=MAX_CONCENTRATION, doc="<= 100 M"))),
    ), record=Compartment, rules=(
        Rule("name", "compartment names are unique", _unique_compartment_name, after="name"),
    ))

ELECTROSTATICS = Section(
    "electrostatics", "Coulomb forces between ions, Ewald-summed; the tuner chooses alpha, "
    "cutoff, mesh and order for `force_error` unless they are given.", (
        Field("method", CHOICE, "`off` leaves Coulomb forces out.",
              choices=ELECTROSTATICS_METHODS, default="ewald"),
        Field("force_error", NUMBER, "The RMS relative force error the tuner aims at.",
              minimum=0.0, default=1e-3, limit=Limit(
                  "is a relative RMS force error: must be < 1, got {value}", hi=1,
                  hi_strict=True)),
        Field("alpha", NUMBER, "Ewald splitting parameter.", default=None, read=_read_alpha,
              write=lambda alpha: f"{alpha:.10g} nm^-1", omit_empty=True,
              type_doc="inverse length", unit_doc="nm^-1", bounds_doc="> 0 nm^-1",
              default_doc="tuned"),
        Field("cutoff", QUANTITY, "Real-space cutoff.", dimension="length", minimum=0.0,
              default=None, omit_empty=True, default_doc="tuned"),
        Field("mesh", LIST, "Reciprocal-space mesh points per box edge (one number: all "
              "three).", default=None, read=_read_mesh, item=Field("n", INTEGER, ""),
              omit_empty=True, type_doc="integer or [nx, ny, nz]", default_doc="tuned",
              bounds_doc=f"each 4 to {MAX_MESH}"),
        Field("order", INTEGER, "B-spline order of the mesh assignment.", minimum=3,
              strict=False, default=None, omit_empty=True, default_doc="tuned", limit=Limit(
                  "B-spline order must be between 3 and 8, got {value}", hi=8)),
    ), record=Electrostatics, shorthand="method")

RUN = Section(
    "run", "Time stepping, sampling and output.", (
        Field("dt", QUANTITY, "Time step.", dimension="time", minimum=0.0),
        Field("steps", INTEGER, "Number of time steps; give this or `duration`.",
              default=None, minimum=0, default_doc="from `duration`", limit=Limit(
                  f"must be at most {MAX_STEPS:.0e}, got {{brief}}", hi=MAX_STEPS)),
        Field("duration", QUANTITY, "Simulated time, run as round(duration / dt) steps (and "
              "written back as `steps`); give this or `steps`.", dimension="time",
              minimum=0.0, default=None, attr=None, written=False),
        Field("seed", INTEGER, "Seed of the random numbers (a run is reproduced bit for bit "
              "from it).", minimum=0, strict=False,
              limit=Limit("must be < 2^63, got {brief}", hi=2**63, hi_strict=True,
                          doc="< 2^63")),
        Field("sample_interval", STEPS, "Observables (V_m, currents, profiles) are sampled "
              "every this many steps.", per="dt", default=100, limit=_STEPS_LIMIT),
        Field("frame_interval", STEPS, "Positions are written to trajectory.h5 every this "
              "many steps.", per="dt", limit=_STEPS_LIMIT,
              default=Computed("10 x `sample_interval`",
                               lambda values, ctx: 10 * values["sample_interval"])),
        Field("checkpoint_interval", STEPS, "checkpoint.npz is written every this many "
              "steps.", per="dt", limit=_STEPS_LIMIT,
              default=Computed("max(`frame_interval`, 100 x `sample_interval`)",
                               lambda values, ctx: max(values["frame_interval"],
                                                       100 * values["sample_interval"]))),
        Field("integrator", CHOICE, "The Brownian step.", choices=INTEGRATORS,
              default=INTEGRATORS[0]),
        Field("equilibration", QUANTITY, "Simulated time left out of the averages; `auto` "
              "finds where the plateau starts.", dimension="time", minimum=0.0, strict=False,
              default="auto", none_text="auto"),
    ), record=RunSettings, rules=(
        Rule("", "exactly one of `steps` and `duration`", _steps_or_duration, after="dt"),
        Rule("duration", f"duration / dt is at most {MAX_STEPS:.0e} steps", _duration_in_steps,
             after="duration"),
        Rule("", "`frame_interval` and `checkpoint_interval` are multiples of "
             "`sample_interval`", _intervals_multiple, after="checkpoint_interval"),
    ))

SOLVENT = Section("solvent", "Implicit water.", (
    Field("permittivity", NUMBER, "Relative permittivity of the water.", minimum=0.0,
          attr="solvent_permittivity", default=Computed(
              "water at `temperature` (Malmberg & Maryott 1956)",
              lambda values, ctx: water.relative_permittivity(ctx["temperature"]))),
))

BOX = Section("box", "The periodic box, lateral edges; its z edge is the sum of compartment "
              "depths and membrane thicknesses.", (
    Field("lateral", LIST, "Edges Lx, Ly (one length: a square).", attr="box_xy",
          read=_read_lateral, type_doc="length or [Lx, Ly]",
          item=Field("edge", QUANTITY, "", dimension="length", minimum=0.0,
                     limit=_size_limit(MAX_LATERAL, "box edge"))),
))

INTERACTIONS = Section("interactions", "Short-range forces.", (
    Field("wca_epsilon", QUANTITY, "Strength of the WCA repulsion between ions.",
          dimension="energy", kT=True, minimum=0.0, strict=False, default="1 kT"),
))

OBSERVABLES = Section("observables", "What is measured besides V_m and the crossings.", (
    Field("profile_bin_width", QUANTITY, "Bin width of the density and potential profiles "
          "along z.", dimension="length", minimum=0.0, default="0.25 nm"),
))

SCENARIO = Section(
    "scenario", "A scenario is a YAML mapping of the keys below; values with a dimension "
    "carry their unit (`\"150 mM\"`, `\"4 nm\"`), unknown keys are errors. Along z "
    "(periodic) lie compartment 0, membrane 0, compartment 1, membrane 1, ...: membrane k "
    "separates compartment k from compartment k + 1, the last one from compartment 0. A "
    "key path such as `membranes[].channels[].radius` stands for `membranes[0]."
    "channels[1].radius`, the form error messages use.", (
        Field("name", TEXT, "Names the default run directory, runs/<name>.", read=_read_name,
              default=Computed("the file's name without its suffix, made plain", _file_stem),
              bounds_doc=f"ASCII letters, digits, `._+-`, at most {MAX_NAME} characters, not "
                         f"starting with `.`"),
        Field("description", TEXT, "A sentence or two for reports.", read=_read_description,
              default="", bounds_doc=f"at most {MAX_DESCRIPTION} characters"),
        Field("temperature", QUANTITY, "Temperature of the bath.", dimension="temperature",
              minimum=0.0, limit=Limit(
                  f"must be between {T_MIN:g} K and {T_MAX:g} K (0-100 C, where the water "
                  f"permittivity fit of Malmberg & Maryott holds and the species' diffusion "
                  f"coefficients, interpolated from 25 C and 37 C, stay positive), got "
                  f"{{text}}", lo=T_MIN, hi=T_MAX),
              bounds_doc=f"{T_MIN:g} K to {T_MAX:g} K (0-100 C)"),
        Field("solvent", SECTION, "Implicit water.", attr=None, default={}, section=SOLVENT),
        Field("species", MAPPING, "Changes to, or additions to, the species table "
              "(sim/data/species.yaml); only the species used are simulated and written "
              "back.", default={}, null_ok=True, read=_read_species, key_doc="name",
              item=Field("species", SECTION, "", section=SPECIES),
              bounds_doc=f"at most {MAX_SPECIES} entries, names of at most "
                         f"{MAX_SPECIES_NAME} printable characters"),
        Field("box", SECTION, "The periodic box.", attr=None, section=BOX),
        Field("compartments", LIST, "The water compartments, in order along z.",
              min_items=1, max_items=MAX_MEMBRANES,
              shape="must be a non-empty list of compartments (name, depth, concentrations)",
              item=Field("compartment", SECTION, "", section=COMPARTMENT)),
        Field("membranes", LIST, "The membranes, in order along z: none (bulk electrolyte) "
              "or two or more.", default=[], null_ok=True, max_items=MAX_MEMBRANES,
              shape="must be a list of membranes, got {type}",
              item=Field("membrane", SECTION, "", section=MEMBRANE)),
        Field("electrostatics", SECTION, "Coulomb forces.", default="ewald",
              section=ELECTROSTATICS),
        Field("interactions", SECTION, "Short-range forces.", attr=None, default={},
              null_ok=True, section=INTERACTIONS),
        Field("observables", SECTION, "Measurements.", attr=None, default={}, null_ok=True,
              section=OBSERVABLES),
        Field("run", SECTION, "Time stepping and output.", section=RUN),
    ), record=Scenario, build=_build_scenario, rules=(
        Rule("membranes", "one membrane is refused: in a periodic box it would face the same "
             "compartment on both sides", _one_membrane, after="membranes"),
        Rule("compartments", "n membranes need max(1, n) compartments",
             _compartments_for_membranes, after="membranes"),
        Rule("compartments", f"the box's z edge (depths plus thicknesses) is at most "
             f"{MAX_BOX_Z:g} nm", _box_z_limit, after="observables"),
        Rule("observables.profile_bin_width", f"at most {MAX_PROFILE_BINS} profile bins along "
             f"z", _profile_bins, after="observables"),
        Rule("electrostatics.cutoff", "at most half the smallest box edge", _cutoff_in_box,
             after="observables"),
        Rule("run.integrator", "channel barriers need `euler-maruyama` (the Metropolis test at "
             "a pore mouth is exact only with uncorrelated noise)", _barriers_need_em,
             after="run"),
        Rule("temperature", "each species used has a diffusion coefficient > 0 at the "
             "temperature", _diffusion_positive),
        Rule("compartments", "some concentration is > 0 or some membrane is charged: a run "
             "needs ions", _needs_ions),
        Rule("compartments[].concentrations", "each compartment is electroneutral: the sum of "
             "valence x concentration is 0 (within 1e-6 mM)", _electroneutral),
    ))

TOP_KEYS = set(SCENARIO.keys)


# --- reading -------------------------------------------------------------------------------

def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file. Raises ScenarioError naming file and key."""
    source = str(path)
    return parse_scenario(load_yaml(path, source), source)


def parse_scenario(raw: Any, source: str = "<scenario>") -> Scenario:
    """Validate an already-parsed YAML tree (see load_scenario)."""
    r = Reader(source)
    if not isinstance(raw, dict):
        r.fail("", f"must be a YAML mapping of {sorted(TOP_KEYS)}, got {type(raw).__name__}")
    # The top level's values are the context of every section below it: the temperature
    # for kT and D, the box for positions, the species table for names.
    ctx = {"source": source}
    values = r.section(SCENARIO, raw, "", ctx, values=ctx)
    return build(SCENARIO, values, ctx)


# --- the reference -------------------------------------------------------------------------
REFERENCE_PATH = Path(__file__).resolve().parents[1] / "docs" / "scenarios.md"
REGENERATE = "python -m sim.scenario"


def reference() -> str:
    """docs/scenarios.md as the schema makes it."""
    return schema.reference(SCENARIO, REGENERATE)


def main(argv: list[str] | None = None) -> int:
    """Write docs/scenarios.md; with ``--check``, only say whether it is up to date (exit 1
    when it is stale)."""
    argv = sys.argv[1:] if argv is None else argv
    fresh = reference()
    if "--check" in argv:
        current = REFERENCE_PATH.read_text() if REFERENCE_PATH.exists() else ""
        if current != fresh:
            print(f"{REFERENCE_PATH} is stale: regenerate it with `{REGENERATE}`",
                  file=sys.stderr)
            return 1
        return 0
    REFERENCE_PATH.write_text(fresh)
    print(f"wrote {REFERENCE_PATH}")
    return 0


if __name__ == "__main__":
    # through the imported module: its dataclasses are the ones the rest of ionsim uses
    from sim.scenario import main as _main
    raise SystemExit(_main())
