"""Choosing the number of Numba threads while a run goes, for machines shared with other work.

Each parallel kernel ends at a barrier that waits for every thread of the team. On a machine
whose cores are also busy with other processes, one of the team's threads is often not
running, and every kernel then waits for the operating system to schedule it again:
measured on 2 cores, the 306-ion flagship took 8 ms per step with 2 threads beside a pytest
run, 0.66 ms with 1 thread, and 0.43 ms with 2 threads alone. Since the kernels give
bit-identical results for any number of threads, the run may switch at any step: the
balancer times the run with the current count, tries the other one (1 or all threads) for a
short while every PROBE_EVERY_S seconds, and keeps the faster (1 thread only when it is
clearly faster). Alone, the probes cost about 1% (a quarter second at the slower count
every 15 s).
"""

from __future__ import annotations

import os
import time

import numba

from .loop import Tuner, every

MEASURE_S = 0.25     # a timing covers at least this much wall time (s)
PROBE_EVERY_S = 15.0  # wall time between probes of the other thread count (s)
# 1 thread is chosen only when it is clearly faster: timings of a quarter second scatter by
# ~10% on a quiet VM, while on a busy machine 1 thread was 12 times faster
ONE_THREAD_MARGIN = 0.8


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container or a batch
    job's allocation narrows; os.cpu_count() counts the whole machine)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ThreadBalancer(Tuner):
    """A tuner of the step loop (sim.loop) that keeps the faster of 1 and all threads.

    interval: steps between calls (cheap: a clock read); the timings themselves span
    MEASURE_S. `steps_at` counts the steps run at each thread count.
    """

    def __init__(self, interval: int, clock=time.perf_counter):
        self.interval = max(1, int(interval))
        self.trigger = every(self.interval)
        self.clock = clock
        self.all_threads = numba.get_num_threads()
        self.current = self.all_threads
        self.steps_at = {self.all_threads: 0, 1: 0}
        self.rate = {}  # threads -> seconds per step of the last timing
        self._probing = False
        self._since_probe = 0.0
        self._mark(None)

    def _mark(self, sim):
        self._t0 = self.clock()
        self._step0 = None if sim is None else sim.step

    @property
    def active(self) -> bool:
        return self.all_threads > 1

    def tune(self, sim, step=None):
        if not self.active:
            return
        if self._step0 is None:
            self._mark(sim)
            return
        elapsed = self.clock() - self._t0
        steps = sim.step - self._step0
        if elapsed < MEASURE_S or steps <= 0:
            return
        self.steps_at[self.current] += steps
        self.rate[self.current] = elapsed / steps
        if self._probing:  # the other count has just been timed: keep the faster
            self._probing = False
            self._since_probe = 0.0
            one_is_faster = self.rate[1] < ONE_THREAD_MARGIN * self.rate[self.all_threads]
            self._use(1 if one_is_faster else self.all_threads)
        else:
            self._since_probe += elapsed
            if self._since_probe >= PROBE_EVERY_S or len(self.rate) < 2:
                self._probing = True
                self._use(1 if self.current != 1 else self.all_threads)
        self._mark(sim)

    def _use(self, threads: int):
        self.current = threads
        numba.set_num_threads(threads)

    def close(self):
        numba.set_num_threads(self.all_threads)

    def summary(self) -> dict:
        """Steps run at each thread count, for the run's summary."""
        return {"numba_threads": self.all_threads,
                "steps_on_one_thread": self.steps_at[1] if self.all_threads > 1 else 0}
