"""Scenario files: YAML in, a validated and immutable configuration out.

A scenario is read with :func:`sim.yaml_input.load_yaml` (size, nesting, alias expansion
and duplicate keys bounded) and converted into frozen dataclasses in internal units (nm, ps,
kJ/mol, e, K; concentrations as number densities in nm^-3). Every value that has a
dimension must carry its unit ("150 mM", "4 nm"). Unknown keys are errors. Every error is
a :class:`ScenarioError` whose message names the file, the key path and what is accepted,
e.g. ``scenarios/k.yaml: membranes[0].channels[1].radius: must be > 0 nm, got -0.5 nm``.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import units
from .errors import ScenarioError
from .units import UnitError, display_quantity, format_quantity, parse_quantity
from .yaml_input import brief, join as _join, load_yaml, text as _text

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
        """The resolved scenario, every default filled in, units written out."""
        L = lambda v: format_quantity(v, "length")  # noqa: E731
        return {
            "name": self.name,
            "description": self.description,
            "temperature": format_quantity(self.temperature, "temperature"),
            "solvent": {"permittivity": self.solvent_permittivity},
            "species": {s.name: {"valence": s.valence, "diameter": L(s.diameter),
                                 "diffusion": format_quantity(s.diffusion, "diffusion")}
                        for s in self.species},
            "box": {"lateral": [L(self.box_xy[0]), L(self.box_xy[1])]},
            "compartments": [
                {"name": c.name, "depth": L(c.depth),
                 "concentrations": {n: format_quantity(v, "concentration")
                                    for n, v in c.concentrations}}
                for c in self.compartments],
            "membranes": [
                {"thickness": L(m.thickness), "permittivity": m.permittivity,
                 "surface_charge": format_quantity(m.surface_charge, "surface_charge"),
                 **({"counterion": m.counterion} if m.counterion else {}),
                 "channels": [
                     {"position": [L(ch.x), L(ch.y)], "radius": L(ch.radius),
                      "permeant": list(ch.permeant),
                      **({"barriers": {n: format_quantity(b, "energy") for n, b in ch.barriers}}
                         if ch.barriers else {})}
                     for ch in m.channels]}
                for m in self.membranes],
            "electrostatics": {
                "method": self.electrostatics.method,
                "force_error": self.electrostatics.force_error,
                **({"alpha": f"{self.electrostatics.alpha:.10g} nm^-1"}
                   if self.electrostatics.alpha is not None else {}),
                **({"cutoff": L(self.electrostatics.cutoff)}
                   if self.electrostatics.cutoff is not None else {}),
                **({"mesh": list(self.electrostatics.mesh)}
                   if self.electrostatics.mesh is not None else {}),
                **({"order": self.electrostatics.order}
                   if self.electrostatics.order is not None else {}),
            },
            "interactions": {"wca_epsilon": format_quantity(self.wca_epsilon, "energy")},
            "observables": {"profile_bin_width": L(self.profile_bin_width)},
            "run": {
                "dt": format_quantity(self.run.dt, "time"),
                "steps": self.run.steps,
                "seed": self.run.seed,
                "sample_interval": self.run.sample_interval,
                "frame_interval": self.run.frame_interval,
                "checkpoint_interval": self.run.checkpoint_interval,
                "integrator": self.run.integrator,
                "equilibration": ("auto" if self.run.equilibration is None
                                  else format_quantity(self.run.equilibration, "time")),
            },
        }


# --- reading -------------------------------------------------------------------------------

class _Reader:
    """Walks a parsed YAML tree, remembering the key path for error messages."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, message: str):
        raise ScenarioError(self.source, key, message)

    def mapping(self, value, key: str, allowed: set[str], required: set[str] = frozenset()):
        if not isinstance(value, dict):
            self.fail(key, f"must be a mapping with keys {sorted(allowed)}, "
                           f"got {type(value).__name__} {brief(value)}")
        for k in value:
            if k not in allowed:
                self.fail(_join(key, k), f"unknown key; accepted here: {', '.join(sorted(allowed))}")
        for k in sorted(required):
            if k not in value:
                self.fail(_join(key, k), "is required")
        return value

    def quantity(self, value, key: str, dimension: str, minimum: float | None = None,
                 strict: bool = True) -> float:
        try:
            q = parse_quantity(value, dimension)
        except UnitError as err:
            self.fail(key, str(err))
        if minimum is not None and (q <= minimum if strict else q < minimum):
            rel = ">" if strict else ">="
            self.fail(key, f"must be {rel} {display_quantity(minimum, dimension)}, "
                           f"got {_text(value)}")
        return q

    def number(self, value, key: str, minimum: float | None = None, strict: bool = True,
               integer: bool = False) -> float:
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                integer and not isinstance(value, int)):
            self.fail(key, f"must be {kind} (no unit), got {brief(value)}")
        if not math.isfinite(value):
            self.fail(key, f"must be finite, got {brief(value)}")
        if minimum is not None and (value <= minimum if strict else value < minimum):
            self.fail(key, f"must be {'>' if strict else '>='} {minimum}, got {brief(value)}")
        return value

    def choice(self, value, key: str, options) -> str:
        if value not in options:
            self.fail(key, f"must be one of {', '.join(options)}, got {brief(value)}")
        return value

    def steps_or_time(self, value, key: str, dt: float) -> int:
        """An interval given as a step count (integer) or a time ('20 ps')."""
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 1:
                self.fail(key, f"must be >= 1 step, got {brief(value)}")
            if value > MAX_STEPS:
                self.fail(key, f"must be at most {MAX_STEPS:.0e} steps, got {brief(value)}")
            return value
        t = self.quantity(value, key, "time", minimum=0.0)
        ratio = t / dt
        if not ratio <= MAX_STEPS:  # also inf: 1e300 ns in steps of 1e-300 ps
            self.fail(key, f"{_text(value)} is more than {MAX_STEPS:.0e} time steps of "
                           f"{display_quantity(dt, 'time')}")
        n = int(round(ratio))
        if n < 1 or abs(n * dt - t) > 1e-6 * t:
            self.fail(key, f"{_text(value)} is not a whole number of time steps of "
                           f"{display_quantity(dt, 'time')}")
        return n


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


