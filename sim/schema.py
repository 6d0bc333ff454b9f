"""The scenario schema's machinery: key descriptors, and the one walk over them that reads a
YAML tree, writes a record back with units and renders the reference.

A schema is a tree of :class:`Section` s. A section is one YAML mapping: the keys it
accepts, in order, and the record (a frozen dataclass) it builds. Each key is a
:class:`Field`: its kind (a quantity with a dimension, a number, an integer, a choice,
text, steps, a list, a mapping, a nested section), the unit it is written in, its default,
its bounds and a one-line doc. From that one entry follow

- reading (:meth:`Reader.section`): the keys accepted and required, each value read by its
  kind, the default filled in, the bounds checked, every message naming the key path;
- writing (:func:`write`): the resolved scenario, every default filled in, units written
  out (what ``Scenario.to_dict`` returns);
- the reference (:func:`reference`): Markdown, one row per key path and one per rule.

A value whose shape is unusual (``box.lateral``: one length or two) has its own reader on
its field, and still gets its row in the reference. Checks across keys are :class:`Rule` s,
each with a one-line doc; a rule runs as soon as the keys it needs are read, so that of two
mistakes the one met first in reading order is reported.

The scenario's own schema (``SCENARIO``) is declared in :mod:`sim.scenario`, beside the
dataclasses it builds; this module knows nothing of it (it is the layer below), and
``python -m sim.scenario`` writes its reference, docs/scenarios.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field as _field
from typing import Any, Callable

from . import units
from .errors import ScenarioError
from .units import UnitError, display_quantity, format_quantity, parse_quantity
from .yaml_input import brief, join, text

# Field kinds.
QUANTITY = "quantity"  # a number with a unit of `dimension`, stored in internal units
NUMBER = "number"  # a plain number (no unit), stored as float
INTEGER = "integer"  # a plain integer, stored as int
CHOICE = "choice"  # one of `choices`
TEXT = "text"  # a string (always with its own reader: names and descriptions differ)
STEPS = "steps"  # a step count, or a time that is a whole number of time steps
LIST = "list"  # a YAML list of `item`
MAPPING = "mapping"  # a YAML mapping of names (checked by `key_check`) to `item`
SECTION = "section"  # a nested mapping of keys, `section`

START, END = "<start>", "<end>"  # Rule.after: before the first key, after the last


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()  # Field.default of a key that must be given


@dataclass(frozen=True)
class Computed:
    """A default computed from what was read before it: ``fn(values, ctx)`` returns the value
    as it would be written in YAML (it is read like a written one); ``doc`` says how."""
    doc: str
    fn: Callable[[dict, dict], Any]


@dataclass(frozen=True)
class Limit:
    """A bound with its own message, checked after a value is read (and after the plain
    ``minimum`` of its field).

    ``lo``/``hi`` in internal units (or multiples of kT at the scenario's temperature, with
    ``per_kT``); ``hi_strict`` refuses ``hi`` itself; ``magnitude`` bounds |value|;
    ``nonzero`` refuses 0. ``message`` is a ``str.format`` template with ``{text}`` (the
    value as written), ``{brief}`` (its repr, cut short) and ``{value}`` (as read).
    ``doc`` replaces the generated bounds text in the reference."""
    message: str
    lo: float | None = None
    hi: float | None = None
    hi_strict: bool = False
    magnitude: bool = False
    nonzero: bool = False
    per_kT: bool = False
    doc: str = ""


@dataclass(frozen=True)
class Rule:
    """A check across keys. ``check(reader, raw, values, key, ctx)`` gets the section's raw
    mapping, the values read so far (by key), the section's key path and the context, and
    fails through ``reader.fail``; a rule that normalises a value (a surface charge moved
    onto whole counter-ions) writes it back into ``values``. It runs right after the key
    ``after`` is read (START: before any; END: after all). ``where`` is the key (relative
    to the section) its message names, for the reference."""
    where: str
    doc: str
    check: Callable
    after: str = END


_SAME = object()  # Field.attr default: the record attribute is named like the key


@dataclass(frozen=True)
class Field:
    """One key of a section. See the module docstring; every argument after ``doc`` is
    optional and applies to the kinds named.

    attr: the record attribute it fills (default: the key's name; a tuple spreads a pair
      over two attributes, None stores nothing, e.g. `duration`, turned into `steps`).
    default: REQUIRED, a value as written in YAML (read like one), a :class:`Computed`, or
      None (absent stays None: an optional value).
    minimum, strict: QUANTITY, NUMBER, INTEGER: the value must be > minimum (>= when not
      strict), in internal units; the message is the generic one.
    limit: a further :class:`Limit`.
    dimension: QUANTITY: a dimension of :data:`sim.units.UNITS`.
    kT: QUANTITY (energy): '2 kT' is accepted, as multiples of k_B T.
    none_text: QUANTITY: this word reads as None and None writes as it ('auto').
    choices: CHOICE. A YAML `off` (read as false) is 'off' where 'off' is a choice.
    per: STEPS: the key of the time step in the same section.
    item: LIST, MAPPING: a Field describing each element.
    section: SECTION: the nested section.
    key_check: MAPPING: ``key_check(reader, name, key, values, ctx)`` refuses a bad name;
      key_doc names the keys in the reference ('species').
    min_items, max_items, shape: LIST, MAPPING: the number of entries, and the message for
      a value of the wrong shape (``{type}`` in it is replaced by the value's type name).
    null_ok: an empty or null value reads as an empty list or mapping.
    read: a reader for a value of unusual shape: ``read(reader, field, value, key, values,
      ctx)`` returns what is stored (it fails through ``reader.fail``).
    write: ``write(value)`` returns what is written, when the kind's way does not do.
    written: False for keys that are read but never written back (`steps` is, `duration`
      is not). omit_empty: a None or () value is left out of the written mapping.
    type_doc, unit_doc, default_doc, bounds_doc: replace the generated texts in the
      reference.
    """
    key: str
    kind: str
    doc: str
    attr: Any = _SAME
    default: Any = REQUIRED
    minimum: float | None = None
    strict: bool = True
    limit: Limit | None = None
    dimension: str | None = None
    kT: bool = False
    none_text: str | None = None
    choices: tuple = ()
    per: str | None = None
    item: "Field | None" = None
    section: "Section | None" = None
    key_check: Callable | None = None
    key_doc: str = ""
    min_items: int = 0
    max_items: int | None = None
    shape: str = ""
    null_ok: bool = False
    read: Callable | None = None
    write: Callable | None = None
    written: bool = True
    omit_empty: bool = False
    type_doc: str = ""
    unit_doc: str = ""
    default_doc: str = ""
    bounds_doc: str = ""

    def __post_init__(self):
        if self.attr is _SAME:
            object.__setattr__(self, "attr", self.key)
        if self.kind == QUANTITY and self.dimension not in units.UNITS:
            raise ValueError(f"{self.key}: a quantity needs a dimension of sim.units.UNITS")


@dataclass(frozen=True)
class Section:
    """One YAML mapping: ``fields`` in the order they are documented and written.

    record: the dataclass its fields' attributes belong to; None makes it an inline
      section, whose keys fill attributes of the parent's record (``solvent.permittivity``
      is ``Scenario.solvent_permittivity``).
    build: ``build(values, ctx)`` where building takes more than ``record(**attributes)``
      (a channel entry with `count` builds that many records).
    rules: the checks across its keys.
    shorthand: the key a bare string (or YAML false) stands for (``electrostatics: off``).
    read_order: keys in the order they are read, where it differs from ``fields``.
    key_attr: as the item of a MAPPING, the record attribute its name fills.
    """
    name: str
    doc: str
    fields: tuple[Field, ...]
    record: type | None = None
    build: Callable | None = None
    rules: tuple[Rule, ...] = ()
    shorthand: str | None = None
    read_order: tuple[str, ...] | None = None
    key_attr: str | None = None
    keys: frozenset = _field(init=False, repr=False, compare=False)
    required: frozenset = _field(init=False, repr=False, compare=False)
    read_fields: tuple = _field(init=False, repr=False, compare=False)
    rules_after: dict = _field(init=False, repr=False, compare=False)

    def __post_init__(self):
        by_key = {f.key: f for f in self.fields}
        order = self.read_order or tuple(by_key)
        if sorted(order) != sorted(by_key):
            raise ValueError(f"{self.name}: read_order must list each key once")
        rules_after: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if rule.after not in (START, END) and rule.after not in by_key:
                raise ValueError(f"{self.name}: rule after unknown key {rule.after!r}")
            rules_after.setdefault(rule.after, []).append(rule)
        set_ = object.__setattr__
        set_(self, "keys", frozenset(by_key))
        set_(self, "required", frozenset(f.key for f in self.fields if f.default is REQUIRED))
        set_(self, "read_fields", tuple(by_key[k] for k in order))
        set_(self, "rules_after", {k: tuple(v) for k, v in rules_after.items()})

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)


# --- reading -------------------------------------------------------------------------------

class Reader:
    """Walks a parsed YAML tree, remembering the key path for error messages."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, message: str):
        raise ScenarioError(self.source, key, message)

    # -- the schema walk ----------------------------------------------------------------
    def section(self, section: Section, raw, key: str, ctx: dict, *, values: dict | None = None,
                base: dict | None = None, required=None) -> dict:
        """Read the mapping `raw` at `key` as `section`: the values by key, in read order.

        ``values`` is the dict to fill (the top level passes its context, so that nested
        sections see what was read before them); ``base`` gives the values of absent keys
        as they are (a known species' table entry), ``required`` replaces the section's."""
        short = section.shorthand is not None and (isinstance(raw, str) or raw is False)
        if short:
            raw = {section.shorthand: raw}
        else:
            self.mapping(raw, key, section.keys,
                         section.required if required is None else required)
        values = {} if values is None else values
        rules = section.rules_after
        for rule in rules.get(START, ()):
            rule.check(self, raw, values, key, ctx)
        for f in section.read_fields:
            if f.key in raw:
                where = key if short and f.key == section.shorthand else join(key, f.key)
                values[f.key] = self.value(f, raw[f.key], where, values, ctx)
            elif base is not None:
                values[f.key] = base[f.key]
            elif f.default is None:
                values[f.key] = None
            else:
                default = f.default.fn(values, ctx) if isinstance(f.default, Computed) \
                    else f.default
                values[f.key] = self.value(f, default, join(key, f.key), values, ctx)
            for rule in rules.get(f.key, ()):
                rule.check(self, raw, values, key, ctx)
        for rule in rules.get(END, ()):
            rule.check(self, raw, values, key, ctx)
        return values

    def value(self, f: Field, value, key: str, values: dict, ctx: dict):
        """One value of field `f`, written as `value`, at key path `key`."""
        if f.null_ok and not value:
            value = [] if f.kind == LIST else {}
        reader = f.read or _KIND_READERS[f.kind]
        return reader(self, f, value, key, values, ctx)

    def limit(self, lim: Limit, value, raw, key: str, ctx: dict):
        x = abs(value) if lim.magnitude else value
        scale = units.kT(ctx["temperature"]) if lim.per_kT else None
        lo = lim.lo if scale is None or lim.lo is None else lim.lo * scale
        hi = lim.hi if scale is None or lim.hi is None else lim.hi * scale
        if (lim.nonzero and value == 0) or (lo is not None and x < lo) or \
                (hi is not None and (x >= hi if lim.hi_strict else x > hi)):
            self.fail(key, lim.message.format(text=text(raw), brief=brief(raw), value=value))

    # -- values by kind -------------------------------------------------------------------
    def mapping(self, value, key: str, allowed, required=frozenset()):
        if not isinstance(value, dict):
            self.fail(key, f"must be a mapping with keys {sorted(allowed)}, "
                           f"got {type(value).__name__} {brief(value)}")
        for k in value:
            if k not in allowed:
                self.fail(join(key, k), f"unknown key; accepted here: {', '.join(sorted(allowed))}")
        for k in sorted(required):
            if k not in value:
                self.fail(join(key, k), "is required")
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
                           f"got {text(value)}")
        return q

    def energy(self, value, key: str, temperature: float, allow_negative: bool = False) -> float:
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
                self.fail(key, f"cannot read {brief(value)}: write e.g. '1 kT' or '2.5 kJ/mol'")
            if energy < 0 and not allow_negative:
                self.fail(key, f"must be >= 0, got {text(value)}")
            return energy
        return self.quantity(value, key, "energy", minimum=None if allow_negative else 0.0,
                             strict=False)

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

    def steps_in(self, value, key: str, dt: float, max_steps: int) -> int:
        """A time ('20 ps') as a whole number of time steps of `dt` ps."""
        t = self.quantity(value, key, "time", minimum=0.0)
        ratio = t / dt
        if not ratio <= max_steps:  # also inf: 1e300 ns in steps of 1e-300 ps
            self.fail(key, f"{text(value)} is more than {max_steps:.0e} time steps of "
                           f"{display_quantity(dt, 'time')}")
        n = int(round(ratio))
        if n < 1 or abs(n * dt - t) > 1e-6 * t:
            self.fail(key, f"{text(value)} is not a whole number of time steps of "
                           f"{display_quantity(dt, 'time')}")
        return n


