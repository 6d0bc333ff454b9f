"""The step's kernels (and the membrane field's) compiled in a second process on an empty
cache (sim.compile_ahead): the two processes' sets of cached functions are disjoint, the
run's own process then loads them instead of compiling them, the trajectory is the one a
warm cache gives, and a failed child only costs a warning."""

import inspect
import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest
from numba.core.registry import CPUDispatcher

import sim.forces.cells
import sim.forces.ewald
import sim.forces.insertion
import sim.forces.membrane_field
import sim.forces.neighbours
import sim.forces.short_range
from sim import compile_ahead, geometry, integrate
from sim.run import Simulation
from tests.scenario_factory import scenario

ROOT = Path(__file__).resolve().parent.parent
#: The force kernels the run's own process compiles, and those of the terms that compile
#: apart (ForceTerm.compiles_apart: the membrane's k = 0 field), in the child
FORCE_MODULES = (sim.forces.cells, sim.forces.ewald, sim.forces.insertion,
                 sim.forces.neighbours, sim.forces.short_range)
APART_MODULES = (sim.forces.membrane_field,)


def _code_names(code) -> set:
    names = set(code.co_names) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def reachable(roots) -> set:
    """Every Numba dispatcher the roots may call, found from the names their code uses
    (globals, attributes of the modules they import, closure cells): an over-estimate,
    which is the safe side for a disjointness check."""
    seen, stack = {}, list(roots)
    while stack:
        d = stack.pop()
        key = (d.py_func.__module__, d.py_func.__qualname__)
        if key in seen:
            continue
        seen[key] = d
        fn = d.py_func
        cells = dict(zip(fn.__code__.co_freevars,
                         (c.cell_contents for c in fn.__closure__ or ())))
        spaces = [fn.__globals__, cells] + [vars(m) for m in fn.__globals__.values()
                                            if isinstance(m, types.ModuleType)
                                            and m.__name__.startswith("sim")]
        for name in _code_names(fn.__code__):
            for space in spaces:
                if isinstance(space.get(name), CPUDispatcher):
                    stack.append(space[name])
    return {k for k, d in seen.items() if d.targetoptions.get("inline") != "always"}


def dispatchers(modules) -> list:
    return [v for m in modules for v in vars(m).values() if isinstance(v, CPUDispatcher)]


def force_roots() -> list:
    roots = dispatchers(FORCE_MODULES)
    for order in (4, 6):  # the SPME kernels made per spline order
        roots += [v for v in sim.forces.ewald.stencil_kernels(order)
                  if isinstance(v, CPUDispatcher)]
    return roots


def test_the_two_processes_compile_disjoint_sets():
    step_set = reachable([integrate.bd_step, geometry._allowed_all])
    assert ("sim.integrate", "bd_step") in step_set
    assert ("sim.geometry", "pore_at") in step_set  # the walk follows calls
    apart_set = reachable(dispatchers(APART_MODULES))
    assert ("sim.forces.membrane_field", "_correction") in apart_set
    force_set = reachable(force_roots())
    assert ("sim.forces.short_range", "owned_pair_forces") in force_set
    child = step_set | apart_set
    assert not child & force_set, sorted(child & force_set)
    assert not any(module.startswith("sim.forces") for module, _ in step_set)


def test_only_the_membrane_term_compiles_apart():
    sim = Simulation(scenario(electrostatics={"method": "ewald"}))
    assert [t.name for t in sim.force_field.apart()] == ["membrane_dielectric"]
    assert all(t.__module__ == "sim.electrostatics" for t in sim.force_field.apart())


def test_reachable_sees_a_shared_helper():
    """The check above can fail: a kernel calling a helper of the step is caught."""
    from numba import njit

    @njit
    def uses_wrap(x):
        return geometry.wrap(x, 1.0)

    assert ("sim.periodic", "wrap") in reachable([uses_wrap]) & reachable([integrate.bd_step])


def test_first_ions_keeps_the_types():
    sim = Simulation(scenario())
    args = sim._step_args()
    cut = compile_ahead.first_ions(args, 3)
    assert cut[0].pos.shape == (3, 3) and cut[3].prev.shape == (3, 3)
    assert len(cut) == len(inspect.signature(integrate.bd_step.py_func).parameters)
    from numba import typeof
    for a, b in zip(args, cut):
        assert typeof(a) == typeof(b)


def test_a_failed_child_warns_and_the_run_compiles_itself(monkeypatch):
    monkeypatch.setattr(compile_ahead, "step_cache_is_cold", lambda: True)
    monkeypatch.setattr(compile_ahead, "available_cores", lambda: 2)
    monkeypatch.setattr(sys, "executable", "/bin/false")
    sim = Simulation(scenario())
    assert sim._step_compiler is not None
    with pytest.warns(UserWarning, match="failed .exit 1.*compiling it here"):
        sim.advance(1)
    assert sim._step_compiler is None and sim.step == 1


def test_switched_off_or_warm_starts_nothing(monkeypatch):
    assert not compile_ahead.step_cache_is_cold()  # compiled in this process by now
    monkeypatch.setattr(compile_ahead, "step_cache_is_cold", lambda: True)
    monkeypatch.setenv(compile_ahead.ENV_SWITCH, "0")
    assert Simulation(scenario())._step_compiler is None


COLD_RUN = textwrap.dedent("""
    import json, sys
    import numpy as np
    from numba.core import event
    compiled = []
    class Listener(event.Listener):
        def on_start(self, ev): pass
        def on_end(self, ev):
            compiled.append(ev.data["dispatcher"].py_func.__qualname__)
    event.register("numba:compile", Listener())
    from sim.run import Simulation
    from tests.scenario_factory import scenario
    sim = Simulation(scenario(electrostatics={"method": "ewald"}))
    started = sim._step_compiler is not None
    sim.advance(3)
    np.save(sys.argv[1], sim.ions.pos)
    print(json.dumps({"started": started, "compiled": compiled}))
""")


@pytest.mark.skipif(compile_ahead.available_cores() < 2, reason="needs two cores")
def test_cold_start_compiles_the_step_in_the_child(tmp_path):
    """A fresh cache: the child compiles bd_step, the run loads it, same trajectory."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env.pop(compile_ahead.ENV_SWITCH, None)
    out = subprocess.run([sys.executable, "-c", COLD_RUN, str(tmp_path / "pos.npy")],
                         env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["started"]
    for child_compiled in ("bd_step", "pore_at", "_correction"):
        assert child_compiled not in report["compiled"]
    assert "owned_pair_forces" in report["compiled"]  # the parent compiled the forces
    warm = Simulation(scenario(electrostatics={"method": "ewald"}))
    warm.advance(3)
    assert np.array_equal(np.load(tmp_path / "pos.npy"), warm.ions.pos)
