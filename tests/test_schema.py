"""The scenario schema (sim/scenario.py's SCENARIO, read and written by sim/schema.py): the
reference docs/scenarios.md is current, every key maps to a dataclass attribute and back,
the bounds it documents are the ones enforced, and every shipped scenario reads back from
its own to_dict()."""

from __future__ import annotations

import copy
import dataclasses
import difflib
import glob
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from sim import schema, water
from sim.errors import ScenarioError
from sim.scenario import (REFERENCE_PATH, REGENERATE, SCENARIO, Electrostatics, Membrane,
                          RunSettings, load_scenario, parse_scenario, reference)
from sim.units import format_quantity

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(glob.glob(str(ROOT / "scenarios" / "*.yaml"))
                 + glob.glob(str(ROOT / "scenarios" / "depth_series" / "*.yaml")))

# Every section of the schema, with its key path prefix ('membranes[].channels[]').
SECTIONS = [("", SCENARIO)] + [
    (path + {schema.SECTION: "", schema.LIST: "[]"}.get(f.kind, f".<{f.key_doc}>"),
     f.section if f.kind == schema.SECTION else f.item.section)
    for path, f, _ in schema.rows(SCENARIO)
    if f.kind == schema.SECTION or (f.kind in (schema.LIST, schema.MAPPING)
                                    and f.item.kind == schema.SECTION)]

# A scenario that gives every key a value (channels by count, a species changed).
FULL = {
    "name": "full", "description": "every key", "temperature": "300 K",
    "solvent": {"permittivity": 77.5},
    "species": {"K+": {"valence": 1, "diameter": "0.27 nm", "diffusion": "1.9e-9 m^2/s"}},
    "box": {"lateral": "10 nm"},
    "compartments": [
        {"name": "in", "depth": "5 nm", "concentrations": {"K+": "150 mM", "Cl-": "150 mM"}},
        {"name": "out", "depth": "5 nm", "concentrations": {"K+": "150 mM", "Cl-": "150 mM"},
         "concentration_basis": "bulk"}],
    "membranes": [
        {"thickness": "4 nm", "permittivity": 2, "surface_charge": "0 e/nm^2",
         "channels": [{"count": 4, "radius": "0.6 nm", "permeant": ["K+"],
                       "barriers": {"K+": "1 kT"},
                       "gating": {"states": ["shut", "open"], "conducting": ["open"],
                                  "initial": "shut",
                                  "rates": {"shut->open": "1 /ns", "open->shut": "2 /ns"},
                                  "gating_charge": {"open": 2}, "v_half": "-30 mV",
                                  "protocol": [{"at": "1 ps", "state": "open"}]}}],
         "pumps": [{"count": 1, "inside": "in", "carries_out": {"K+": 1},
                    "carries_in": {"Cl-": 1}, "acceleration": 1e6, "turnover": "50 /s",
                    "half_saturation": {"K+": "10 mM", "Cl-": "20 mM"},
                    "hill": {"K+": 1.5, "Cl-": 1}, "atp_free_energy": "-50 kJ/mol",
                    "charge_fraction": 0.3, "radius": "0.8 nm", "capture_radius": "1.5 nm",
                    "capture_depth": "1 nm"}]},
        {"thickness": "4 nm", "channels": []}],
    "electrostatics": {"method": "ewald", "force_error": 1e-3, "alpha": "1.1 nm^-1",
                       "cutoff": "2 nm", "mesh": 16, "order": 6},
    "interactions": {"wca_epsilon": "1 kT"},
    "observables": {"profile_bin_width": "0.25 nm"},
    "run": {"dt": "0.05 ps", "steps": 1000, "seed": 1, "sample_interval": 10,
            "frame_interval": 100, "checkpoint_interval": 1000,
            "integrator": "euler-maruyama", "equilibration": "auto", "agent_interval": 10},
}


def test_the_reference_is_current():
    fresh = reference()
    current = REFERENCE_PATH.read_text() if REFERENCE_PATH.exists() else ""
    diff = "".join(list(difflib.unified_diff(
        current.splitlines(True), fresh.splitlines(True), "docs/scenarios.md",
        "generated"))[:40])
    assert current == fresh, (f"docs/scenarios.md is stale: regenerate it with "
                              f"`{REGENERATE}` and commit it\n{diff}")


def test_the_reference_lists_every_key_and_rule():
    text = reference()
    for path, f, _ in schema.rows(SCENARIO):
        assert f"`{path}`" in text and f.doc, path
    for where, rule in schema.rule_rows(SCENARIO):
        assert rule.doc and "\n" not in rule.doc and rule.doc in text, where


def _lifted(section: schema.Section) -> set[str]:
    """The record attributes a section's keys fill (inline sections' keys included)."""
    attrs = {section.key_attr} if section.key_attr else set()
    for f in section.fields:
        if f.kind == schema.SECTION and f.section.record is None:
            attrs |= _lifted(f.section)
        elif isinstance(f.attr, tuple):
            attrs |= set(f.attr)
        elif f.attr is not None:
            attrs.add(f.attr)
    return attrs


@pytest.mark.parametrize("prefix,section", [(p, s) for p, s in SECTIONS if s.record],
                         ids=[p or "top" for p, s in SECTIONS if s.record])
def test_every_key_maps_to_a_dataclass_attribute_and_back(prefix, section):
    attrs = {f.name for f in dataclasses.fields(section.record)} - {"source"}
    assert _lifted(section) == attrs, (prefix, section.record.__name__)


def test_rules_name_keys_of_their_section():
    for prefix, section in SECTIONS:
        for rule in section.rules:
            first = rule.where.split(".")[0].split("[")[0]
            assert first == "" or first in section.keys, (prefix, rule.where)


