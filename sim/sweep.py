"""Sweeps and replicas: the runs of one scenario over parameter values and seeds, planned.

A sweep file (YAML) names a base scenario, the values to sweep and how many replicas each
point gets::

    base: potassium           # a scenario file (relative to the sweep file) or a shipped name
    axes:                     # key path -> values, written as in a scenario file
      compartments[1].concentrations.K+: [1.5 mM, 5 mM, 15 mM, 50 mM]
      compartments[1].concentrations.A-: [1.5 mM, 5 mM, 15 mM, 50 mM]
    combine: zip              # the i-th value of every axis together; or product (default)
    replicas: 4               # runs per point, each with its own seed
    seed: 2026                # the sweep's seed: every run's seed is derived from it
    set:                      # values that every run takes (optional)
      run.duration: 6 ns

Key paths are those of :mod:`sim.variations` and apply to the base file *as written*
(YAML aliases expanded into independent copies, so ``membranes[0]`` and ``membranes[1]`` are
set separately even where the file shares them with ``&membrane``). ``product`` varies the
last axis fastest.

Seeds: the run of point p, replica r has the seed ``SeedSequence(seed, spawn_key=(p, r))``
(numpy's independent child streams), recorded as ``run.seed`` in its resolved scenario.yaml,
so that ``ionsim run SWEEP/p001-r002/scenario.yaml`` reruns that run alone, bit for bit.
Adding replicas (or rerunning with more) keeps the seeds of the runs already made.

A sweep directory holds ``sweep.json`` (this plan: the spec, every point's values and every
run's seed and directory) and one ordinary run directory per run, ``pPPP-rRRR``.
``ionsim run SCENARIO --replicas N`` is a sweep with no axes (:func:`replicas_of`).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import library
from .errors import ScenarioError, UserError
from .files import atomic_write_bytes
from .scenario import Scenario, parse_scenario
from .variations import key_path, set_value
from .yaml_input import brief, load_yaml

__all__ = ["Sweep", "Member", "load_sweep", "replicas_of", "PLAN", "MAX_RUNS",
           "read_plan", "write_plan", "check_same_sweep", "member_seed", "is_sweep_directory"]

PLAN = "sweep.json"
PLAN_FORMAT = "ionsim sweep 1"
#: More runs than this need --yes (a typo in an axis can otherwise start thousands).
MAX_RUNS = 500
SEED_LIMIT = 2**63
KEYS = ("base", "axes", "combine", "replicas", "seed", "set")


@dataclass(frozen=True)
class Member:
    """One run of a sweep: point ``point`` (its values), replica ``replica``, ``seed``; its
    run directory is ``<sweep>/<dir>``."""

    index: int
    point: int
    replica: int
    seed: int
    dir: str


@dataclass(frozen=True)
class Sweep:
    """A planned sweep: ``points[i]`` maps key paths to the values (as written) of point i;
    ``scenarios[i]`` is that point's validated scenario (seed not yet set)."""

    source: str
    base: str
    base_scenario: Scenario
    axes: tuple[tuple[str, tuple], ...]
    combine: str
    replicas: int
    seed: int
    fixed: dict = field(default_factory=dict)
    points: tuple[dict, ...] = ()
    scenarios: tuple[Scenario, ...] = ()

    @property
    def members(self) -> list[Member]:
        width = max(3, len(str(len(self.points) - 1)))
        rwidth = max(3, len(str(self.replicas - 1)))
        return [Member(i * self.replicas + r, i, r, member_seed(self.seed, i, r),
                       f"p{i:0{width}d}-r{r:0{rwidth}d}")
                for i in range(len(self.points)) for r in range(self.replicas)]

    def default_directory(self) -> Path:
        """runs/<sweep file name> (replicas of one scenario: sim.rundir.default_out)."""
        return Path("runs") / Path(self.source).stem

    def scenario(self, member: Member) -> Scenario:
        """The member's scenario: its point's values and its own seed."""
        return self.scenarios[member.point].with_run(seed=member.seed)

    def spec(self) -> dict:
        """What makes two sweeps the same (JSON data): the base scenario resolved, the axes,
        how they combine, the fixed values and the seed. Not the replicas: more may be
        added to a sweep that has run."""
        return {"base": self.base_scenario.to_dict(),
                "axes": [[p, [_as_text(v) for v in vs]] for p, vs in self.axes],
                "combine": self.combine, "set": {k: _as_text(v) for k, v in self.fixed.items()},
                "seed": self.seed}

    def plan(self) -> dict:
        return {"format": PLAN_FORMAT, "source": self.source, "base": self.base,
                "spec": self.spec(), "replicas": self.replicas,
                "points": [{"index": i, "values": {k: _as_text(v) for k, v in p.items()}}
                           for i, p in enumerate(self.points)],
                "runs": [m.__dict__ for m in self.members]}