def _read_quantity(r: Reader, f: Field, value, key, values, ctx):
    if f.none_text is not None and isinstance(value, str) and value == f.none_text:
        return None
    if f.kT:
        q = r.energy(value, key, ctx["temperature"], allow_negative=f.minimum is None)
    else:
        q = r.quantity(value, key, f.dimension, f.minimum, f.strict)
    if f.limit is not None:
        r.limit(f.limit, q, value, key, ctx)
    return q


def _read_number(r: Reader, f: Field, value, key, values, ctx):
    x = r.number(value, key, f.minimum, f.strict, integer=f.kind == INTEGER)
    if f.limit is not None:
        r.limit(f.limit, x, value, key, ctx)
    return int(x) if f.kind == INTEGER else float(x)


def _read_choice(r: Reader, f: Field, value, key, values, ctx):
    if value is False and "off" in f.choices:  # YAML reads a bare `off` as false
        value = "off"
    return r.choice(value, key, f.choices)


def _read_steps(r: Reader, f: Field, value, key, values, ctx):
    """A step count (an integer), or a time; `f.limit` bounds the count."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            r.fail(key, f"must be >= 1 step, got {brief(value)}")
        r.limit(f.limit, value, value, key, ctx)
        return value
    return r.steps_in(value, key, values[f.per], f.limit.hi)


def _read_section(r: Reader, f: Field, value, key, values, ctx):
    sub = r.section(f.section, value, key, ctx)
    return build(f.section, sub, ctx)


def _read_list(r: Reader, f: Field, value, key, values, ctx):
    if not isinstance(value, list) or len(value) < f.min_items:
        r.fail(key, f.shape.replace("{type}", type(value).__name__))
    if f.max_items is not None and len(value) > f.max_items:
        r.fail(key, f"{len(value)} {f.key}; at most {f.max_items} are accepted")
    out: list = []
    sub = dict(ctx, siblings=out)  # an item's rules see the items before it
    for i, item in enumerate(value):
        sub["index"] = i
        out.append(r.value(f.item, item, f"{key}[{i}]", values, sub))
    return tuple(out)


def _read_mapping(r: Reader, f: Field, value, key, values, ctx):
    if not isinstance(value, dict) or len(value) < f.min_items:
        r.fail(key, f.shape.replace("{type}", type(value).__name__))
    pairs = []
    for name, v in value.items():
        k = join(key, name)
        f.key_check(r, name, k, values, ctx)
        pairs.append((name, r.value(f.item, v, k, values, ctx)))
    return tuple(pairs)


def _no_reader(r: Reader, f: Field, value, key, values, ctx):
    raise TypeError(f"field {f.key!r} of kind {f.kind} needs its own reader")


_KIND_READERS = {QUANTITY: _read_quantity, NUMBER: _read_number, INTEGER: _read_number,
                 CHOICE: _read_choice, STEPS: _read_steps, SECTION: _read_section,
                 LIST: _read_list, MAPPING: _read_mapping, TEXT: _no_reader}


def attributes(section: Section, values: dict) -> dict:
    """The record attributes of a section's values (inline sections' ones lifted up)."""
    out = {}
    for f in section.fields:
        if f.kind == SECTION and f.section.record is None:
            out.update(attributes(f.section, values[f.key]))
        elif isinstance(f.attr, tuple):
            out.update(zip(f.attr, values[f.key]))
        elif f.attr is not None:
            out[f.attr] = values[f.key]
    return out


def build(section: Section, values: dict, ctx: dict):
    """The record a section's values make (the values themselves for an inline section)."""
    if section.build is not None:
        return section.build(values, ctx)
    if section.record is None:
        return values
    return section.record(**attributes(section, values))