def test_dataclass_defaults_are_the_schema_defaults():
    """Where a dataclass has a default, the schema's default reads to the same value."""
    tree = copy.deepcopy(FULL)
    tree.pop("solvent")
    tree["electrostatics"] = {}
    tree["run"] = {"dt": "0.05 ps", "steps": 10, "seed": 1}
    for m in tree["membranes"]:
        m.pop("surface_charge", None)
        m.pop("pumps", None)
        m["channels"] = []
    sc = parse_scenario(tree, "d.yaml")
    assert sc.electrostatics == Electrostatics()
    defaults = {f.name: f.default for f in dataclasses.fields(RunSettings)
                if f.default is not dataclasses.MISSING}
    assert {k: getattr(sc.run, k) for k in defaults} == defaults
    defaults = {f.name: f.default for f in dataclasses.fields(Membrane)
                if f.default is not dataclasses.MISSING}
    assert {k: getattr(sc.membranes[0], k) for k in defaults} == defaults
    assert sc.solvent_permittivity == water.relative_permittivity(sc.temperature)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: Path(p).name)
def test_every_shipped_scenario_reads_back_from_to_dict(path):
    sc = load_scenario(path)
    resolved = sc.to_dict()
    again = parse_scenario(copy.deepcopy(resolved), path)
    assert again == sc
    assert again.to_dict() == resolved


def test_the_full_scenario_reads_back_from_to_dict():
    sc = parse_scenario(copy.deepcopy(FULL), "full.yaml")
    assert parse_scenario(sc.to_dict(), "full.yaml") == sc


def test_unknown_keys_name_the_schema_keys():
    for prefix, section in SECTIONS:
        tree = copy.deepcopy(FULL)
        node = _node(tree, prefix)
        node["bogus"] = 1
        with pytest.raises(ScenarioError) as err:
            parse_scenario(tree, "u.yaml")
        assert err.value.detail == f"unknown key; accepted here: {', '.join(sorted(section.keys))}"


def _node(tree, prefix: str):
    """The mapping at a schema key path, taking entry 0 of lists and K+ for names."""
    node = tree
    for part in filter(None, prefix.replace("[]", ".[]").split(".")):
        node = node[0] if part == "[]" else node["K+"] if part.startswith("<") else node[part]
    return node


def _outside(f: schema.Field):
    """Values just outside the documented bounds of a plain field, as written in YAML."""
    def written(x):
        return format_quantity(x, f.dimension) if f.kind == schema.QUANTITY else x
    if f.minimum is not None:
        yield written(f.minimum if f.strict else f.minimum - 1)
    lim = f.limit
    if lim is not None and not lim.per_kT and f.kind != schema.STEPS:
        if lim.nonzero:
            yield written(0)
        if lim.hi is not None:
            yield written(lim.hi if lim.hi_strict else 2 * lim.hi)
        if lim.lo is not None:
            yield written(lim.lo / 2)


PLAIN = (schema.QUANTITY, schema.NUMBER, schema.INTEGER)


@pytest.mark.parametrize("path", [p for p, f, _ in schema.rows(SCENARIO)
                                  if f.kind in PLAIN and f.read is None
                                  and not p.startswith("run.duration")])
def test_the_documented_bounds_are_enforced(path):
    f = next(g for p, g, _ in schema.rows(SCENARIO) if p == path)
    parent, _, key = path.rpartition(".")
    concrete = re.sub(r"<[^>]*>", "K+", path.replace("[]", "[0]"))
    for value in _outside(f):
        tree = copy.deepcopy(FULL)
        _node(tree, parent)["K+" if key.startswith("<") else key] = value
        with pytest.raises(ScenarioError) as err:
            parse_scenario(tree, "b.yaml")
        assert err.value.key == concrete, (value, str(err.value))


def test_the_water_permittivity_fit_is_one_function():
    from analysis.activity import water_relative_permittivity
    assert water_relative_permittivity is water.relative_permittivity
    assert water.relative_permittivity(298.15) == pytest.approx(78.30, abs=0.005)
    assert water.relative_permittivity(310.15) == pytest.approx(74.15, abs=0.005)
    with pytest.raises(ValueError):
        water.relative_permittivity(400.0)


def test_a_new_key_is_one_field():
    """The machinery on its own: one Field per key gives reading, defaults, messages,
    writing and a row of the reference."""
    @dataclass(frozen=True)
    class Toy:
        width: float
        n: int

    toy = schema.Section("toy", "A toy.", (
        schema.Field("width", schema.QUANTITY, "A width.", dimension="length", minimum=0.0,
                     default="2 nm"),
        schema.Field("n", schema.INTEGER, "A count.", minimum=0, strict=False),
    ), record=Toy)
    r = schema.Reader("toy.yaml")
    assert schema.build(toy, r.section(toy, {"n": 3}, "toy", {}), {}) == Toy(2.0, 3)
    assert schema.write(toy, Toy(2.0, 3)) == {"width": "2.0 nm", "n": 3}
    with pytest.raises(ScenarioError, match=r"toy\.yaml: toy\.width: must be > 0 nm"):
        r.section(toy, {"n": 3, "width": "-1 nm"}, "toy", {})
    with pytest.raises(ScenarioError, match=r"toy\.n: is required"):
        r.section(toy, {}, "toy", {})
    assert "`toy.width` | length | nm | `2 nm` | > 0 nm | A width. |" in \
        schema.reference(schema.Section("root", "", (
            schema.Field("toy", schema.SECTION, "", section=toy, attr=None),)), "make toy")
