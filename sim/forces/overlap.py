"""SPME's FFTs in a second thread while the real-space pairs run: both cores busy.

SPME's transform (forward FFT, convolution, inverse FFT; sim.forces.ewald.SPME.transform)
runs on one core: scipy.fft's threads were no faster inside the step. Run alone it leaves
the other core idle for about a quarter of a step at N = 1e5 (120^3 mesh). Here it runs in
a helper thread while this thread computes the real-space pairs (sim.forces.short_range) on
one Numba thread, in ranges of rows; when the transform is done, the rest of the pairs runs
on all the threads. The kernels release the GIL, so the two threads run at once.

Every sum keeps its order: a row's pairs are summed the same way whatever range it falls in,
the transform is the same computation, and the pair forces are added into `forces` before
the mesh's, as the sequential evaluation does. So the forces are bit-identical with and
without the overlap, for any number of threads and any cut of the ranges.

The overlap is used when the calling thread may use two or more Numba threads and the mesh
has at least MIN_MESH_POINTS points. Whole step with it, over without (2026-12-07, 2 cores,
docs/performance.md): 120^3 mesh (N = 1e5) 0.88, 81^3 (3e4) 0.94, 60^3 (1e4, a 2 ms
transform) 0.94-1.04, 40^3 (3e3) 1.28: beside the transform the one-thread pairs run at
about 0.6 of their speed alone, and a small transform does not pay for that.
IONSIM_MESH_THREAD=0 in the environment turns it off (e.g. for a machine whose cores other
processes already fill).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numba

MIN_MESH_POINTS = 80 ** 3
RANGES = 32  # rows are handed out in ranges of N / RANGES while the transform runs

_helper = None  # (pid, executor): one helper thread per process, made on first use
_helper_lock = threading.Lock()


def _one_numba_thread():
    numba.set_num_threads(1)  # the helper's own parallel kernel (the convolution) on one core


def helper_thread() -> ThreadPoolExecutor:
    """The process's helper thread (a new one in a forked child, which inherits no threads)."""
    global _helper
    with _helper_lock:
        if _helper is None or _helper[0] != os.getpid():
            _helper = (os.getpid(), ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="ionsim-mesh", initializer=_one_numba_thread))
        return _helper[1]


def worth_overlapping(spme) -> bool:
    """Whether to run this SPME's transform beside the pairs (see the module docstring).
    Asked on every evaluation, since the thread count can change during a run; the mesh is
    tested first, because reading the environment and Numba's thread count takes about
    2.4 us, 0.5% of a small system's step."""
    return (spme.mesh_points >= MIN_MESH_POINTS and numba.get_num_threads() >= 2
            and os.environ.get("IONSIM_MESH_THREAD", "1") != "0")


def pairs_and_mesh(pair, spme, pos, charges, forces, overlap: bool):
    """Real-space pairs (pair: ShortRangeForces) and SPME (spme) at pos (N, 3) nm; ADDS both
    forces (kJ/(mol nm)) into forces. Returns (U_wca, U_real, U_reciprocal) kJ/mol. overlap:
    run the transform in the helper thread (same bits either way)."""
    if not overlap:
        wca, real = pair.compute(pos, forces)
        return wca, real, spme.compute(pos, charges, forces)
    pair.begin(pos)
    spme.spread(pos, charges)
    transform = helper_thread().submit(spme.transform)
    try:
        _pairs_beside(transform, pair, forces, pair.n_slots)
    finally:  # the mesh is not touched again before the transform is done
        wait([transform])
    transform.result()  # re-raises what the transform raised
    wca, real = pair.finish()
    return wca, real, spme.interpolate(forces)


def _pairs_beside(transform, pair, forces, n):
    """Both pair passes, in ranges on one Numba thread while the transform runs, the rest
    of each pass on all the threads."""
    threads = numba.get_num_threads()
    width = max(1, n // RANGES)
    for phase in (pair.owned, lambda lo, hi: pair.incoming(lo, hi, forces)):
        lo = 0
        if not transform.done():
            numba.set_num_threads(1)
            try:
                while lo < n and not transform.done():
                    phase(lo, min(n, lo + width))
                    lo = min(n, lo + width)
            finally:
                numba.set_num_threads(threads)
        phase(lo, n)