# --- writing -------------------------------------------------------------------------------

def write(section: Section, record) -> dict:
    """A record as YAML data, in the section's key order, units written out."""
    out = {}
    for f in section.fields:
        if not f.written:
            continue
        if f.kind == SECTION and f.section.record is None:
            out[f.key] = write(f.section, record)  # inline: the same record's attributes
            continue
        value = tuple(getattr(record, a) for a in f.attr) if isinstance(f.attr, tuple) \
            else getattr(record, f.attr)
        if f.omit_empty and (value is None or value == ()):
            continue
        out[f.key] = write_value(f, value)
    return out


def write_value(f: Field, value):
    if f.write is not None:
        return f.write(value)
    if f.kind == QUANTITY:
        return f.none_text if value is None else format_quantity(value, f.dimension)
    if f.kind == SECTION:
        return write(f.section, value)
    if f.kind == LIST:
        return [write_value(f.item, v) for v in value]
    if f.kind == MAPPING:
        if f.item.kind == SECTION:
            return {getattr(v, f.item.section.key_attr): write(f.item.section, v) for v in value}
        return {name: write_value(f.item, v) for name, v in value}
    return value


# --- the reference -------------------------------------------------------------------------

def _op(strict: bool, below: bool = False) -> str:
    return ("<" if strict else "<=") if below else (">" if strict else ">=")


