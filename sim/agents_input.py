"""Scenario keys of the agents between steps: a channel's `gating` and a membrane's `pumps`.

The records (:class:`Gating`, :class:`Pump`) and their schema sections, declared like the
rest of the scenario (sim.schema) and joined to it by sim.scenario (CHANNEL.gating,
MEMBRANE.pumps). The physics they describe is in sim.gating and sim.pumps; the defaults of
the Na+/K+ pump and their sources are here, beside the keys.

Conventions: a pump's `inside` is the compartment its cytoplasmic face touches; voltages are
V = phi(inside) - phi(outside), the run's V_m when the inside is compartment 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .layout import grid_positions, read_position
from .schema import (INTEGER, LIST, MAPPING, NUMBER, QUANTITY, SECTION, START, Computed,
                     Field, Limit, Reader, Rule, Section)
from .yaml_input import brief, join

__all__ = ["Gating", "ProtocolStep", "Pump", "GATING", "PUMP", "NA_K_PUMP", "PUMPS_FIELD",
           "GATING_FIELD", "transition_key", "check_agents"]

MAX_GATE_STATES = 16
MAX_PUMPS = 2_000  # in one membrane; each is a few array entries, and events per cycle
MAX_CARRIED = 8  # ions of one species in one half-cycle
MAX_ACCELERATION = 1e15
ARROW = "->"

# --- the Na+/K+-ATPase's defaults, with their sources --------------------------------------
#: Half-saturation constants and Hill exponents of the pump's binding, the form of Lindblad
#: et al., Am. J. Physiol. 271 (1996) H1666 (rabbit atrial cell), kept by Nygren et al.,
#: Circ. Res. 82 (1998) 63: I_NaK ~ [K]o/([K]o + 1.0 mM) [Na]i^1.5/([Na]i^1.5 + (11 mM)^1.5).
#: Their empirical voltage factor (V + 150)/(V + 200) is not used: it changes sign below
#: -150 mV and obeys no detailed balance; sim.pumps puts an Eyring factor in its place.
NA_K_HALF_SATURATION = {"Na+": "11 mM", "K+": "1 mM"}
NA_K_HILL = {"Na+": 1.5, "K+": 1.0}
#: ATP hydrolysis in a working cell: about -50 to -60 kJ/mol (standard -30.5 kJ/mol; Berg,
#: Tymoczko & Stryer, Biochemistry, 5th ed., section 14.1; cellular values e.g. Alberts et
#: al., Molecular Biology of the Cell). -55 kJ/mol is the middle of the working range.
ATP_FREE_ENERGY = "-55 kJ/mol"
#: Turnover of the Na+/K+-ATPase at 37 C, about 30 to 100 cycles per second (Laeuger,
#: Electrogenic Ion Pumps, Sinauer 1991, ch. 7; Gadsby, Nat. Rev. Mol. Cell Biol. 10 (2009)
#: 344): 100 /s, the upper end, at saturating Na+ and K+.
TURNOVER = "100 /s"
NA_K_PUMP = {"carries_out": {"Na+": 3}, "carries_in": {"K+": 2}}


@dataclass(frozen=True)
class ProtocolStep:
    """At `at` ps, the channel is put into `state` (whatever its gating would do)."""
    at: float
    state: str


@dataclass(frozen=True)
class Gating:
    """A channel's gate: a continuous-time Markov chain over `states`, of which
    `conducting` pass ions. rates: ((name "a->b", 1/ps), ...) at V = v_half; gating_charge:
    ((state, e), ...), the charge a state has moved outward across the field (0 if absent):
    k_ab(V) = k_ab exp((q_b - q_a) e (V - v_half) / 2kT), so that k_ab / k_ba holds the
    gating energy (detailed balance); v_half in kJ/(mol e); protocol: forced states."""
    states: tuple[str, ...]
    conducting: tuple[str, ...]
    initial: str
    rates: tuple[tuple[str, float], ...] = ()
    gating_charge: tuple[tuple[str, float], ...] = ()
    v_half: float = 0.0
    protocol: tuple[ProtocolStep, ...] = ()

    def transitions(self) -> list[tuple[int, int, float]]:
        """(from index, to index, rate 1/ps) of every given rate."""
        index = {s: i for i, s in enumerate(self.states)}
        out = []
        for name, k in self.rates:
            a, b = transition_key(name)
            out.append((index[a], index[b], k))
        return out

    def charges(self) -> list[float]:
        q = dict(self.gating_charge)
        return [float(q.get(s, 0.0)) for s in self.states]


@dataclass(frozen=True)
class Pump:
    """An ion pump in a membrane at (x, y) nm: a two-state machine (sim.pumps) that carries
    `carries_out` from its inside face to the outside and `carries_in` back, ((species, n),
    ...). turnover 1/ps at saturation (the real one), `acceleration` multiplies every rate;
    half_saturation ((species, nm^-3), ...), hill ((species, exponent), ...);
    atp_free_energy kJ/mol (< 0); charge_fraction: the fraction of the membrane field the net
    charge crosses before the out half-cycle's barrier top; radius nm: its footprint (no pore
    within it); capture_radius, capture_depth nm: where it binds and releases ions."""
    x: float
    y: float
    inside: str
    carries_out: tuple[tuple[str, int], ...]
    carries_in: tuple[tuple[str, int], ...]
    acceleration: float
    turnover: float
    half_saturation: tuple[tuple[str, float], ...]
    hill: tuple[tuple[str, float], ...]
    atp_free_energy: float
    charge_fraction: float
    radius: float
    capture_radius: float
    capture_depth: float


def transition_key(name) -> tuple[str, str]:
    """('closed', 'open') from 'closed->open' (ValueError otherwise)."""
    if not isinstance(name, str) or name.count(ARROW) != 1:
        raise ValueError(name)
    a, b = (part.strip() for part in name.split(ARROW))
    if not a or not b:
        raise ValueError(name)
    return a, b


# --- readers and rules ----------------------------------------------------------------------

def _read_names(r: Reader, f: Field, names, key: str, values, ctx) -> tuple[str, ...]:
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names:
        r.fail(key, f"must be a list of state names, e.g. [closed, open], got {brief(names)}")
    if len(names) > MAX_GATE_STATES:
        r.fail(key, f"{len(names)} states; at most {MAX_GATE_STATES} are accepted")
    for i, n in enumerate(names):
        if not isinstance(n, str) or not n.strip() or ARROW in n or not n.isprintable():
            r.fail(f"{key}[{i}]", f"must be a state name (printable, without '{ARROW}'), "
                                  f"got {brief(n)}")
    if len(set(names)) != len(names):
        r.fail(key, f"state names must be unique, got {brief(names)}")
    return tuple(names)


def _known_state(r: Reader, name, key: str, states) -> str:
    if not isinstance(name, str) or name not in states:
        r.fail(key, f"unknown gating state {brief(name)}; the states are "
                    f"{', '.join(states)}")
    return name


def _read_conducting(r: Reader, f: Field, names, key: str, values, ctx):
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list):
        r.fail(key, "must be a list of the states that conduct, e.g. [open]")
    return tuple(_known_state(r, n, f"{key}[{i}]", values["states"])
                 for i, n in enumerate(names))


def _read_state(r: Reader, f: Field, name, key: str, values, ctx) -> str:
    return _known_state(r, name, key, ctx.get("gate_states") or values["states"])


def _check_transition(r: Reader, name, key: str, values, ctx):
    try:
        a, b = transition_key(name)
    except ValueError:
        r.fail(key, f"must name a transition 'from{ARROW}to', e.g. 'closed{ARROW}open', "
                    f"got {brief(name)}")
    for s in (a, b):
        _known_state(r, s, key, values["states"])
    if a == b:
        r.fail(key, "a transition must go to another state")


def _check_state_key(r: Reader, name, key: str, values, ctx):
    _known_state(r, name, key, values["states"])


def _read_protocol(r: Reader, f: Field, raw, key: str, values, ctx):
    if not isinstance(raw, list):
        r.fail(key, "must be a list of {at: time, state: name}")
    sub = dict(ctx, gate_states=values["states"])
    steps = [r.value(f.item, entry, f"{key}[{i}]", values, sub) for i, entry in enumerate(raw)]
    times = [s.at for s in steps]
    if times != sorted(times):
        r.fail(key, "the protocol's times must be in increasing order")
    return tuple(steps)


def _reversible(r: Reader, raw, values, key, ctx):
    given = {transition_key(name) for name, _ in values["rates"]}
    for a, b in sorted(given):
        if (b, a) not in given:
            r.fail(join(key, "rates"), f"'{a}{ARROW}{b}' has no reverse '{b}{ARROW}{a}': every "
                                       f"transition needs one (detailed balance)")


def _rates_or_protocol(r: Reader, raw, values, key, ctx):
    if not values["rates"] and not values["protocol"]:
        r.fail(join(key, "rates"), "is required (transition rates, e.g. "
                                   "{closed->open: 1 /ns, open->closed: 2 /ns}) unless a "
                                   "`protocol` sets the states")


def _conducting_not_empty(r: Reader, raw, values, key, ctx):
    if not values["conducting"]:
        r.fail(join(key, "conducting"), "must name at least one state that conducts")


GATING = Section(
    "gating", "A gated channel: a Markov chain over named states, each channel drawn from "
    "its own random stream (sim.gating). A closed gate refuses ions at the pore's mouths; "
    "an ion already inside leaves freely.", (
        Field("states", LIST, "The gate's states.", read=_read_names,
              item=Field("state", "text", ""), type_doc="list of names",
              bounds_doc=f"at most {MAX_GATE_STATES}, unique"),
        Field("conducting", LIST, "The states that pass ions.", read=_read_conducting,
              default=["open"], item=Field("state", "text", ""), type_doc="list of states"),
        Field("initial", "text", "The state every channel starts in.", read=_read_state,
              default=Computed("the first state", lambda values, ctx: values["states"][0]),
              type_doc="state"),
        Field("rates", MAPPING, "Transition rates at V = `v_half`, 'from->to': rate; every "
              "transition needs its reverse.", default={}, null_ok=True, omit_empty=True,
              key_check=_check_transition, key_doc="transition",
              shape="must map transitions to rates, e.g. {closed->open: 1 /ns}",
              item=Field("rate", QUANTITY, "The rate of the transition.", dimension="rate",
                         minimum=0.0)),
        Field("gating_charge", MAPPING, "Charge (e) a state has moved outward across the "
              "membrane field, relative to 0: rates go as exp((q_to - q_from) e (V - "
              "v_half) / 2kT) (V = phi(inside) - phi(outside), the run's V_m).", default={},
              null_ok=True, omit_empty=True, key_check=_check_state_key, key_doc="state",
              shape="must map states to charges, e.g. {open: 4}",
              item=Field("charge", NUMBER, "The state's gating charge (e).", limit=Limit(
                  "must be a charge in e of magnitude at most 20, got {brief}", hi=20,
                  magnitude=True))),
        Field("v_half", QUANTITY, "Voltage at which the rates are the ones given.",
              dimension="voltage", default="0 mV"),
        Field("protocol", LIST, "Times at which every channel of the entry is put into a "
              "state (a voltage-clamp-like schedule), in increasing order.", default=[],
              null_ok=True, omit_empty=True, read=_read_protocol,
              item=Field("step", SECTION, "", section=Section(
                  "protocol step", "Put the channels into a state at a time.", (
                      Field("at", QUANTITY, "When.", dimension="time", minimum=0.0,
                            strict=False),
                      Field("state", "text", "Into which state.", read=_read_state,
                            type_doc="state"),
                  ), record=ProtocolStep))),
    ), record=Gating, rules=(
        Rule("rates", "every transition has its reverse (detailed balance)", _reversible,
             after="rates"),
        Rule("conducting", "at least one state conducts", _conducting_not_empty,
             after="conducting"),
        Rule("rates", "rates are given unless a protocol sets the states", _rates_or_protocol,
             after="protocol"),
    ))

GATING_FIELD = Field("gating", SECTION, "Makes the channel gated (closed and open, or more "
                     "states); absent: always open.", default=None, omit_empty=True,
                     section=GATING, default_doc="always open")


def _present_species(ctx) -> set[str]:
    return {name for c in ctx.get("compartments", ()) for name, conc in c.concentrations
            if conc > 0}


def _read_factor(r: Reader, f: Field, raw, key: str, values, ctx) -> float:
    """A plain number; YAML reads `1e8` (no dot) as text, so text that is a number is one."""
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            pass
    from .schema import _read_number
    return _read_number(r, f, raw, key, values, ctx)


def _read_carried(r: Reader, f: Field, raw, key: str, values, ctx):
    if not isinstance(raw, dict) or not raw:
        r.fail(key, "must map species to the number carried per cycle, e.g. {Na+: 3}")
    present = _present_species(ctx)
    out = []
    for name, n in raw.items():
        k = join(key, name)
        if name not in present:
            r.fail(k, f"species {brief(name)} is not in this scenario (its compartments "
                      f"hold {', '.join(sorted(present))})")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_CARRIED:
            r.fail(k, f"must be a whole number of ions from 1 to {MAX_CARRIED}, got {brief(n)}")
        out.append((name, n))
    return tuple(out)


def _read_species_numbers(r: Reader, f: Field, raw, key: str, values, ctx):
    """A mapping carried species -> value (half-saturation, Hill exponent)."""
    if not isinstance(raw, dict):
        r.fail(key, f.shape)
    carried = {n for n, _ in values["carries_out"] + values["carries_in"]}
    out = []
    for name, v in raw.items():
        k = join(key, name)
        if name not in carried:
            r.fail(k, f"{brief(name)} is not carried by this pump (it carries "
                      f"{', '.join(sorted(carried))})")
        out.append((name, r.value(f.item, v, k, values, ctx)))
    return tuple(out)


def _default_for_carried(table):
    def fn(values, ctx):
        carried = [n for n, _ in values["carries_out"] + values["carries_in"]]
        return {n: table[n] for n in carried if n in table}
    return fn


def _every_carried_saturates(r: Reader, raw, values, key, ctx):
    have = {n for n, _ in values["half_saturation"]}
    for name, _ in values["carries_out"] + values["carries_in"]:
        if name not in have:
            r.fail(join(key, "half_saturation"), f"needs the half-saturation concentration "
                                                 f"of {name} (e.g. {{{name}: 10 mM}})")


def _one_pump_placement(r: Reader, raw, values, key, ctx):
    if ("position" in raw) == ("count" in raw):
        r.fail(key, "give exactly one of 'position: [x, y]' or 'count: N' (laid on a grid)")


def _read_inside(r: Reader, f: Field, name, key: str, values, ctx) -> str:
    names = [c.name for c in ctx.get("compartments", ())]
    if name not in names:
        r.fail(key, f"unknown compartment {brief(name)}; the compartments are "
                    f"{', '.join(names)}")
    return name


def _read_position(r: Reader, f: Field, pos, key: str, values, ctx):
    return read_position(r, f, pos, key, values, ctx, "membrane")


def _build_pumps(values: dict, ctx: dict) -> list[Pump]:
    positions = [values["position"]] if values["position"] is not None else \
        grid_positions(values["count"], ctx["box"]["lateral"], at=0.0)
    keys = ("inside", "carries_out", "carries_in", "acceleration", "turnover",
            "half_saturation", "hill", "atp_free_energy", "charge_fraction", "radius",
            "capture_radius", "capture_depth")
    return [Pump(x, y, **{k: values[k] for k in keys}) for x, y in positions]


def _default_inside(values, ctx):
    return ctx["compartments"][0].name


PUMP = Section(
    "pump", "An ion pump (sim.pumps): a two-state machine that binds `carries_out` in its "
    "capture region on the inside face, releases them outside, binds `carries_in` there and "
    "releases them inside; defaults are the Na+/K+-ATPase's.", (
        Field("position", LIST, "Where the pump sits on the membrane; give this or `count`.",
              attr=("x", "y"), default=None, read=_read_position,
              item=Field("x", QUANTITY, "", dimension="length", minimum=0.0, strict=False),
              type_doc="[x, y] lengths", bounds_doc="each in [0, box edge)"),
        Field("count", INTEGER, "Pumps laid on a grid as channels' `count` are, but at the "
              "cells' corners (between the pores of as many channels); give this or "
              "`position`. Written back as one entry per pump.", attr=None, default=None,
              minimum=0, written=False, limit=Limit(
                  f"must be at most {MAX_PUMPS} pumps, got {{brief}}", hi=MAX_PUMPS)),
        Field("inside", "text", "The compartment the pump's cytoplasmic face touches.",
              read=_read_inside, default=Computed("compartment 0", _default_inside),
              type_doc="compartment"),
        Field("carries_out", MAPPING, "Ions carried from inside to outside per cycle.",
              default=NA_K_PUMP["carries_out"], read=_read_carried,
              item=Field("ions", INTEGER, "Ions of the species per cycle."),
              type_doc="mapping species → whole number"),
        Field("carries_in", MAPPING, "Ions carried from outside to inside per cycle.",
              default=NA_K_PUMP["carries_in"], read=_read_carried,
              item=Field("ions", INTEGER, "Ions of the species per cycle."),
              type_doc="mapping species → whole number"),
        Field("acceleration", NUMBER, "Factor multiplying every rate of the pump: real pumps "
              "turn over in milliseconds, a simulation sees nanoseconds. Printed with every "
              "pump number.", minimum=1.0, strict=False, read=_read_factor, limit=Limit(
                  f"must be at most {MAX_ACCELERATION:g}, got {{brief}}",
                  hi=MAX_ACCELERATION)),
        Field("turnover", QUANTITY, "Cycles per second of the real pump at saturating ions "
              "and V = 0 (Laeuger 1991; Gadsby 2009).", dimension="rate", minimum=0.0,
              default=TURNOVER),
        Field("half_saturation", MAPPING, "Half-saturation concentration of each carried "
              "species' binding (Lindblad et al. 1996: Na+ 11 mM, K+ 1 mM).",
              read=_read_species_numbers, shape="must map carried species to "
              "concentrations, e.g. {Na+: 11 mM}", key_doc="carried species",
              default=Computed("Na+ 11 mM, K+ 1 mM (Lindblad et al. 1996)",
                               _default_for_carried(NA_K_HALF_SATURATION)),
              item=Field("concentration", QUANTITY, "Half-saturation concentration.",
                         dimension="concentration",
                         minimum=0.0)),
        Field("hill", MAPPING, "Hill exponent of each species' binding, "
              "c^n / (c^n + K^n) (Lindblad et al. 1996: Na+ 1.5, K+ 1); absent: 1.",
              read=_read_species_numbers, shape="must map carried species to exponents",
              key_doc="carried species",
              default=Computed("Na+ 1.5, K+ 1", _default_for_carried(NA_K_HILL)),
              item=Field("exponent", NUMBER, "Hill exponent.", minimum=0.0, limit=Limit(
                  "must be a Hill exponent of at most 8, got {brief}", hi=8))),
        Field("atp_free_energy", QUANTITY, "Free energy of ATP hydrolysis, used by the out "
              "half-cycle (-30.5 kJ/mol standard; -50 to -60 kJ/mol in a working cell).",
              dimension="energy", default=ATP_FREE_ENERGY, minimum=-200.0, limit=Limit(
                  "must be negative (hydrolysis releases free energy), got {text}", hi=0.0,
                  hi_strict=True)),
        Field("charge_fraction", NUMBER, "Fraction of the membrane field the net charge "
              "crosses before the barrier of the out half-cycle (Eyring): 0.5 splits the "
              "voltage dependence evenly between forward and backward rates.", minimum=0.0,
              strict=False, default=0.5, limit=Limit("must be in [0, 1], got {brief}", hi=1)),
        Field("radius", QUANTITY, "Footprint in the membrane (no pore within it).",
              dimension="length", minimum=0.0, default="1 nm"),
        Field("capture_radius", QUANTITY, "Lateral reach of the capture and release regions "
              "in front of each face.", dimension="length", minimum=0.0, default="2 nm"),
        Field("capture_depth", QUANTITY, "Depth of those regions from the contact plane.",
              dimension="length", minimum=0.0, default="1 nm"),
    ), record=Pump, build=_build_pumps,
    read_order=("inside", "carries_out", "carries_in", "acceleration", "turnover",
                "half_saturation", "hill", "atp_free_energy", "charge_fraction", "radius",
                "capture_radius", "capture_depth", "position", "count"),
    rules=(
        Rule("", "exactly one of `position` and `count`", _one_pump_placement, after=START),
        Rule("half_saturation", "every carried species has a half-saturation concentration",
             _every_carried_saturates, after="half_saturation"),
    ))


def _read_pumps(r: Reader, f: Field, raw, key: str, values, ctx):
    if not isinstance(raw, list):
        r.fail(key, "must be a list of pumps")
    pumps: list[Pump] = []
    for j, entry in enumerate(raw):
        pumps.extend(r.value(f.item, entry, f"{key}[{j}]", values, ctx))
        if len(pumps) > MAX_PUMPS:
            r.fail(key, f"more than {MAX_PUMPS} pumps in one membrane; use fewer")
    return tuple(pumps)


PUMPS_FIELD = Field("pumps", LIST, "The membrane's ion pumps (sim.pumps).", default=[],
                    null_ok=True, omit_empty=True, read=_read_pumps,
                    item=Field("pump", SECTION, "", section=PUMP),
                    bounds_doc=f"at most {MAX_PUMPS} pumps")


# --- rules across the membrane and the scenario ---------------------------------------------

def _periodic_distance(a, b, box_xy) -> float:
    dx = (a[0] - b[0] + box_xy[0] / 2) % box_xy[0] - box_xy[0] / 2
    dy = (a[1] - b[1] + box_xy[1] / 2) % box_xy[1] - box_xy[1] / 2
    return math.hypot(dx, dy)


def pumps_clear(r: Reader, raw, values, key, ctx):
    """No pump's footprint overlaps a pore of its membrane or another pump (all pairs: pumps
    are few)."""
    pumps, channels, box_xy = values["pumps"], values["channels"], ctx["box"]["lateral"]
    for i, p in enumerate(pumps):
        for c, ch in enumerate(channels):
            if _periodic_distance((p.x, p.y), (ch.x, ch.y), box_xy) < p.radius + ch.radius:
                r.fail(join(key, "pumps"), f"pump {i} at ({p.x:g}, {p.y:g}) nm overlaps "
                                           f"channel {c} at ({ch.x:g}, {ch.y:g}) nm (radii "
                                           f"{p.radius:g}, {ch.radius:g} nm); move it or "
                                           f"use fewer")
        for j in range(i):
            q = pumps[j]
            if _periodic_distance((p.x, p.y), (q.x, q.y), box_xy) < p.radius + q.radius:
                r.fail(join(key, "pumps"), f"pumps {j} at ({q.x:g}, {q.y:g}) nm and {i} at "
                                           f"({p.x:g}, {p.y:g}) nm overlap (radius "
                                           f"{p.radius:g} nm); place them further apart")


def check_agents(r: Reader, raw, values, key, ctx):
    """Pumps and gated channels act across a membrane between two compartments, inside and
    outside: the scenario has exactly two, and each capture region fits its compartment."""
    membranes = values["membranes"]
    pumps = [(j, p) for j, m in enumerate(membranes) for p in m.pumps]
    gated = any(ch.gating is not None for m in membranes for ch in m.channels)
    if not pumps and not gated:
        return
    comps = values["compartments"]
    if len(comps) != 2:
        what = "pumps" if pumps else "gated channels"
        r.fail("compartments", f"{what} need exactly two compartments (inside and outside: "
                               f"V = phi(inside) - phi(outside) drives them), got {len(comps)}")
    species = values["species"]
    for j, p in pumps:
        widest = max(species[n].diameter for n, _ in p.carries_out + p.carries_in)
        for c in comps:
            if c.depth < p.capture_depth + 2 * widest:
                r.fail(f"membranes[{j}].pumps", f"capture_depth {p.capture_depth:g} nm does "
                                                f"not fit compartment {c.name!r} ({c.depth:g} "
                                                f"nm deep); use a smaller one")
            if 2 * p.capture_radius > min(values["box"]["lateral"]):
                r.fail(f"membranes[{j}].pumps", f"capture_radius {p.capture_radius:g} nm is "
                                                f"more than half the box's lateral edge")
