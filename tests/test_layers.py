"""The layers of ionsim, and the imports that hold to them.

Every module of sim/, analysis/ and scenarios/ has one layer in :data:`LAYERS` (bottom to
top). Every import, at the top of a file or inside a function, an ``if __name__ ==
"__main__":`` block or a ``try:``, and ``importlib.import_module("literal")`` too, goes to
the same or a lower layer, and no import circle exists, however long. Importing a module
imports its parent packages, so those count as imports as well.

Two rules more:

- the Numba kernels (:data:`KERNELS`, and any module that defines an ``@njit`` function)
  import only kernels and the layers below the engine: no orchestration, no analysis;
- analysis and presentation work on finished runs: they read a run (``sim.io``,
  ``sim.rundir``) and reuse the engine's physics, but never the machinery that runs one
  (:data:`RUN_MACHINERY`). Validation, above them, runs scenarios.

A new module fails :func:`test_every_module_has_one_layer` until it is added to
:data:`LAYERS` below. The README's "Design" section draws the same table.
"""

from __future__ import annotations

import ast
import fnmatch
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sim", "analysis", "scenarios")

#: Bottom to top: (layer, module names or fnmatch patterns). A module imports only from its
#: own layer and the layers before it.
LAYERS = (
    ("errors", (
        "sim",                      # the package: __version__, the OpenMP wait policy
        "sim.errors",               # exceptions and exit codes
        "sim.console",              # when progress bars are shown
    )),
    ("input", (
        "sim.yaml_input",           # YAML within limits; brief() for error messages
        "sim.files",                # files written whole (atomic replace)
    )),
    ("units", (
        "sim.units",                # units, constants, parse_quantity
        "sim.water",                # water's permittivity (a fit to measurements)
        "sim.gouy_chapman",         # Gouy-Chapman estimates for placing a bulk-basis compartment
    )),
    ("configuration", (
        "sim.schema",               # the schema language of scenario files
        "sim.layout",               # channels and pumps laid on a grid
        "sim.agents_input",         # the keys of gated channels and pumps
        "sim.scenario",             # the scenario: keys, defaults, rules
        "sim.library",              # shipped scenarios found by name
        "scenarios",                # the shipped scenario files (package data)
        "sim.variations",           # scenarios changed by key path
        "sim.sweep",                # sweep files and replicas planned: points, seeds, dirs
    )),
    ("engine", (
        # kernels (Numba)
        "sim.rng", "sim.periodic", "sim.geometry", "sim.system", "sim.integrate",
        "sim.observe", "sim.forces", "sim.forces.*",
        # the force field, the state and the step loop
        "sim.electrostatics", "sim.compile_ahead", "sim.simulation", "sim.loop", "sim.threads",
        "sim.limits",
        # the agents between steps
        "sim.agent_rates", "sim.gating", "sim.pumps",
        # the run directory: writers, files, running a scenario into it
        "sim.writers", "sim.topology", "sim.rundir", "sim.io", "sim.run",
    )),
    ("analysis", (
        "analysis",                 # the package (a docstring)
        "analysis.theory", "analysis.activity", "analysis.statistics", "analysis.cell",
        "analysis.runs",            # open a run, measure its observables
        "analysis.capacitance", "analysis.profiles", "analysis.double_layer", "analysis.selectivity",
        "analysis.widom",           # test-particle insertion: activity coefficients measured
        "analysis.bulk_thermo",     # energy per ion, osmotic coefficient of a bulk run
        "analysis.comparison",      # V_m against Nernst, GHK, the capacitor (ionsim analyze)
        "analysis.budget",          # the ions that crossed (ionsim budget)
        "analysis.agents",          # gated channels and the pumps' ledger, from the events
        "analysis.agents_text",     # their tables, closing-table lines, summary.json
        "analysis.pump_cost",       # what a real cell pays its pumps (ionsim budget)
        "analysis.tables",          # how the analyses' numbers read as text tables
        "analysis.pooled",          # a sweep's runs pooled per point (replica means, SEs)
        "analysis.pooled_fits",     # its fits: Nernst slope, channel count, depth series
        "analysis.pooled_tables",   # its text tables, pooled.csv and pooled.json
    )),
    ("presentation", (
        "sim.report",               # what `ionsim check` prints; summary.json + closing table
        "analysis.run_summary",     # the physics in the closing table
        "analysis.plots",
        "analysis.agent_plots",     # the agents' figure of the report
        "analysis.report_writer",   # report.md / report.html
        "analysis.movie", "analysis.animation_writers",
        "analysis.pooled_plots",    # a sweep's figures (Nernst slope, channel count, ...)
        "analysis.pooled_report",   # a sweep's report.md / report.html
    )),
    ("ensembles", (
        "sim.ensemble",             # a sweep's runs executed on dask.distributed
    )),
    ("validation", (
        "analysis.validation", "analysis.validation.*",
    )),
    ("commands", (
        "sim.commands", "sim.cli", "sim.sweep_cli", "sim.__main__", "sim.api",
        "analysis.commands",        # python -m analysis.<command>
        "analysis.nernst", "analysis.ion_budget", "analysis.report", "analysis.animate",
        "analysis.validate",
    )),
)

