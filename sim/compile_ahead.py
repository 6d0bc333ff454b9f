"""Compiling the Brownian step in a second process while this one compiles the forces.

On an empty Numba cache, a run's start-up is compile time: the force kernels (sim.forces:
the Verlet list, the pair loops, SPME, the membrane field; 12-15 s on the project's 2-core
machine) and the step's (sim.integrate.bd_step with its sim.geometry and sim.periodic
helpers; about 7 s) are compiled one after the other. The step's set shares no cached
function with the forces' (the one helper both use, sim.periodic.minimum_image, is
inlined), so with two cores a child process compiles it into the same cache, by taking one
step on copies of the arrays, while this process compiles the forces. Force terms whose
kernels serve them alone (ForceTerm.compiles_apart: the membrane's k = 0 field, about 3 s)
go to the child too, evaluated once at the run's positions. This process waits for the
child before it evaluates such a term, and after its first force evaluation; bd_step and
the terms then load what the child wrote. The sets being disjoint matters: two processes
compiling one function at once race on its cache index (the project has seen a corrupted
cache from that; sim.ensemble.CompileLock serialises whole runs for the same reason), and
tests/test_compile_ahead.py walks the kernels' calls to keep them so.

Nothing here changes a result: the child works on copies, and whether it ran or failed,
the compiled code is the same. It runs only when it can help: the step is not compiled in
this process yet, its cache holds no index, this process may use two or more cores, and
IONSIM_COMPILE_AHEAD is not "0". If the child fails, this process compiles everything
itself (after a warning).

The child is ``python -m sim.compile_ahead FILE``, FILE a pickle of bd_step's arguments
(for 16 ions), the scenario, the terms and the positions; the parent deletes it once the
child is done.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .threads import available_cores

#: Set to "0" to compile everything in the run's own process.
ENV_SWITCH = "IONSIM_COMPILE_AHEAD"

__all__ = ["StepCompiler", "ENV_SWITCH"]


def step_cache_is_cold() -> bool:
    """True when bd_step is neither compiled in this process nor indexed in Numba's cache
    (False, so nothing is started, where that cannot be told: NUMBA_DISABLE_JIT, or a
    Numba whose private cache layout differs)."""
    from .integrate import bd_step
    try:
        if bd_step.signatures:
            return False
        return not os.path.exists(bd_step._cache._cache_file._index_path)
    except AttributeError:
        return False


#: Ions of the step the child takes: Numba compiles the whole kernel whatever the values,
#: so a few ions give the same machine code as the run's N.
SAMPLE_IONS = 16


def first_ions(step_args: tuple, k: int) -> tuple:
    """bd_step's arguments (ions, force, mob, noise, g, step, max_drift, event_from,
    status) cut to the first k ions: copies of the same array types."""
    ions, force, mob, noise, g, step, max_drift, event_from, status = step_args

    def head(a):
        return np.ascontiguousarray(a[:k])

    return (type(ions)(*(head(a) for a in ions)), head(force),
            type(mob)(*(head(a) for a in mob)), noise._replace(prev=head(noise.prev)), g,
            step, max_drift, head(event_from), head(status))


#: The child this process started, while it may still run: one at a time.
_running = None


class StepCompiler:
    """A child process compiling bd_step, Geometry.allowed and the terms that compile apart
    into the Numba cache.

    :meth:`start` returns None where it would not help (see the module docstring);
    :meth:`wait` blocks until the child is done. Call it before this process runs anything
    outside the force kernels that could compile a function of the child's set."""

    def __init__(self, process: subprocess.Popen, args_file: Path, log_file):
        self._process = process
        self._args_file = args_file
        self._log = log_file

    @classmethod
    def start(cls, step_args: tuple, scenario, terms=()) -> "StepCompiler | None":
        """step_args: bd_step's arguments as the simulation will pass them (copied by the
        pickle); scenario: for the geometry of the invariant check; terms: force terms
        whose kernels no other term uses (ForceTerm.compiles_apart), evaluated once in the
        child at all the ions' positions (the caller waits before evaluating them)."""
        global _running
        if _running is not None and _running._process is not None:
            return _running  # a second Simulation built before the first one stepped
        if (os.environ.get(ENV_SWITCH, "1") == "0" or available_cores() < 2
                or not step_cache_is_cold()):
            return None
        fd, name = tempfile.mkstemp(prefix="ionsim-compile-", suffix=".pkl")
        with os.fdopen(fd, "wb") as f:
            pickle.dump((first_ions(step_args, SAMPLE_IONS), scenario, list(terms),
                         step_args[0].pos), f, protocol=pickle.HIGHEST_PROTOCOL)
        log = tempfile.TemporaryFile()
        # the child imports this very package (a script may have put it first on sys.path)
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        try:
            process = subprocess.Popen([sys.executable, "-m", "sim.compile_ahead", name],
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       env=env)
        except OSError as err:
            log.close()
            os.unlink(name)
            warnings.warn(f"could not start the step compiler ({err}); compiling here")
            return None
        _running = cls(process, Path(name), log)
        return _running

    def wait(self) -> None:
        """Block until the child has finished; warn (and let this process compile) if it
        failed."""
        if self._process is None:
            return
        rc = self._process.wait()
        self._process = None
        try:
            self._args_file.unlink()
        except FileNotFoundError:
            pass
        if rc != 0:
            self._log.seek(0)
            lines = self._log.read().decode(errors="replace").strip().splitlines()
            warnings.warn(f"compiling the Brownian step in a second process failed (exit "
                          f"{rc}: {lines[-1] if lines else 'no output'}); compiling it here")
        self._log.close()

    def __del__(self):
        if getattr(self, "_process", None) is not None:
            self.wait()


def compile_step(step_args: tuple, scenario, terms=(), pos=None) -> None:
    """Take one step on these (copied) arguments, check the geometry once and evaluate the
    terms at pos (N, 3) nm: Numba compiles bd_step, Geometry.allowed, the terms' kernels
    and their helpers into the cache."""
    from .geometry import Geometry
    from .integrate import bd_step
    bd_step(*step_args)
    ions = step_args[0]
    Geometry.from_scenario(scenario).allowed(ions.pos, ions.species)
    for term in terms:
        term.compute(pos, np.zeros_like(pos))


def main(argv: list[str]) -> int:
    with open(argv[0], "rb") as f:
        step_args, scenario, terms, pos = pickle.load(f)
    compile_step(step_args, scenario, terms, pos)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