def member_seed(seed: int, point: int, replica: int) -> int:
    """The seed of run (point, replica) of a sweep with seed ``seed``: an independent
    SeedSequence child, in [0, 2^63)."""
    state = np.random.SeedSequence(seed, spawn_key=(point, replica)).generate_state(1, np.uint64)
    return int(state[0]) >> 1


def _as_text(value) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else \
        json.loads(json.dumps(value, default=str))


# --- reading a sweep file -------------------------------------------------------------------

def load_sweep(path: str | Path) -> Sweep:
    """Read a sweep file (or a shipped sweep's name) and plan it: every point's scenario is
    built and validated here, before any work.

    Raises:
        ScenarioError: naming the sweep file and the key (``axes.<path>``, ``replicas``, ...)
            and what is accepted.
    """
    path = library.resolve_sweep(path)
    source = str(path)
    raw = load_yaml(path, source)
    if not isinstance(raw, dict):
        raise ScenarioError(source, "", f"a sweep file is a mapping of {', '.join(KEYS)}; "
                                        f"got {brief(raw)}")
    unknown = [k for k in raw if k not in KEYS]
    if unknown:
        raise ScenarioError(source, str(unknown[0]), f"unknown key; a sweep file has "
                                                     f"{', '.join(KEYS)}")
    if "base" not in raw:
        raise ScenarioError(source, "base", "missing: name the scenario to sweep (a file, "
                                            "relative to the sweep file, or a shipped name)")
    base_file = _base_file(raw["base"], Path(path).parent, source)
    base_tree = _unshared(load_yaml(base_file, str(base_file)))
    base_scenario = parse_scenario(_unshared(base_tree), str(base_file))
    axes = _read_axes(raw.get("axes", {}), source)
    combine = raw.get("combine", "product")
    if combine not in ("product", "zip"):
        raise ScenarioError(source, "combine", f"must be product or zip, got {brief(combine)}")
    if combine == "zip" and len({len(v) for _, v in axes}) > 1:
        lengths = ", ".join(f"{p}: {len(v)}" for p, v in axes)
        raise ScenarioError(source, "axes", f"zipped axes must have the same number of values "
                                            f"({lengths}); or combine: product")
    replicas = _count(raw.get("replicas", 1), source, "replicas")
    seed = _seed(raw.get("seed", base_scenario.run.seed), source)
    fixed = raw.get("set", {}) or {}
    if not isinstance(fixed, dict):
        raise ScenarioError(source, "set", f"must map key paths to values, got {brief(fixed)}")
    if combine == "zip" and axes:
        points = [dict(zip([p for p, _ in axes], vals))
                  for vals in zip(*[v for _, v in axes])]
    else:
        points = [dict(zip([p for p, _ in axes], vals))
                  for vals in itertools.product(*[v for _, v in axes])]
    scenarios = tuple(_point_scenario(base_tree, str(base_file), fixed, point, source)
                      for point in points)
    return Sweep(source, str(raw["base"]), base_scenario, tuple(axes), combine, replicas,
                 seed, dict(fixed), tuple(points), scenarios)


def replicas_of(scenario: Scenario, replicas: int, source: str = "--replicas") -> Sweep:
    """``replicas`` runs of one scenario with seeds derived from its run.seed."""
    replicas = _count(replicas, source, "replicas", flag=True)
    return Sweep(scenario.source, scenario.source, scenario, (), "product", replicas,
                 scenario.run.seed, {}, ({},), (scenario,))


def _base_file(base, folder: Path, source: str) -> Path:
    if not isinstance(base, str) or not base.strip():
        raise ScenarioError(source, "base", f"must name a scenario file or a shipped "
                                            f"scenario, got {brief(base)}")
    beside = folder / base
    if beside.is_file():
        return beside
    try:
        return Path(library.resolve(base))
    except ScenarioError:
        raise ScenarioError(source, "base", f"{base!r}: no such file beside the sweep file "
                                            f"and no shipped scenario of that name "
                                            f"({', '.join(library.names())})") from None