def _amount(f: Field, x: float) -> str:
    if f.kind == QUANTITY:
        return display_quantity(x, f.dimension)
    return f"{x:g}"


def type_text(f: Field) -> str:
    if f.type_doc:
        return f.type_doc
    if f.kind == QUANTITY:
        t = f.dimension.replace("_", " ")
        t += " or N kT" if f.kT else ""
        return t + (f" or `{f.none_text}`" if f.none_text else "")
    if f.kind == CHOICE:
        return "one of " + ", ".join(f"`{c}`" for c in f.choices)
    if f.kind == STEPS:
        return "steps or a time"
    if f.kind == SECTION:
        short = f" or `{f.section.shorthand}` alone" if f.section.shorthand else ""
        return "mapping" + short
    if f.kind == LIST:
        return f"list of {f.item.section.name}s" if f.item.kind == SECTION \
            else f"list of {type_text(f.item)}"
    if f.kind == MAPPING:
        what = f.item.section.name if f.item.kind == SECTION else type_text(f.item)
        return f"mapping {f.key_doc} → {what}"
    return f.kind


def unit_text(f: Field) -> str:
    if f.unit_doc:
        return f.unit_doc
    if f.kind == QUANTITY:
        return units.CANONICAL_UNIT[f.dimension]
    if f.kind == STEPS:
        return "steps"
    if f.kind in (LIST, MAPPING) and f.item.kind not in (SECTION,):
        return unit_text(f.item)
    return ""


