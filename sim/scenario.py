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
from .layout import grid_positions, read_position
from .agents_input import GATING_FIELD, PUMPS_FIELD, Gating, Pump, check_agents, pumps_clear
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
    absent means 0. ``gating``: the channel's gate (sim.gating); None: always open.
    """
    x: float
    y: float
    radius: float
    permeant: tuple[str, ...]
    barriers: tuple[tuple[str, float], ...] = ()
    gating: Gating | None = None


# A membrane's two faces, by the side of the slab they are on: the lower-z face (index 0)
# touches the compartment below it, the upper-z face (index 1) the one above it.
FACES = ("lower", "upper")

# How a compartment's `concentrations` are meant: the mean over the compartment before the
# counter-ions of its charged faces are added (today's behaviour), or the bulk the double
# layers leave far from the faces (ions placed from a Gouy-Chapman estimate).
CONCENTRATION_BASES = ("mean", "bulk")


@dataclass(frozen=True)
class Membrane:
    """A lipid slab normal to z: thickness nm, relative permittivity, its channels.

    surface_charge_lower, surface_charge_upper: e/nm^2, the fixed uniform sheet on the
    lower-z face (touching compartment k for membrane k) and on the upper-z face (touching
    compartment k + 1, periodically); read them through :meth:`Scenario.face_surface_charges`.
    counterion: the species added to balance a charged face that touches a compartment of
    `concentration_basis: mean` (None where no face needs one). pumps: its ion pumps
    (sim.pumps)."""
    thickness: float
    permittivity: float
    channels: tuple[Channel, ...]
    surface_charge_lower: float = 0.0
    surface_charge_upper: float = 0.0
    counterion: str | None = None
    pumps: tuple[Pump, ...] = ()

    @property
    def charged(self) -> bool:
        """Whether either face carries a surface charge."""
        return self.surface_charge_lower != 0.0 or self.surface_charge_upper != 0.0

    @property
    def surface_charge(self) -> float:
        """The one surface charge (e/nm^2) of a membrane whose faces carry the same; kept for
        code written before faces could differ. Raises ValueError where they differ, so
        that such code fails loudly instead of using one face's value for both: use
        :meth:`Scenario.face_surface_charges`."""
        if self.surface_charge_lower != self.surface_charge_upper:
            raise ValueError(f"the membrane's faces carry different surface charges "
                             f"({self.surface_charge_lower:+g} e/nm^2 lower, "
                             f"{self.surface_charge_upper:+g} e/nm^2 upper): use "
                             f"Scenario.face_surface_charges(j)")
        return self.surface_charge_lower


@dataclass(frozen=True)
class Compartment:
    """Water between two membranes: depth nm (face to face), concentrations nm^-3.

    concentration_basis: 'mean' (the compartment gets round(c V) ions of each species, plus
    the counter-ions of its charged faces) or 'bulk' (the concentrations are those wanted
    far from the faces: c V plus each charged face's Gouy-Chapman surface excess, see
    :func:`sim.system.ion_counts`)."""
    name: str
    depth: float
    concentrations: tuple[tuple[str, float], ...]
    concentration_basis: str = "mean"

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
    """dt ps; steps; intervals in steps; integrator name; equilibration ps (None = auto);
    agent_interval: steps between the actions of pumps and gates."""
    dt: float
    steps: int
    seed: int
    sample_interval: int
    frame_interval: int
    checkpoint_interval: int
    integrator: str = "leimkuhler-matthews"
    equilibration: float | None = None
    agent_interval: int = 10


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

    def bounding_faces(self, k: int) -> list[tuple[int, int]]:
        """The faces that bound compartment k, as (membrane j, side) with side 0 the lower-z
        face and 1 the upper-z face (index into :data:`FACES`): membrane k's lower face
        above it, membrane k - 1's upper face below it (periodically); none without
        membranes."""
        m = len(self.membranes)
        return [(k % m, 0), ((k - 1) % m, 1)] if m else []

    def face_compartment(self, j: int, side: int) -> int:
        """The compartment that membrane j's face `side` touches (0 lower: j; 1 upper:
        (j + 1) mod M, the box being periodic in z)."""
        return (j + side) % len(self.membranes)

    def face_surface_charges(self, j: int) -> tuple[float, float]:
        """Membrane j's fixed surface charge density (e/nm^2) on its lower-z face and on
        its upper-z face. The lower face touches compartment j, the upper face compartment
        (j + 1) mod len(membranes) (the box is periodic in z)."""
        mem = self.membranes[j]
        return (mem.surface_charge_lower, mem.surface_charge_upper)

    def face_charge(self, k: int) -> int:
        """The fixed charge (e, a whole number: each face's sigma A is rounded so when it
        is read) of the faces that bound compartment k; the compartment's ions carry minus
        this."""
        return int(round(sum(self.face_surface_charges(j)[side] * self.area
                             for j, side in self.bounding_faces(k))))

    def counterions(self, k: int) -> dict[str, int]:
        """Ions added to compartment k, on top of round(c V), to balance the surface charge
        of the faces it touches: |sigma| A / |valence| of the membrane's counter-ion per
        charged face. None for a compartment of `concentration_basis: bulk`, whose ion
        numbers already hold its faces' Gouy-Chapman surface excess (which balances
        them)."""
        if self.compartments[k].concentration_basis == "bulk":
            return {}
        valence = {s.name: s.valence for s in self.species}
        added: dict[str, int] = {}
        for j, side in self.bounding_faces(k):
            sigma, mem = self.face_surface_charges(j)[side], self.membranes[j]
            if sigma != 0.0:
                n = int(round(-sigma * self.area / valence[mem.counterion]))
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
    return read_position(r, f, pos, key, values, ctx, "box")


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


def _face_compartments(ctx: dict) -> tuple:
    """The compartments (records) that membranes[ctx['index']]'s lower and upper faces
    touch: compartment j below it, j + 1 above it (periodically). While the numbers of
    compartments and membranes disagree (refused once `membranes` is read) the indices wrap
    around the compartments read."""
    comps, j = ctx.get("compartments") or (), ctx["index"]
    if not comps:
        return (None, None)
    return (comps[j % len(comps)], comps[(j + 1) % len(comps)])


def _face_label(side: int, ctx: dict) -> str:
    """'lower face (toward compartment 'inside')', for messages."""
    comp = _face_compartments(ctx)[side]
    return f"{FACES[side]} face" + (f" (toward compartment {comp.name!r})" if comp else "")


def _face_side(name, ctx: dict) -> int | None:
    """The side (0 lower, 1 upper) a surface_charge mapping key names: `lower`/`upper`
    always mean the faces; otherwise the name of the compartment a face touches."""
    if name in FACES:
        return FACES.index(name)
    if isinstance(name, int) and not isinstance(name, bool):
        name = str(name)  # compartment names read as text
    for side, comp in enumerate(_face_compartments(ctx)):
        if comp is not None and comp.name == name:
            return side
    return None


def _face_keys(raw, key: str, ctx: dict) -> tuple[str, str]:
    """The key path of each face's surface charge as the user wrote it:
    `membranes[0].surface_charge` for one value, `membranes[0].surface_charge.<name>` for
    the face a mapping names (`.lower`/`.upper` where it leaves the face out)."""
    base = _join(key, "surface_charge")
    given = raw.get("surface_charge") if isinstance(raw, dict) else None
    if not isinstance(given, dict):
        return (base, base)
    out = [f"{base}.{FACES[0]}", f"{base}.{FACES[1]}"]
    for name in given:
        side = _face_side(name, ctx)
        if side is not None:
            out[side] = f"{base}.{name}"
    return tuple(out)


def _read_surface_charge(r: Reader, f: Field, given, key: str, values, ctx
                         ) -> tuple[float, float]:
    """(lower, upper) e/nm^2: one density for both faces, or a mapping that names faces,
    `lower`/`upper` or the compartment a face touches; a face left out is uncharged. Each
    value is read and bounded like a plain quantity of the field."""
    plain = dataclasses.replace(f, read=None)
    if isinstance(given, (list, tuple, set)):
        r.fail(key, f"must be one surface charge for both faces or a mapping face -> surface "
                    f"charge, e.g. {{lower: -0.1 e/nm^2, upper: 0 e/nm^2}}, got {brief(given)}")
    if not isinstance(given, dict):
        sigma = r.value(plain, given, key, values, ctx)
        return (sigma, sigma)
    if not given:
        r.fail(key, "is an empty mapping: give one density for both faces, or name faces, "
                    "e.g. {lower: -0.1 e/nm^2, upper: 0 e/nm^2}")
    comps = [c for c in _face_compartments(ctx) if c is not None]
    accepted = ", ".join([*FACES, *(repr(c.name) for c in comps)])
    out, seen = [0.0, 0.0], {}
    for name, value in given.items():
        where = _join(key, str(name) if isinstance(name, int) else name)
        side = _face_side(name, ctx)
        if side is None:
            r.fail(where, f"unknown face {brief(name)}; name a face as one of {accepted} "
                          f"(lower: the face at lower z, toward compartment k for membrane "
                          f"k; upper: toward compartment k + 1; or the compartment's name)")
        if side in seen:
            r.fail(where, f"names the {_face_label(side, ctx)} again (already given as "
                          f"{brief(seen[side])})")
        seen[side] = name
        out[side] = r.value(plain, value, where, values, ctx)
    return tuple(out)


def _write_surface_charge(sigmas: tuple[float, float]):
    """One value where both faces carry the same, else {lower: ..., upper: ...}."""
    lower, upper = sigmas
    if lower == upper:
        return units.format_quantity(lower, "surface_charge")
    return {FACES[0]: units.format_quantity(lower, "surface_charge"),
            FACES[1]: units.format_quantity(upper, "surface_charge")}


def _size_limit(maximum: float, what: str) -> Limit:
    """At most `maximum` nm, with the message that says why sizes are bounded."""
    return Limit(f"a {what} of {{text}} is more than the {maximum:g} nm accepted (the "
                 f"memory and time a run takes grow with the box)", hi=maximum)


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


def _charged_faces_of(values: dict, k: int) -> list[float]:
    """The surface charge densities (e/nm^2) of the charged faces that bound compartment k
    (as Scenario.bounding_faces: membrane k's lower face, membrane k - 1's upper face)."""
    mems = values["membranes"]
    if not mems:
        return []
    faces = [(mems[k % len(mems)].surface_charge_lower),
             (mems[(k - 1) % len(mems)].surface_charge_upper)]
    return [sigma for sigma in faces if sigma != 0.0]


def _bulk_basis_monovalent(r: Reader, raw, values, key, ctx):
    """`concentration_basis: bulk` with charged faces uses the closed-form Gouy-Chapman
    surface excess, which holds for monovalent ions (sim.gouy_chapman), and needs a salt
    to screen the faces."""
    for k, comp in enumerate(values["compartments"]):
        if comp.concentration_basis != "bulk" or not _charged_faces_of(values, k):
            continue
        present = {n: values["species"][n].valence for n, c in comp.concentrations if c > 0}
        multi = [f"{n} ({z:+d})" for n, z in present.items() if abs(z) != 1]
        if multi:
            r.fail(f"compartments[{k}].concentration_basis",
                   f"bulk is for monovalent ions only (the Gouy-Chapman surface excess in "
                   f"closed form), but compartment {comp.name!r} holds {', '.join(multi)}; "
                   f"use concentration_basis: mean")
        if not (any(z > 0 for z in present.values()) and any(z < 0 for z in present.values())):
            r.fail(f"compartments[{k}].concentrations",
                   f"concentration_basis: bulk with charged faces needs a salt (cations and "
                   f"anions) in compartment {comp.name!r} to balance and screen them; give "
                   f"one, or use concentration_basis: mean with a counterion")


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
            not any(m.charged for m in values["membranes"]):
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


def _faces_needing_counterions(values, ctx) -> list[int]:
    """The charged faces (sides) that touch a compartment of `concentration_basis: mean`,
    the ones the membrane's counter-ions balance."""
    comps = _face_compartments(ctx)
    return [side for side, sigma in enumerate(values["surface_charge"])
            if sigma != 0.0 and (comps[side] is None or
                                 comps[side].concentration_basis == "mean")]