def _unshared(tree):
    """A deep copy in which no two places share an object (YAML aliases become copies)."""
    if isinstance(tree, dict):
        return {k: _unshared(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_unshared(v) for v in tree]
    return tree


def _read_axes(axes, source: str) -> list[tuple[str, tuple]]:
    if not isinstance(axes, dict):
        raise ScenarioError(source, "axes", f"must map key paths to lists of values, e.g. "
                                            f"'compartments[1].concentrations.K+: [5 mM, "
                                            f"15 mM]'; got {brief(axes)}")
    out = []
    for path, values in axes.items():
        key = f"axes.{path}"
        if not isinstance(path, str):
            raise ScenarioError(source, key, "a key path is text, e.g. run.seed")
        key_path(path, source)  # readable as a path
        if not isinstance(values, list):
            raise ScenarioError(source, key, f"must be a list of values, got {brief(values)}")
        if not values:
            raise ScenarioError(source, key, "is empty: give at least one value")
        out.append((path, tuple(values)))
    return out


def _count(value, source: str, key: str, flag: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        where = f"--{key}" if flag else key
        raise ScenarioError(source, "" if flag else key,
                            f"{where + ': ' if flag else ''}must be an integer >= 1, got "
                            f"{brief(value)}")
    return value


def _seed(value, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < SEED_LIMIT:
        raise ScenarioError(source, "seed", f"must be an integer in [0, 2^63), got "
                                            f"{brief(value)}")
    return value


def _point_scenario(base_tree: dict, base_source: str, fixed: dict, point: dict,
                    source: str) -> Scenario:
    tree = _unshared(base_tree)
    for group, values in (("set", fixed), ("axes", point)):
        for path, value in values.items():
            key = f"{group}.{path}"
            try:
                _check_unit(tree, path, value, source, key)
                set_value(tree, path, _unshared(value), source)
            except ScenarioError as err:
                raise ScenarioError(source, key, err.detail) from None
    try:
        return parse_scenario(tree, base_source)
    except ScenarioError as err:
        where = ", ".join(f"{k} = {brief(v)}" for k, v in point.items()) or "every run"
        raise ScenarioError(source, _sweep_key(err.key, point, fixed),
                            f"at {where}, the scenario {base_source} is refused: "
                            f"{err.key + ': ' if err.key else ''}{err.detail}") from None


def _sweep_key(scenario_key: str, point: dict, fixed: dict) -> str:
    for group, values in (("axes", point), ("set", fixed)):
        for path in values:
            if scenario_key.startswith(path) or path.startswith(scenario_key or "\0"):
                return f"{group}.{path}"
    return "axes" if point else "set"


def _check_unit(tree: dict, path: str, value, source: str, key: str) -> None:
    """A number where the base file writes a quantity with a unit is refused: '5' could
    mean mM or M."""
    node = tree
    for part in key_path(path, source):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return  # a new key: the scenario reader decides
    if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and isinstance(node, str) and _has_unit(node):
        raise ScenarioError(source, key, f"{brief(value)} has no unit; the base writes "
                                         f"{brief(node)}: write e.g. '{value} "
                                         f"{node.split()[-1]}'")


def _has_unit(text: str) -> bool:
    parts = text.split()
    if len(parts) < 2:
        return False
    try:
        float(parts[0])
    except ValueError:
        return False
    return True


# --- the plan on disk -----------------------------------------------------------------------

def is_sweep_directory(path) -> bool:
    return (Path(path) / PLAN).is_file()


def read_plan(sweep_dir) -> dict:
    """A sweep directory's sweep.json.

    Raises:
        UserError: no plan there, or one that cannot be read."""
    path = Path(sweep_dir) / PLAN
    try:
        plan = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{sweep_dir}: not a sweep or replica directory (no {PLAN})") from None
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: cannot be read ({err}); run the sweep again into a new "
                        f"directory") from None
    if not isinstance(plan, dict) or plan.get("format") != PLAN_FORMAT:
        raise UserError(f"{path}: not an ionsim sweep plan (format {PLAN_FORMAT!r})")
    return plan


def write_plan(sweep_dir, sweep: Sweep) -> None:
    Path(sweep_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(Path(sweep_dir) / PLAN,
                       json.dumps(sweep.plan(), indent=1).encode() + b"\n")


def check_same_sweep(sweep_dir, sweep: Sweep, flag: str = "--out") -> None:
    """Refuse a sweep directory made from a different sweep, saying what differs.

    More replicas than before are allowed (the runs made keep their seeds); fewer are not,
    since the directory holds runs the new plan does not have."""
    plan = read_plan(sweep_dir)
    old, new = plan["spec"], sweep.spec()
    differences = []
    for key in ("axes", "combine", "set", "seed"):
        if old.get(key) != new[key]:
            differences.append(f"{key}: {brief(old.get(key))} before, {brief(new[key])} now")
    base_diff = _tree_differences(old.get("base"), new["base"])
    if base_diff:
        differences.append("the base scenario: " + "; ".join(base_diff[:3])
                           + (f" (and {len(base_diff) - 3} more)" if len(base_diff) > 3
                              else ""))
    if plan.get("replicas", 0) > sweep.replicas:
        differences.append(f"replicas: {plan['replicas']} before, {sweep.replicas} now "
                           f"(replicas can be added, not taken away)")
    if differences:
        raise UserError(f"{flag}: {sweep_dir} holds a different sweep ({plan.get('source')}): "
                        + "; ".join(differences) + ". Use another directory, or the same "
                        "sweep file")


def _tree_differences(a, b, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            out += _tree_differences(a.get(k), b.get(k), f"{where}.{k}" if where else str(k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in _tree_differences(x, y, f"{where}[{i}]")]
    if a != b and not (isinstance(a, float) and isinstance(b, float) and math.isclose(a, b)):
        return [f"{where} {brief(a)} before, {brief(b)} now"]
    return []