TOP_KEYS = {"name", "description", "temperature", "solvent", "species", "box", "compartments",
            "membranes", "electrostatics", "interactions", "observables", "run"}


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file. Raises ScenarioError naming file and key."""
    source = str(path)
    return parse_scenario(load_yaml(path, source), source)


def parse_scenario(raw: Any, source: str = "<scenario>") -> Scenario:
    """Validate an already-parsed YAML tree (see load_scenario)."""
    r = _Reader(source)
    if not isinstance(raw, dict):
        r.fail("", f"must be a YAML mapping of {sorted(TOP_KEYS)}, got {type(raw).__name__}")
    r.mapping(raw, "", TOP_KEYS, required={"temperature", "box", "compartments", "run"})

    name = _read_name(r, raw, source)
    description = _read_description(r, raw.get("description", ""))
    temperature = r.quantity(raw["temperature"], "temperature", "temperature", minimum=0.0)
    if not T_MIN <= temperature <= T_MAX:
        r.fail("temperature", f"must be between {T_MIN:g} K and {T_MAX:g} K (0-100 C, where "
                              f"the water permittivity fit of Malmberg & Maryott holds and the "
                              f"species' diffusion coefficients, interpolated from 25 C and "
                              f"37 C, stay positive), got {_text(raw['temperature'])}")
    solvent = r.mapping(raw.get("solvent", {}), "solvent", {"permittivity"})
    eps_w = r.number(solvent.get("permittivity", _water_permittivity(temperature)),
                     "solvent.permittivity", minimum=0.0)

    species_by_name = _read_species(r, raw.get("species", {}) or {}, temperature)

    box = r.mapping(raw["box"], "box", {"lateral"}, required={"lateral"})
    lateral = box["lateral"]
    if isinstance(lateral, list):
        if len(lateral) != 2:
            r.fail("box.lateral", f"must be one length or a list of two (x, y), "
                                  f"got {brief(lateral)}")
        box_xy = tuple(_read_size(r, v, f"box.lateral[{i}]", MAX_LATERAL, "box edge")
                       for i, v in enumerate(lateral))
    else:
        side = _read_size(r, lateral, "box.lateral", MAX_LATERAL, "box edge")
        box_xy = (side, side)

    compartments = _read_compartments(r, raw["compartments"], species_by_name)
    membranes = _read_membranes(r, raw.get("membranes", []) or [], box_xy, species_by_name,
                                 temperature)
    if len(membranes) == 1:
        r.fail("membranes", "one membrane in a periodic box faces the same compartment on both "
                            "sides; use 0 (bulk electrolyte) or 2 or more membranes")
    n_comp_needed = max(1, len(membranes))
    if len(compartments) != n_comp_needed:
        r.fail("compartments", f"{len(membranes)} membranes need {n_comp_needed} compartment(s) "
                               f"(periodic z: compartment k lies before membrane k), "
                               f"got {len(compartments)}")

    electrostatics = _read_electrostatics(r, raw.get("electrostatics", "ewald"))
    inter = r.mapping(raw.get("interactions", {}) or {}, "interactions", {"wca_epsilon"})
    wca_eps = _read_energy(r, inter.get("wca_epsilon", "1 kT"), "interactions.wca_epsilon",
                           temperature)
    obs = r.mapping(raw.get("observables", {}) or {}, "observables", {"profile_bin_width"})
    bin_width = r.quantity(obs.get("profile_bin_width", "0.25 nm"),
                           "observables.profile_bin_width", "length", minimum=0.0)
    lz = sum(c.depth for c in compartments) + sum(m.thickness for m in membranes)
    if lz > MAX_BOX_Z:
        r.fail("compartments", f"the box is {lz:g} nm along z (compartment depths plus "
                               f"membrane thicknesses), more than the {MAX_BOX_Z:g} nm "
                               f"accepted; make the compartments shallower")
    if lz / bin_width > MAX_PROFILE_BINS:
        r.fail("observables.profile_bin_width", f"{lz:g} nm of box in bins of "
                                                f"{bin_width:g} nm is {lz / bin_width:.3g} "
                                                f"bins, more than {MAX_PROFILE_BINS}; use "
                                                f"bins of at least "
                                                f"{lz / MAX_PROFILE_BINS:.3g} nm")
    es = electrostatics
    if es.cutoff is not None and es.cutoff > 0.5 * min(box_xy + (lz,)):
        r.fail("electrostatics.cutoff", f"{es.cutoff:g} nm exceeds half the smallest box "
                                        f"edge, {0.5 * min(box_xy + (lz,)):g} nm")
    run = _read_run(r, raw["run"])
    if run.integrator == "leimkuhler-matthews" and any(
            ch.barriers for m in membranes for ch in m.channels):
        r.fail("run.integrator", "channel barriers need 'integrator: euler-maruyama': the "
                                 "Metropolis test at a pore mouth is exact only with "
                                 "uncorrelated noise, and Leimkuhler-Matthews correlates "
                                 "successive steps (it biases the pore's occupancy)")

    used = {n for c in compartments for n, _ in c.concentrations}
    used |= {n for m in membranes for ch in m.channels for n in ch.permeant}
    used |= {m.counterion for m in membranes if m.counterion}
    species = tuple(species_by_name[n] for n in species_by_name if n in used)
    for sp in species:
        if not sp.diffusion > 0:  # a table entry whose interpolation fails at this T
            r.fail("temperature", f"at {temperature:g} K the diffusion coefficient of "
                                  f"{sp.name} interpolated from species.yaml is "
                                  f"{sp.diffusion:.3g} nm^2/ps, not > 0; give "
                                  f"species.{sp.name}.diffusion")
    if not any(c > 0 for comp in compartments for _, c in comp.concentrations) and \
            not any(m.surface_charge for m in membranes):
        r.fail("compartments", "every concentration is 0: a run needs ions (the currents, "
                               "the membrane potential and every observable are theirs; with "
                               "electrostatics: ewald at least two charged ones)")

    scenario = Scenario(
        name=name,
        description=description,
        temperature=temperature, solvent_permittivity=float(eps_w), species=species,
        box_xy=box_xy, compartments=compartments, membranes=membranes,
        electrostatics=electrostatics, run=run, wca_epsilon=wca_eps,
        profile_bin_width=bin_width, source=source)
    _check_electroneutral(r, scenario)
    return scenario


def _read_name(r: _Reader, raw: dict, source: str) -> str:
    """The scenario's name: a plain name, since runs/<name> is the default run directory
    (a '/' or '..' would put it elsewhere). Without one, the file's stem, made plain."""
    if "name" not in raw:
        stem = re.sub(r"[^A-Za-z0-9._+-]", "_", Path(source).stem).lstrip(".")[:MAX_NAME]
        return stem or "scenario"
    name = raw["name"]
    if isinstance(name, int) and not isinstance(name, bool):
        name = str(name)  # `name: 2024` reads as a number
    if not isinstance(name, str):
        r.fail("name", f"must be a plain name (letters, digits, '._+-'), got "
                       f"{type(name).__name__} {brief(name)}")
    if len(name) > MAX_NAME or not _PLAIN_NAME.fullmatch(name):
        r.fail("name", f"must be a plain name: ASCII letters, digits and '._+-', at most "
                       f"{MAX_NAME} characters, not starting with '.' (it names the run "
                       f"directory runs/<name>), got {brief(name)}")
    return name


