"""The thread balancer keeps whichever thread count runs faster, and gives the threads back."""

import numba
import pytest

from sim.threads import PROBE_EVERY_S, ThreadBalancer

pytestmark = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                reason="needs at least 2 Numba threads")


class _Run:
    """A fake run whose step costs `cost[threads]` seconds on a fake clock."""

    def __init__(self, cost):
        self.cost, self.now, self.step = cost, 0.0, 0

    def clock(self):
        return self.now

    def drive(self, balancer, seconds):
        end = self.now + seconds
        while self.now < end:
            self.step += balancer.interval
            self.now += balancer.interval * self.cost[balancer.current]
            balancer.tune(self)


def _balancer(run):
    numba.set_num_threads(2)
    b = ThreadBalancer(interval=10, clock=run.clock)
    b.tune(run)  # first call starts the clock
    return b


def test_a_busy_machine_moves_the_run_to_one_thread_and_back_when_it_is_free():
    run = _Run({2: 8e-3, 1: 0.7e-3})  # the flagship beside a pytest run, measured
    b = _balancer(run)
    try:
        run.drive(b, 5.0)
        assert b.current == 1 and numba.get_num_threads() == 1
        run.cost = {2: 0.43e-3, 1: 0.66e-3}  # the other work has finished
        run.drive(b, 2 * PROBE_EVERY_S)
        assert b.current == 2 and numba.get_num_threads() == 2
        assert b.summary()["steps_on_one_thread"] > 0
    finally:
        b.close()
    assert numba.get_num_threads() == 2


def _settled(cost, seconds):
    """A balancer driven for `seconds` of a run with these step costs, then closed."""
    run = _Run(cost)
    b = _balancer(run)
    try:
        run.drive(b, seconds)
    finally:
        b.close()
    return b


def test_alone_the_probes_cost_little():
    b = _settled({2: 0.43e-3, 1: 0.66e-3}, 10 * PROBE_EVERY_S)
    assert b.current == 2
    steps = b.steps_at[1] + b.steps_at[2]
    assert b.steps_at[1] < 0.03 * steps


def test_one_thread_must_be_clearly_faster_to_be_chosen():
    """Timing noise of ~10% must not move a quiet run to 1 thread."""
    b = _settled({2: 0.5e-3, 1: 0.46e-3}, 3 * PROBE_EVERY_S)
    assert b.current == 2