def _counterion_given(r: Reader, raw, values, key, ctx):
    if not any(values["surface_charge"]):
        if "counterion" in raw:
            r.fail(f"{key}.counterion", "given without a surface_charge")
    elif _faces_needing_counterions(values, ctx):
        if "counterion" not in raw:
            r.fail(f"{key}.counterion", "is required with a surface_charge: the species "
                                        "added to each facing compartment to balance it, "
                                        "e.g. K+")
    elif "counterion" in raw:
        r.fail(f"{key}.counterion", "is not used: the charged faces touch only compartments "
                                    "with concentration_basis: bulk, whose own ions (the "
                                    "Gouy-Chapman surface excess) balance them; remove it")


SURFACE_CHARGE_ROUNDING = 5e-3  # relative: a face's charge may be moved this far to whole e


def _whole_counterions(r: Reader, raw, values, key, ctx):
    """Each charged face must carry a whole number of counter-ion charges (faces toward a
    `concentration_basis: mean` compartment: of the membrane's counter-ion, which must have
    the opposite sign) or of elementary charges (faces toward a `bulk` one, balanced by
    monovalent ions). A value within SURFACE_CHARGE_ROUNDING of that (e.g. 0.01 C/m^2
    written for 0.0625 e/nm^2) is moved onto it; farther is refused. Face by face."""
    box_xy = ctx["box"]["lateral"]
    area = box_xy[0] * box_xy[1]
    sides = _faces_needing_counterions(values, ctx)
    where = _face_keys(raw, key, ctx)
    per_face_given = isinstance(raw.get("surface_charge"), dict)
    rounded = list(values["surface_charge"])
    for side, sigma in enumerate(values["surface_charge"]):
        if sigma == 0.0:
            continue
        if side in sides:
            name = values["counterion"]
            valence = ctx["species"][name].valence
            unit = f"{name} per face"
        else:  # balanced by the compartment's monovalent ions: a whole number of e
            name, valence, unit = None, 1 if sigma < 0 else -1, "e"
        per_face = -sigma * area / valence
        if per_face <= 0:
            opposite = len({math.copysign(1, x) for x in values["surface_charge"] if x}) > 1
            r.fail(f"{key}.counterion", f"{name} (valence {valence:+d}) has the sign of the "
                                        f"surface charge {sigma:+g} e/nm^2 on the "
                                        f"{_face_label(side, ctx)}; a counter-ion has the "
                                        f"opposite sign" + ("" if not opposite else
                                                   " (faces of opposite sign: give their "
                                                   "compartments concentration_basis: "
                                                   "bulk, which needs no counterion)"))
        whole = round(per_face)
        if whole < 1 or abs(per_face - whole) > SURFACE_CHARGE_ROUNDING * whole:
            near = sorted({max(1, math.floor(per_face)), max(1, math.ceil(per_face))})
            options = " or ".join(f"{-n * valence / area:.6g} e/nm^2 ({n} {unit})"
                                  for n in near)
            face = _face_label(side, ctx) if per_face_given else "each face"
            r.fail(where[side], f"{sigma:g} e/nm^2 x {area:g} nm^2 on the {face} is "
                                f"{per_face:.6g} {unit}, not a whole number; use e.g. "
                                f"{options}")
        rounded[side] = -whole * valence / area
    values["surface_charge"] = tuple(rounded)


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
    return [Channel(x, y, radius, tuple(permeant), tuple(barriers), values["gating"])
            for x, y in positions]


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
        GATING_FIELD,
    ), record=Channel, build=_build_channels,
    # where the pore is, last: a bad radius or species is reported before a bad position
    read_order=("radius", "permeant", "barriers", "gating", "position", "count"),
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
        Field("surface_charge", QUANTITY, "A fixed uniform sheet of charge on the faces: one "
              "value for both, or a mapping that names faces, `lower` (toward compartment "
              "k) and `upper` (toward compartment k + 1) or the name of the compartment a "
              "face touches, e.g. `{inside: -0.1 e/nm^2}`; a face left out is uncharged. "
              "Written back as one value, or as {lower, upper} where the faces differ.",
              dimension="surface_charge", default="0 e/nm^2",
              attr=("surface_charge_lower", "surface_charge_upper"),
              read=_read_surface_charge, write=_write_surface_charge, limit=Limit(
                  f"|{{value:g}}| e/nm^2 is more than the {MAX_SURFACE_CHARGE:g} e/nm^2 "
                  f"accepted (one charge per 0.5 nm^2 of membrane)", hi=MAX_SURFACE_CHARGE,
                  magnitude=True),
              type_doc="surface charge, or mapping face → surface charge"),
        Field("counterion", TEXT, "The species added to each `concentration_basis: mean` "
              "compartment a charged face touches, |sigma| x area / |valence| per face, to "
              "balance it (a `bulk` compartment's own ions balance its faces).", default=None,
              read=_read_species_name, omit_empty=True, type_doc="species",
              default_doc="none (required where a charged face touches a `mean` "
                          "compartment)"),
        Field("channels", LIST, "The membrane's pores.", default=[], null_ok=True,
              read=_read_channels, item=Field("channel", SECTION, "", section=CHANNEL),
              bounds_doc=f"at most {MAX_CHANNELS_PER_MEMBRANE} pores"),
        PUMPS_FIELD,
    ), record=Membrane, rules=(
        Rule("counterion", "`counterion` is given if and only if a charged face touches a "
             "compartment of `concentration_basis: mean`", _counterion_given,
             after="surface_charge"),
        Rule("surface_charge", f"face by face: toward a `mean` compartment the counter-ion "
             f"has the opposite sign and the face holds a whole number of them, toward a "
             f"`bulk` one a whole number of e (a charge within {SURFACE_CHARGE_ROUNDING:.1%} "
             f"of that is moved onto it)", _whole_counterions, after="counterion"),
        Rule("channels", "no two pores of a membrane overlap (periodically in x and y)",
             _channels_apart),
        Rule("channels", f"at most {MAX_CHANNELS} pores in all membranes", _channels_in_all),
        Rule("pumps", "no pump's footprint overlaps a pore or another pump", pumps_clear),
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
        Field("concentration_basis", CHOICE, "What `concentrations` means where charged "
              "faces bound the compartment: `mean`, the average over the compartment before "
              "the counter-ions of its faces are added (round(c V) ions each, then the "
              "counter-ions); `bulk`, the concentration wanted far from the faces (c V ions "
              "plus each charged face's Gouy-Chapman surface excess, no counter-ions: an "
              "estimate, monovalent ions only; the measured bulk is reported by the "
              "analysis). Without charged faces both place round(c V).",
              choices=CONCENTRATION_BASES, default="mean"),
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
        Field("agent_interval", STEPS, "Pumps and gated channels act every this many steps "
              "(their rates times this interval should stay well below 1).", per="dt",
              default=10, limit=_STEPS_LIMIT),
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
        Rule("membranes[].pumps", "pumps and gated channels need exactly two compartments, "
             "and each pump's capture region fits both", check_agents, after="membranes"),
        Rule("compartments[].concentration_basis", "`bulk` with charged faces: the "
             "compartment's ions are monovalent, cations and anions both present",
             _bulk_basis_monovalent),
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