def default_text(f: Field) -> str:
    if f.default_doc:
        return f.default_doc
    d = f.default
    if d is REQUIRED:
        return "required"
    if d is None:
        return "none"
    if isinstance(d, Computed):
        return d.doc
    if f.kind == SECTION and d == {}:
        return "all defaults"
    if d in ({}, [], ""):
        return "empty"
    return f"`{d}`"


def bounds_text(f: Field) -> str:
    if f.bounds_doc:
        return f.bounds_doc
    parts = []
    if f.minimum is not None:
        parts.append(f"{_op(f.strict)} {_amount(f, f.minimum)}")
    lim = f.limit
    if f.kind == STEPS:
        parts.append(f">= 1 step, <= {lim.hi:.0e} steps; a time must be a whole number of "
                     f"`{f.per}`")
    elif lim is not None:
        if lim.doc:
            parts.append(lim.doc)
        else:
            amount = (lambda x: f"{x:g} kT") if lim.per_kT else (lambda x: _amount(f, x))
            if lim.nonzero:
                parts.append("non-zero")
            if lim.lo is not None and lim.hi is not None:
                parts.append(f"{amount(lim.lo)} to {amount(lim.hi)}")
            elif lim.hi is not None:
                bar = "|value| " if lim.magnitude else ""
                parts.append(f"{bar}{_op(lim.hi_strict, below=True)} {amount(lim.hi)}")
    if f.kind in (LIST, MAPPING):
        if f.min_items and f.max_items:
            parts.append(f"{f.min_items} to {f.max_items} entries")
        elif f.max_items:
            parts.append(f"at most {f.max_items} entries")
        elif f.min_items:
            parts.append(f"at least {f.min_items} entry")
        if f.kind == LIST and f.item.kind != SECTION and bounds_text(f.item):
            parts.append("each " + bounds_text(f.item))  # a mapping's items get a row
    return ", ".join(parts)


