"""SPME's transform in a helper thread beside the pair passes (sim.forces.overlap): the same
forces and energies, bit for bit, however the transform and the pair ranges interleave."""

import threading
import time
from concurrent import futures

import numba
import numpy as np
import pytest

import sim.forces.overlap as overlap
from sim.electrostatics import EwaldTerm
from sim.simulation import Simulation

from .scenario_factory import bulk


def _ewald_term():
    sim = Simulation(bulk(side="8 nm", electrostatics={"method": "ewald"}))
    sim.advance(3)
    term = sim.force_field.terms[0]
    assert isinstance(term, EwaldTerm)
    return sim.ions.pos.copy(), term


def _evaluate(term, pos, overlap_on):
    term.overlap = overlap_on
    forces = np.zeros_like(pos)
    energies = term.compute(pos, forces)
    return forces, energies


def _interleave(monkeypatch, term, finish_when):
    """Make the transform finish at a chosen point of the pair passes: "owned" during the
    first pass (its first range waits for it), "incoming" during the second (its second
    range waits for it), "after" once the second pass has reached its last row. Returns the
    (pass, lo, hi) calls of the pair passes."""
    pair, spme = term.impl, term.spme
    calls, go, submitted = [], threading.Event(), []
    real_transform, real_owned, real_incoming = spme.transform, pair.owned, pair.incoming
    executor = overlap.helper_thread()

    class Recording:  # the helper thread, keeping the future of the transform
        def submit(self, fn):
            submitted.append(executor.submit(fn))
            return submitted[-1]

    def transform():
        assert go.wait(10.0)
        real_transform()

    def let_it_finish():
        go.set()
        assert not futures.wait(submitted, timeout=10.0).not_done

    def owned(lo, hi):
        if finish_when == "owned" and not calls:
            let_it_finish()
        calls.append(("owned", lo, hi))
        real_owned(lo, hi)

    def incoming(lo, hi, forces):
        calls.append(("incoming", lo, hi))
        real_incoming(lo, hi, forces)
        if finish_when == "incoming" and sum(c[0] == "incoming" for c in calls) == 2:
            let_it_finish()
        if finish_when == "after" and hi == n:
            go.set()

    n = pair.n_slots
    monkeypatch.setattr(overlap, "helper_thread", Recording)
    monkeypatch.setattr(spme, "transform", transform)
    monkeypatch.setattr(pair, "owned", owned)
    monkeypatch.setattr(pair, "incoming", incoming)
    return calls


@pytest.mark.parametrize("finish_when", ["owned", "incoming", "after"])
@pytest.mark.parametrize("threads", [1, 2])
def test_overlapped_evaluation_gives_the_sequential_bits(monkeypatch, finish_when, threads):
    """Whenever the transform finishes, the forces and energies are the sequential ones; the
    ranges of 7 rows cut the list where a whole-pass evaluation never does."""
    if threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip("needs two Numba threads")
    pos, term = _ewald_term()
    n = term.impl.n_slots
    monkeypatch.setattr(overlap, "RANGES", n // 7)
    numba.set_num_threads(threads)
    try:
        f_seq, e_seq = _evaluate(term, pos, False)
        calls = _interleave(monkeypatch, term, finish_when)
        f_ovl, e_ovl = _evaluate(term, pos, True)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert np.array_equal(f_ovl, f_seq)
    assert e_ovl == e_seq
    width = n // (n // 7)
    short = {p for p, lo, hi in calls if 0 < hi - lo <= width}
    rest = {p for p, lo, hi in calls if hi - lo > width}
    # which passes ran in ranges beside the transform, and which had a rest on all threads
    expected = {"owned": ({"owned"}, {"owned", "incoming"}),
                "incoming": ({"owned", "incoming"}, {"incoming"}),
                "after": ({"owned", "incoming"}, set())}[finish_when]
    assert (short, rest) == expected, calls


def test_an_error_in_the_transform_reaches_the_caller_after_the_pairs(monkeypatch):
    pos, term = _ewald_term()
    done = threading.Event()

    def failing():
        time.sleep(0.05)
        done.set()
        raise FloatingPointError("from the helper")
    monkeypatch.setattr(term.spme, "transform", failing)
    with pytest.raises(FloatingPointError, match="from the helper"):
        _evaluate(term, pos, True)
    assert done.is_set()


def test_overlap_is_chosen_only_for_large_meshes_and_several_threads(monkeypatch):
    _, term = _ewald_term()
    assert term.spme.mesh_points < overlap.MIN_MESH_POINTS  # an 8 nm box: a small mesh
    assert not overlap.worth_overlapping(term.spme)
    monkeypatch.setattr(overlap, "MIN_MESH_POINTS", 1)
    assert overlap.worth_overlapping(term.spme) == (numba.get_num_threads() >= 2)
    monkeypatch.setenv("IONSIM_MESH_THREAD", "0")
    assert not overlap.worth_overlapping(term.spme)
