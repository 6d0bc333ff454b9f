"""Scenarios changed by key path: the values a notebook, a sweep's axes or a replica's seed set.

A key path names a value as error messages and a run's resolved ``scenario.yaml`` do:
``temperature``, ``run.seed``, ``compartments[1].concentrations.K+``,
``membranes[0].channels[0].radius``. :func:`set_value` changes a YAML tree (a scenario file
as written, or :meth:`Scenario.to_dict`'s resolved tree) in place; :func:`with_values`
gives a validated copy of a Scenario (``sim.api.with_values``).
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any, Mapping

from .errors import ScenarioError
from .scenario import Scenario, default_species_table, parse_scenario
from .yaml_input import brief

__all__ = ["set_value", "with_values", "key_path"]


_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")


def key_path(path: str, source: str) -> list[str | int]:
    """``compartments[1].concentrations.K+`` -> ['compartments', 1, 'concentrations', 'K+']."""
    parts: list[str | int] = []
    for segment in path.split(".") if isinstance(path, str) else [None]:
        m = _SEGMENT.fullmatch(segment or "")
        if m is None:
            raise ScenarioError(source, "", f"cannot read the key path {brief(path)}: write "
                                f"keys joined by '.' and list entries as [n], e.g. "
                                f"compartments[1].concentrations.K+ or run.seed")
        parts.append(m.group(1))
        parts.extend(int(i) for i in re.findall(r"\d+", m.group(2)))
    return parts


def _where(prefix: str, part) -> str:
    return f"{prefix}[{part}]" if isinstance(part, int) else \
        (f"{prefix}.{part}" if prefix else part)


def set_value(tree: dict, path: str, value, source: str = "<scenario>") -> None:
    """Set the value at a key path in a scenario tree (YAML data), in place.

    Each key and list entry on the way must exist; the last key may be new in its mapping
    (a concentration of another species, ``run.duration``), for the scenario reader to
    accept or refuse. ``run.duration`` replaces ``run.steps`` and the other way round.

    Raises:
        ScenarioError: the path cannot be read, or a part of it does not exist (naming the
            path and what is there).
    """
    parts = key_path(path, source)
    node, where = tree, ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ScenarioError(source, path, f"no such entry: {where} is not a list "
                                                  f"(it is {brief(node)})")
            if part >= len(node):
                raise ScenarioError(source, path, f"no such entry: {where} has {len(node)} "
                                                  f"entries (0..{len(node) - 1})"
                                    if node else f"no such entry: {where} is empty")
        else:
            if not isinstance(node, dict):
                raise ScenarioError(source, path, f"no such key: {where} is not a mapping "
                                                  f"(it is {brief(node)})")
            if part not in node and not last:
                raise ScenarioError(source, path, f"no such key: {_where(where, part)} "
                                                  f"(there: {', '.join(map(str, node))})")
        if last:
            node[part] = value
        else:
            node, where = node[part], _where(where, part)
    if parts[0] == "run" and len(parts) == 2 and isinstance(tree["run"], dict):
        other = {"duration": "steps", "steps": "duration"}.get(parts[1])
        if other:
            tree["run"].pop(other, None)


def with_values(scenario: Scenario, values: Mapping[str, Any]) -> Scenario:
    """A copy of the scenario with values changed by key path, validated again.

    The paths are those of the resolved scenario (:meth:`Scenario.to_dict`, what a run
    directory's scenario.yaml holds) and of error messages: ``temperature``, ``run.seed``,
    ``electrostatics`` (e.g. ``"off"``), ``compartments[1].concentrations.K+``,
    ``membranes[0].channels[0].radius``. Values are written as in a scenario file
    (``"15 mM"``, ``"1.0 nm"``, ``2``). In the resolved tree a ``count:`` of channels is one
    entry per pore, so ``membranes[0].channels[0]`` is the first pore only.

    A new ``temperature`` is applied as if the file had said it: what the old temperature
    derived by default (the water's permittivity, the shipped species' diffusion
    coefficients, the WCA strength of 1 kT) is derived again, unless it is set in the same
    call; values the scenario gave explicitly keep their value (energies such as channel
    barriers in kJ/mol: set them again in kT to keep their number of kT).

    Args:
        scenario: a validated scenario (:func:`load`).
        values: key path -> value, applied in order.

    Raises:
        ScenarioError: a path that does not exist (naming it), or a value the scenario
            reader refuses (naming its key and what is accepted).
    """
    tree = scenario.to_dict()
    if "temperature" in values:
        _derive_again_from_temperature(tree, scenario)
    for path, value in values.items():
        set_value(tree, path, copy.deepcopy(value), scenario.source)
    return parse_scenario(tree, scenario.source)


def _derive_again_from_temperature(tree: dict, scenario: Scenario) -> None:
    """Take out of the resolved tree the values that equal what the scenario's temperature
    derives by default, so that the reader derives them at a new temperature."""
    shipped = default_species_table()
    defaults = copy.deepcopy(tree)
    defaults.get("solvent", {}).pop("permittivity", None)
    for name, entry in defaults.get("species", {}).items():
        if name in shipped:
            entry.pop("diffusion", None)
    defaults.setdefault("interactions", {})["wca_epsilon"] = "1 kT"
    base = parse_scenario(defaults, scenario.source)  # the same temperature, defaults only

    def same(a, b):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)

    if same(base.solvent_permittivity, scenario.solvent_permittivity):
        tree.get("solvent", {}).pop("permittivity", None)
    derived = {s.name: s.diffusion for s in base.species}
    for s in scenario.species:
        if s.name in shipped and s.name in tree.get("species", {}) \
                and same(derived[s.name], s.diffusion):
            tree["species"][s.name].pop("diffusion", None)
    if same(base.wca_epsilon, scenario.wca_epsilon):
        tree["interactions"]["wca_epsilon"] = "1 kT"