def _nested(f: Field, path: str):
    """The section a field holds (directly, as list items, or as mapping values) and the key
    path of its keys, or None for a field that holds no section."""
    if f.kind == SECTION:
        return f.section, path
    if f.kind == LIST and f.item.kind == SECTION:
        return f.item.section, path + "[]"
    if f.kind == MAPPING and f.item.kind == SECTION:
        return f.item.section, f"{path}.<{f.key_doc}>"
    return None


def _rows(section: Section, prefix: str):
    """(key path, field, default text) for every key under `section`, depth first in
    written order; a mapping's values get a row of their own, without a default."""
    for f in section.fields:
        path = f"{prefix}.{f.key}" if prefix else f.key
        yield path, f, default_text(f)
        nested = _nested(f, path)
        if nested is not None:
            yield from _rows(*nested)
        elif f.kind == MAPPING:
            yield f"{path}.<{f.key_doc}>", f.item, ""


def _rule_rows(section: Section, prefix: str):
    """(key path, rule) for every rule under `section`."""
    for rule in section.rules:
        where = ".".join(p for p in (prefix, rule.where) if p)
        yield where or "(whole file)", rule
    for f in section.fields:
        nested = _nested(f, f"{prefix}.{f.key}" if prefix else f.key)
        if nested is not None:
            yield from _rule_rows(*nested)


def rows(section: Section) -> list[tuple[str, Field, str]]:
    return list(_rows(section, ""))


def rule_rows(section: Section) -> list[tuple[str, Rule]]:
    return list(_rule_rows(section, ""))


def _cell(s: str) -> str:
    return s.replace("\n", " ").replace("|", "\\|")


def reference(root: Section, regenerate: str) -> str:
    """The Markdown reference of a schema: every key path with its type, unit, default,
    bounds and doc, one table per top-level key, then the rules across keys and the
    accepted units. `regenerate` is the command that writes it, for its header."""
    out = ["# Scenario files: every key\n",
           f"Generated from the schema in `sim/scenario.py` by `{regenerate}`; do not edit "
           f"by hand (`tests/test_schema.py` fails when this file is stale).\n",
           root.doc + "\n"]
    head = "| key | type | unit | default | bounds | description |\n|---|---|---|---|---|---|"

    def table(items):
        lines = [head]
        for path, f, default in items:
            lines.append("| " + " | ".join(_cell(c) for c in (
                f"`{path}`", type_text(f), unit_text(f), default, bounds_text(f),
                f.doc)) + " |")
        return "\n".join(lines) + "\n"

    all_rows = rows(root)
    scalars = [row for row in all_rows if "." not in row[0] and "[" not in row[0]
               and row[1].kind not in (SECTION, LIST, MAPPING)]
    out += ["## Top level\n", table(scalars)]
    for f in root.fields:
        if f.kind in (SECTION, LIST, MAPPING):
            mine = [row for row in all_rows
                    if row[0] == f.key or row[0].startswith((f.key + ".", f.key + "["))]
            out += [f"## `{f.key}`\n", table(mine)]
    out += ["## Rules across keys\n",
            "Each rule is checked as soon as the keys it needs are read; its message names "
            "the key in the first column.\n",
            "| where | rule |\n|---|---|"]
    out += ["| " + _cell(f"`{where}`") + " | " + _cell(rule.doc) + " |"
            for where, rule in rule_rows(root)]
    out += ["", "## Units\n",
            "A value with a dimension is a number and a unit (`\"150 mM\"`); the resolved "
            "scenario (`scenario.yaml` in a run directory) is written in the second "
            "column's unit, or in the internal unit (factor 1) where that would not read "
            "back bit for bit.\n",
            "| dimension | written in | accepted |\n|---|---|---|"]
    for dim, table_ in units.UNITS.items():
        out.append(f"| {dim.replace('_', ' ')} | {units.CANONICAL_UNIT[dim]} | "
                   + ", ".join(f"`{u}`" for u in table_) + " |")
    return "\n".join(out) + "\n"