def _read_description(r: _Reader, value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        r.fail("description", f"must be text, got {type(value).__name__} {brief(value)}")
    if len(value) > MAX_DESCRIPTION:
        r.fail("description", f"is {len(value)} characters long, more than the "
                              f"{MAX_DESCRIPTION} accepted (put long notes in YAML comments)")
    return value.strip()


def _read_size(r: _Reader, value, key: str, maximum: float, what: str) -> float:
    """A length > 0 nm and at most `maximum` nm."""
    q = r.quantity(value, key, "length", minimum=0.0)
    if q > maximum:
        r.fail(key, f"a {what} of {_text(value)} is more than the {maximum:g} nm accepted "
                    f"(the memory and time a run takes grow with the box)")
    return q


def _water_permittivity(temperature: float) -> float:
    """Relative permittivity of water, Malmberg & Maryott (1956) fit, T in K."""
    t = temperature - 273.15
    return 87.740 - 0.40008 * t + 9.398e-4 * t**2 - 1.410e-6 * t**3


def _read_energy(r: _Reader, value, key: str, temperature: float,
                 allow_negative: bool = False) -> float:
    """An energy in kJ/mol, kcal/mol or multiples of kT ('1 kT', '-3 kT')."""
    if isinstance(value, str) and value.strip().endswith("kT"):
        number = value.strip()[:-2].strip() or "1"
        try:
            if len(number) > units.MAX_QUANTITY_CHARS:
                raise ValueError(number)
            energy = float(number) * units.kT(temperature)
        except ValueError:
            energy = math.nan
        if not math.isfinite(energy):  # float() also reads 'nan' and 'inf'
            r.fail(key, f"cannot read {brief(value)}: write e.g. '1 kT' or '2.5 kJ/mol'")
        if energy < 0 and not allow_negative:
            r.fail(key, f"must be >= 0, got {_text(value)}")
        return energy
    return r.quantity(value, key, "energy", minimum=None if allow_negative else 0.0,
                      strict=False)


def _read_species(r: _Reader, overrides, temperature: float) -> dict[str, Species]:
    table = default_species_table()
    result: dict[str, Species] = {}
    for name, entry in table.items():
        result[name] = Species(name, int(entry["valence"]),
                               parse_quantity(entry["diameter"], "length"),
                               _diffusion_at(entry, temperature))
    if not isinstance(overrides, dict):
        r.fail("species", f"must be a mapping of species name to fields, got {brief(overrides)}")
    if len(overrides) > MAX_SPECIES:
        r.fail("species", f"{len(overrides)} species; at most {MAX_SPECIES} are accepted")
    for name, entry in overrides.items():
        key = _join("species", name)
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_SPECIES_NAME \
                or not name.isprintable():
            r.fail(key, f"a species name must be text of at most {MAX_SPECIES_NAME} "
                        f"printable characters, e.g. K+, got {brief(name)}")
        base = result.get(name)
        required = set() if base else {"valence", "diameter", "diffusion"}
        r.mapping(entry, key, {"valence", "diameter", "diffusion"}, required=required)
        valence = r.number(entry["valence"], f"{key}.valence", integer=True) \
            if "valence" in entry else base.valence
        if valence == 0 or abs(valence) > MAX_VALENCE:
            r.fail(f"{key}.valence", f"must be a non-zero integer charge (in e) from "
                                     f"-{MAX_VALENCE} to {MAX_VALENCE}, got {brief(valence)}")
        diameter = r.quantity(entry["diameter"], f"{key}.diameter", "length", minimum=0.0) \
            if "diameter" in entry else base.diameter
        diffusion = r.quantity(entry["diffusion"], f"{key}.diffusion", "diffusion",
                               minimum=0.0) if "diffusion" in entry else base.diffusion
        result[name] = Species(name, int(valence), diameter, diffusion)
    return result


def _known_species(r: _Reader, name, key: str, species: dict[str, Species]) -> str:
    if not isinstance(name, str) or name not in species:
        r.fail(key, f"unknown species {brief(name)}; known: {', '.join(species)} "
                    f"(define new ones under 'species:' with valence, diameter, diffusion)")
    return name


def _read_compartments(r: _Reader, raw, species) -> tuple[Compartment, ...]:
    if not isinstance(raw, list) or not raw:
        r.fail("compartments", "must be a non-empty list of compartments "
                               "(name, depth, concentrations)")
    if len(raw) > MAX_MEMBRANES:
        r.fail("compartments", f"{len(raw)} compartments; at most {MAX_MEMBRANES} are accepted")
    result, names = [], set()
    for i, entry in enumerate(raw):
        key = f"compartments[{i}]"
        r.mapping(entry, key, {"name", "depth", "concentrations"},
                  required={"depth", "concentrations"})
        name = entry.get("name", f"compartment{i}")
        if isinstance(name, int) and not isinstance(name, bool):
            name = str(name)
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME \
                or not name.isprintable():
            r.fail(f"{key}.name", f"must be a name of at most {MAX_NAME} printable "
                                  f"characters, got {brief(name)}")
        if name in names:
            r.fail(f"{key}.name", f"duplicate compartment name {name!r}")
        names.add(name)
        depth = _read_size(r, entry["depth"], f"{key}.depth", MAX_COMPARTMENT_DEPTH,
                           "compartment depth")
        conc = entry["concentrations"]
        if not isinstance(conc, dict) or not conc:
            r.fail(f"{key}.concentrations", "must map species names to concentrations, "
                                            "e.g. {K+: 150 mM, A-: 150 mM}")
        pairs = []
        for sname, value in conc.items():
            ckey = _join(f"{key}.concentrations", sname)
            _known_species(r, sname, ckey, species)
            c = r.quantity(value, ckey, "concentration", minimum=0.0, strict=False)
            if c > MAX_CONCENTRATION:
                r.fail(ckey, f"{_text(value)} is more than the 100 M accepted (pure water "
                             f"is 55 M)")
            pairs.append((sname, c))
        result.append(Compartment(name, depth, tuple(pairs)))
    return tuple(result)


def _read_membranes(r: _Reader, raw, box_xy, species, temperature) -> tuple[Membrane, ...]:
    if not isinstance(raw, list):
        r.fail("membranes", f"must be a list of membranes, got {type(raw).__name__}")
    if len(raw) > MAX_MEMBRANES:
        r.fail("membranes", f"{len(raw)} membranes; at most {MAX_MEMBRANES} are accepted")
    result = []
    for i, entry in enumerate(raw):
        key = f"membranes[{i}]"
        r.mapping(entry, key, {"thickness", "permittivity", "channels", "surface_charge",
                               "counterion"}, required={"thickness"})
        thickness = _read_size(r, entry["thickness"], f"{key}.thickness", MAX_THICKNESS,
                               "membrane thickness")
        eps_m = r.number(entry.get("permittivity", 2.0), f"{key}.permittivity", minimum=0.0)
        sigma = r.quantity(entry.get("surface_charge", "0 e/nm^2"), f"{key}.surface_charge",
                           "surface_charge")
        if abs(sigma) > MAX_SURFACE_CHARGE:
            r.fail(f"{key}.surface_charge", f"|{sigma:g}| e/nm^2 is more than the "
                                            f"{MAX_SURFACE_CHARGE:g} e/nm^2 accepted (one "
                                            f"charge per 0.5 nm^2 of membrane)")
        counterion, sigma = _read_counterion(r, entry, key, sigma, box_xy, species)
        channels = []
        raw_channels = entry.get("channels", []) or []
        if not isinstance(raw_channels, list):
            r.fail(f"{key}.channels", "must be a list of channels")
        for j, ch in enumerate(raw_channels):
            room = MAX_CHANNELS_PER_MEMBRANE - len(channels)
            channels.extend(_read_channels(r, ch, f"{key}.channels[{j}]", box_xy, species,
                                           temperature, room))
            if len(channels) > MAX_CHANNELS_PER_MEMBRANE:
                r.fail(f"{key}.channels", f"more than {MAX_CHANNELS_PER_MEMBRANE} channels in "
                                          f"one membrane; use fewer")
        _check_channel_overlap(r, channels, f"{key}.channels", box_xy)
        if len(channels) + sum(len(m.channels) for m in result) > MAX_CHANNELS:
            r.fail(f"{key}.channels", f"more than {MAX_CHANNELS} channels in all membranes; "
                                      f"use fewer")
        result.append(Membrane(thickness, float(eps_m), tuple(channels), sigma, counterion))
    return tuple(result)


SURFACE_CHARGE_ROUNDING = 5e-3  # relative: a face's charge may be moved this far to whole e


def _read_counterion(r: _Reader, entry, key, sigma, box_xy, species):
    """(counter-ion species, surface charge in e/nm^2) of a membrane: a face must carry a
    whole number of counter-ion charges. A value within SURFACE_CHARGE_ROUNDING of that
    (e.g. 0.01 C/m^2 written for 0.0625 e/nm^2) is moved onto it; farther is refused."""
    if sigma == 0.0:
        if "counterion" in entry:
            r.fail(f"{key}.counterion", "given without a surface_charge")
        return None, sigma
    if "counterion" not in entry:
        r.fail(f"{key}.counterion", "is required with a surface_charge: the species added "
                                    "to each facing compartment to balance it, e.g. K+")
    name = _known_species(r, entry["counterion"], f"{key}.counterion", species)
    valence = species[name].valence
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
    return name, -whole * valence / area


def grid_positions(count: int, box_xy) -> list[tuple[float, float]]:
    """Lay ``count`` channels on an nx x ny grid (nx*ny == count) with the aspect ratio
    closest to the box's, each at the centre of its cell (nm)."""
    lx, ly = box_xy
    best = min(((nx, count // nx) for nx in range(1, count + 1) if count % nx == 0),
               key=lambda g: abs(math.log((lx / g[0]) / (ly / g[1]))))
    nx, ny = best
    return [((ix + 0.5) * lx / nx, (iy + 0.5) * ly / ny) for iy in range(ny) for ix in range(nx)]


def _read_channels(r: _Reader, entry, key, box_xy, species, temperature,
                   room: int = MAX_CHANNELS_PER_MEMBRANE) -> list[Channel]:
    """The channel(s) of one entry: one at `position`, or `count` on a grid; `room` is how
    many more the membrane may take (MAX_CHANNELS_PER_MEMBRANE in all)."""
    r.mapping(entry, key, {"position", "count", "radius", "permeant", "barriers"},
              required={"radius", "permeant"})
    if ("position" in entry) == ("count" in entry):
        r.fail(key, "give exactly one of 'position: [x, y]' or 'count: N' (laid on a grid)")
    radius = r.quantity(entry["radius"], f"{key}.radius", "length", minimum=0.0)
    if 2 * radius >= min(box_xy):
        r.fail(f"{key}.radius", f"channel diameter {2 * radius:g} nm must be smaller than the "
                                f"box's lateral size {min(box_xy):g} nm")
    permeant = entry["permeant"]
    if isinstance(permeant, str):
        permeant = [permeant]
    if not isinstance(permeant, list):
        r.fail(f"{key}.permeant", "must be a list of species names, e.g. [K+]")
    for k, name in enumerate(permeant):
        _known_species(r, name, f"{key}.permeant[{k}]", species)
    barriers = entry.get("barriers", {}) or {}
    if not isinstance(barriers, dict):
        r.fail(f"{key}.barriers", "must map permeant species to energies, e.g. {Na+: 2 kT}")
    barrier_pairs = []
    for name, value in barriers.items():
        bkey = _join(f"{key}.barriers", name)
        if name not in permeant:
            r.fail(bkey, f"barrier for {brief(name)}, which is not in permeant "
                         f"{brief(permeant)}")
        energy = _read_energy(r, value, bkey, temperature, allow_negative=True)
        if abs(energy) > MAX_BARRIER_KT * units.kT(temperature):
            r.fail(bkey, f"{_text(value)} is beyond +-{MAX_BARRIER_KT:g} kT (a barrier that "
                         f"high is never crossed, a well that deep never left)")
        barrier_pairs.append((name, energy))
    if "position" in entry:
        pos = entry["position"]
        if not isinstance(pos, list) or len(pos) != 2:
            r.fail(f"{key}.position", f"must be [x, y] with units, got {brief(pos)}")
        xy = []
        for k, (v, lim) in enumerate(zip(pos, box_xy)):
            q = r.quantity(v, f"{key}.position[{k}]", "length", minimum=0.0, strict=False)
            if q >= lim:
                r.fail(f"{key}.position[{k}]", f"{_text(v)} is outside the box: must be in "
                                               f"[0 nm, {lim:g} nm)")
            xy.append(q)
        positions = [tuple(xy)]
    else:
        count = r.number(entry["count"], f"{key}.count", minimum=0, integer=True)
        if count > room:
            r.fail(f"{key}.count", f"{count} channels; a membrane takes at most "
                                   f"{MAX_CHANNELS_PER_MEMBRANE} (every ion in a membrane "
                                   f"looks at each of its pores every step)")
        positions = grid_positions(count, box_xy)
    return [Channel(x, y, radius, tuple(permeant), tuple(barrier_pairs)) for x, y in positions]


def _check_channel_overlap(r: _Reader, channels, key, box_xy):
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


def _read_electrostatics(r: _Reader, raw) -> Electrostatics:
    key = "electrostatics"
    if raw is False:  # YAML reads a bare `off` as False
        raw = "off"
    if isinstance(raw, str):
        return Electrostatics(method=r.choice(raw, key, ELECTROSTATICS_METHODS))
    r.mapping(raw, key, {"method", "force_error", "alpha", "cutoff", "mesh", "order"})
    method = raw.get("method", "ewald")
    method = "off" if method is False else method
    r.choice(method, f"{key}.method", ELECTROSTATICS_METHODS)
    force_error = r.number(raw.get("force_error", 1e-3), f"{key}.force_error", minimum=0.0)
    if force_error >= 1:
        r.fail(f"{key}.force_error", f"is a relative RMS force error: must be < 1, got {force_error}")
    alpha = None
    if "alpha" in raw:
        given = raw["alpha"]
        if isinstance(given, bool) or not isinstance(given, (str, int, float)) or \
                len(str(given)) > units.MAX_QUANTITY_CHARS:
            r.fail(f"{key}.alpha", f"must be an inverse length like '1.2 nm^-1', "
                                   f"got {brief(given)}")
        text = str(given).replace("nm^-1", "").replace("/nm", "").strip()
        try:
            alpha = float(text)
        except ValueError:
            r.fail(f"{key}.alpha", f"must be an inverse length like '1.2 nm^-1', "
                                   f"got {brief(given)}")
        if not str(given).strip().endswith(("nm^-1", "/nm")):
            r.fail(f"{key}.alpha", f"missing unit: write '{text} nm^-1'")
        if not (alpha > 0 and math.isfinite(alpha)):
            r.fail(f"{key}.alpha", f"must be > 0 nm^-1 and finite, got {_text(given)}")
    cutoff = r.quantity(raw["cutoff"], f"{key}.cutoff", "length", minimum=0.0) \
        if "cutoff" in raw else None
    mesh = None
    if "mesh" in raw:
        m = raw["mesh"]
        if isinstance(m, int):
            m = [m, m, m]
        if not (isinstance(m, list) and len(m) == 3 and all(
                isinstance(v, int) and not isinstance(v, bool) and 4 <= v <= MAX_MESH
                for v in m)):
            r.fail(f"{key}.mesh", f"must be an integer from 4 to {MAX_MESH} or a list of "
                                  f"three, got {brief(raw['mesh'])}")
        mesh = tuple(m)
    order = None
    if "order" in raw:
        order = r.number(raw["order"], f"{key}.order", integer=True, minimum=3, strict=False)
        if order > 8:
            r.fail(f"{key}.order", f"B-spline order must be between 3 and 8, got {order}")
    return Electrostatics(method, float(force_error), alpha, cutoff, mesh, order)


def _read_run(r: _Reader, raw) -> RunSettings:
    key = "run"
    r.mapping(raw, key, {"dt", "steps", "duration", "seed", "sample_interval", "frame_interval",
                         "checkpoint_interval", "integrator", "equilibration"},
              required={"dt", "seed"})
    dt = r.quantity(raw["dt"], "run.dt", "time", minimum=0.0)
    if ("steps" in raw) == ("duration" in raw):
        r.fail(key, "give exactly one of 'steps: N' or 'duration: T' (e.g. '20 ns')")
    if "steps" in raw:
        steps = r.number(raw["steps"], "run.steps", minimum=0, integer=True)
        if steps > MAX_STEPS:
            r.fail("run.steps", f"must be at most {MAX_STEPS:.0e}, got {brief(steps)}")
    else:
        ratio = r.quantity(raw["duration"], "run.duration", "time", minimum=0.0) / dt
        if not ratio <= MAX_STEPS:  # also inf: 1e300 ns in steps of 1e-300 ps
            r.fail("run.duration", f"{_text(raw['duration'])} is more than {MAX_STEPS:.0e} "
                                   f"steps of {display_quantity(dt, 'time')}")
        steps = int(round(ratio))
    seed = r.number(raw["seed"], "run.seed", minimum=0, strict=False, integer=True)
    if seed >= 2**63:
        r.fail("run.seed", f"must be < 2^63, got {brief(seed)}")
    sample = r.steps_or_time(raw.get("sample_interval", 100), "run.sample_interval", dt)
    frame = r.steps_or_time(raw.get("frame_interval", 10 * sample), "run.frame_interval", dt)
    checkpoint = r.steps_or_time(raw.get("checkpoint_interval", max(frame, 100 * sample)),
                                 "run.checkpoint_interval", dt)
    if frame % sample or checkpoint % sample:
        r.fail(key, f"frame_interval ({frame}) and checkpoint_interval ({checkpoint}) must be "
                    f"multiples of sample_interval ({sample} steps)")
    integrator = r.choice(raw.get("integrator", INTEGRATORS[0]), "run.integrator", INTEGRATORS)
    equil = raw.get("equilibration", "auto")
    equilibration = None if equil == "auto" else r.quantity(
        equil, "run.equilibration", "time", minimum=0.0, strict=False)
    return RunSettings(dt, int(steps), int(seed), sample, frame, checkpoint, integrator,
                       equilibration)


def _check_electroneutral(r: _Reader, scenario: Scenario):
    """Each compartment's concentrations must carry zero net charge (1e-6 mM tolerance)."""
    valence = {s.name: s.valence for s in scenario.species}
    for i, comp in enumerate(scenario.compartments):
        excess = sum(valence[n] * c for n, c in comp.concentrations) * units.PER_NM3_TO_MM
        if abs(excess) > 1e-6:
            r.fail(f"compartments[{i}].concentrations",
                   f"compartment {comp.name!r} is not electroneutral: net charge "
                   f"{excess:+.6g} mM (sum of valence x concentration must be 0)")