#: The Numba kernels; any module that defines an @njit function is one as well.
KERNELS = ("sim.forces", "sim.forces.*", "sim.integrate", "sim.geometry", "sim.periodic",
           "sim.rng", "sim.observe", "sim.system")

#: What runs a simulation and writes its directory: no kernel imports it.
ORCHESTRATION = ("sim.run", "sim.simulation", "sim.compile_ahead", "sim.loop", "sim.writers",
                 "sim.threads", "sim.cli", "sim.rundir", "sim.io", "sim.api", "sim.ensemble", "sim.sweep_cli")

#: What runs a simulation: analysis and presentation of finished runs import none of it.
RUN_MACHINERY = ("sim.run", "sim.simulation", "sim.compile_ahead", "sim.loop", "sim.writers",
                 "sim.threads", "sim.ensemble")

NJIT_NAMES = {"njit", "jit", "vectorize", "guvectorize", "stencil", "cfunc"}


# -- the import graph ----------------------------------------------------------------------

def project_modules(root: Path = ROOT, packages=PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file in the packages."""
    mods = {}
    for pkg in packages:
        for f in sorted((root / pkg).rglob("*.py")):
            rel = f.relative_to(root).with_suffix("")
            if "__pycache__" in rel.parts:
                continue
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            mods[".".join(parts)] = f
    return mods


def _owner(name: str, mods) -> str | None:
    """The project module that importing `name` lands in (its longest known prefix)."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _imported(node, module: str, is_package: bool, mods) -> list[str]:
    """Project modules that one import node imports (before resolving to `mods`)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            head = ".".join(base + ([node.module] if node.module else []))
        else:
            head = node.module or ""
        # `from pkg import name`: a submodule where one exists, else pkg itself
        return [f"{head}.{a.name}" if f"{head}.{a.name}" in mods else head
                for a in node.names]
    if isinstance(node, ast.Call):  # importlib.import_module("x") / __import__("x")
        f = node.func
        called = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        if called in ("import_module", "__import__") and node.args and \
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            return [node.args[0].value]
    return []


def imports_of(module: str, path: Path, mods) -> dict[str, int]:
    """Project module -> line of its first import, for every import in the file: the whole
    syntax tree is walked, so imports in functions and blocks count. The module's parent
    package counts too (importing a module runs its package's __init__ first)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        for name in _imported(node, module, is_package, mods):
            target = _owner(name, mods)
            if target and target != module:
                found[target] = min(found.get(target, node.lineno), node.lineno)
    parent = module.rpartition(".")[0]
    if parent in mods:
        found.setdefault(parent, 0)  # line 0: the implicit import of the package
    return found


def import_graph(root: Path = ROOT, packages=PACKAGES) -> dict[str, dict[str, int]]:
    mods = project_modules(root, packages)
    return {m: imports_of(m, f, mods) for m, f in mods.items()}


def njit_modules(root: Path = ROOT, packages=PACKAGES) -> set[str]:
    """Modules that define a function decorated with numba's njit / jit / vectorize..."""
    out = set()
    for m, f in project_modules(root, packages).items():
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for d in node.decorator_list:
                    d = d.func if isinstance(d, ast.Call) else d
                    name = d.attr if isinstance(d, ast.Attribute) else getattr(d, "id", "")
                    if name in NJIT_NAMES:
                        out.add(m)
    return out


# -- the checks (pure functions of a graph, so that a made-up graph can test them) ----------

def _matches(module: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(module, p) for p in patterns)


def layer_table(layers=LAYERS) -> dict[str, int]:
    """Layer name -> its index (0 = bottom)."""
    return {name: i for i, (name, _) in enumerate(layers)}


def layers_of(module: str, layers=LAYERS) -> list[tuple[int, str]]:
    """Every (index, name) of a layer that names the module (exactly one when all is well)."""
    return [(i, name) for i, (name, pats) in enumerate(layers) if _matches(module, pats)]


def layer_of(module: str, layers=LAYERS) -> tuple[int, str] | None:
    found = layers_of(module, layers)
    return found[0] if len(found) == 1 else None


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One import circle per strongly connected component of more than one module, as a
    path a -> b -> ... -> a."""
    return [_circle(comp, graph) for comp in components(graph)]


def components(graph: dict[str, dict[str, int]]) -> list[set[str]]:
    """The strongly connected components of more than one module: each module in one imports,
    directly or not, every other (Tarjan's algorithm, iterative)."""
    index, low, on, stack, comps, counter = {}, {}, set(), [], [], [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        x = stack.pop()
                        on.discard(x)
                        comp.add(x)
                        if x == v:
                            break
                    if len(comp) > 1:
                        comps.append(comp)
            elif w not in graph:
                continue
            elif w not in index:
                index[w] = low[w] = counter[0]
                counter[0] += 1
                stack.append(w)
                on.add(w)
                work.append((w, iter(sorted(graph.get(w, ())))))
            elif w in on:
                low[v] = min(low[v], index[w])
    return comps


def _circle(comp: set, graph) -> list[str]:
    """A shortest circle through the component's first module (breadth-first)."""
    start = min(comp)
    prev, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v]):
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return list(reversed(path)) + [start]
                if w in comp and w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return sorted(comp)


def describe_circle(path: list[str], graph, files=None) -> str:
    steps = []
    for a, b in zip(path, path[1:]):
        where = f" ({files[a].relative_to(ROOT)}:{graph[a][b]})" if files and a in files \
            else f" (line {graph[a][b]})"
        steps.append(f"{a} -> {b}{where}")
    return "import circle: " + ", ".join(steps)


def unassigned(modules, layers=LAYERS) -> list[str]:
    return sorted(m for m in modules if not layers_of(m, layers))


def assigned_twice(modules, layers=LAYERS) -> list[str]:
    return sorted(f"{m}: {', '.join(n for _, n in layers_of(m, layers))}"
                  for m in modules if len(layers_of(m, layers)) > 1)


def upward_imports(graph, layers=LAYERS, files=None) -> list[str]:
    """Imports from a module to a higher layer than its own."""
    bad = []
    for m, deps in sorted(graph.items()):
        own = layer_of(m, layers)
        for d, line in sorted(deps.items()):
            theirs = layer_of(d, layers)
            if own and theirs and theirs[0] > own[0]:
                where = f"{files[m].relative_to(ROOT)}:{line}" if files and m in files \
                    else f"line {line}"
                what = "its package" if line == 0 else "imports"
                bad.append(f"{m} ({own[1]}) {what} {d} ({theirs[1]}), a higher layer: "
                           f"{where}")
    return bad


def forbidden_imports(graph, sources, targets, why: str, files=None) -> list[str]:
    """Imports from a module in `sources` to one in `targets` (both predicates)."""
    bad = []
    for m, deps in sorted(graph.items()):
        if not sources(m):
            continue
        for d, line in sorted(deps.items()):
            if targets(d):
                where = f"{files[m].relative_to(ROOT)}:{line}" if files and m in files \
                    else f"line {line}"
                bad.append(f"{m} imports {d} ({why}): {where}")
    return bad


# -- the tests on ionsim ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def files():
    return project_modules()


@pytest.fixture(scope="module")
def graph(files):
    return {m: imports_of(m, f, files) for m, f in files.items()}


@pytest.fixture(scope="module")
def kernels(files):
    return {m for m in files if _matches(m, KERNELS)} | njit_modules()


def test_every_module_has_one_layer(files):
    missing = unassigned(files)
    assert not missing, (f"modules without a layer: {', '.join(missing)}; add each to "
                         f"LAYERS in {Path(__file__).relative_to(ROOT)} (and to the README's "
                         f"Design section)")
    twice = assigned_twice(files)
    assert not twice, f"modules in more than one layer: {'; '.join(twice)}"


def test_the_layer_table_names_no_missing_module(files):
    """Every exact name in LAYERS is a module (or sim.api, which a worker is adding), so that
    a renamed module does not leave a stale entry behind."""
    stale = [p for _, pats in LAYERS for p in pats
             if not any(ch in p for ch in "*?[") and p not in files and p != "sim.api"]
    assert not stale, f"LAYERS names modules that do not exist: {', '.join(stale)}"


def test_no_import_circle(graph, files):
    found = components(graph)
    assert not found, "\n".join(
        f"{describe_circle(_circle(comp, graph), graph, files)}; all {len(comp)} modules that "
        f"import each other: {', '.join(sorted(comp))}" for comp in found)


def test_imports_go_to_the_same_or_a_lower_layer(graph, files):
    bad = upward_imports(graph, files=files)
    assert not bad, "\n".join(bad)


def test_kernels_import_no_orchestration_and_no_analysis(graph, files, kernels):
    engine = layer_table()["engine"]

    def not_for_kernels(d):
        layer = layer_of(d)
        return d not in kernels and (_matches(d, ORCHESTRATION) or layer is None
                                     or layer[0] >= engine)

    bad = forbidden_imports(graph, lambda m: m in kernels, not_for_kernels,
                            "a kernel imports only kernels and the layers below the engine: "
                            "no orchestration, no analysis", files)
    assert not bad, "\n".join(bad)


def test_kernel_list_holds_the_numba_modules(kernels):
    for name in ("sim.integrate", "sim.geometry", "sim.periodic", "sim.rng", "sim.observe",
                 "sim.forces.ewald", "sim.forces.short_range", "sim.forces.membrane_field"):
        assert name in kernels
    assert njit_modules() <= kernels


def test_analysis_and_presentation_do_not_run_simulations(graph, files):
    table = layer_table()
    readers = {table["analysis"], table["presentation"]}
    bad = forbidden_imports(graph, lambda m: (layer_of(m) or (None,))[0] in readers,
                            lambda d: _matches(d, RUN_MACHINERY),
                            "analysis and presentation read finished runs; the machinery "
                            "that runs one is for validation and the commands", files)
    assert not bad, "\n".join(bad)


# -- the checker can fail ----------------------------------------------------------------------

FAKE_LAYERS = (("low", ("pkg.low", "pkg.util")), ("high", ("pkg.high",)))


def test_checker_reports_an_upward_import_and_a_circle():
    fake = {"pkg.low": {"pkg.high": 7}, "pkg.high": {"pkg.util": 3},
            "pkg.util": {"pkg.low": 12}}
    up = upward_imports(fake, FAKE_LAYERS)
    assert up == ["pkg.low (low) imports pkg.high (high), a higher layer: line 7"]
    found = cycles(fake)
    assert len(found) == 1
    assert found[0][0] == found[0][-1] and set(found[0]) == {"pkg.low", "pkg.high", "pkg.util"}
    text = describe_circle(found[0], fake)
    assert "pkg.low -> pkg.high (line 7)" in text and "pkg.util -> pkg.low (line 12)" in text
    assert unassigned(["pkg.low", "pkg.new"], FAKE_LAYERS) == ["pkg.new"]
    assert not cycles({"a": {"b": 1}, "b": {}, "c": {"a": 2}})
    assert cycles({"a": {"b": 1}, "b": {"a": 1}}) == [["a", "b", "a"]]


def test_checker_sees_imports_inside_functions_and_relative_ones(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .. import low\n")
    (pkg / "low.py").write_text(textwrap.dedent("""\
        import os

        def later():
            from .high import thing      # hidden in a function: still an import
            return thing
        """))
    (pkg / "high.py").write_text(textwrap.dedent("""\
        import importlib
        from pkg import low
        from pkg.sub import nothing_here

        if __name__ == "__main__":
            importlib.import_module("pkg.sub")
        thing = 1
        """))
    g = import_graph(tmp_path, ("pkg",))
    assert g["pkg.low"] == {"pkg": 0, "pkg.high": 4}
    assert g["pkg.high"] == {"pkg": 0, "pkg.low": 2, "pkg.sub": 3}
    assert g["pkg.sub"] == {"pkg": 0, "pkg.low": 1}
    assert cycles(g) == [["pkg.high", "pkg.low", "pkg.high"]]
    layers = (("base", ("pkg", "pkg.sub")), ("low", ("pkg.low",)), ("high", ("pkg.high",)))
    assert upward_imports(g, layers) == [
        "pkg.low (low) imports pkg.high (high), a higher layer: line 4",
        "pkg.sub (base) imports pkg.low (low), a higher layer: line 1"]
