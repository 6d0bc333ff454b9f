"""ionsim: Brownian dynamics of discrete ions and the membrane potential they make.

The engine: scenario files (`sim.scenario`), geometry and walls (`sim.geometry`), forces
(`sim.forces`), the Brownian step (`sim.integrate`), the simulation (`sim.simulation`), the
step loop and its operations (`sim.loop`, `sim.writers`), running a scenario into a run
directory (`sim.run`, `sim.rundir`) and reading it back in H5MD (`sim.io`). Analysis of
finished runs lives in `analysis`.
"""

import os

# Numba's OpenMP threads wait between parallel kernels. Spinning forever (ACTIVE) starves a
# second process on 2 cores (measured 190 us instead of 4 us per kernel call with two runs at
# once); sleeping at once (PASSIVE) costs a wake-up per kernel, which doubled the step of the
# 306-ion flagship (1307 us against 609 us). A bounded spin (libgomp's GOMP_SPINCOUNT, in
# iterations) keeps threads awake between the kernels of one step, across the ~80 us of the
# (serial) FFTs, and lets them sleep when another process needs the core. Flagship step,
# alone / with a second flagship on the other core: 577 / 1220 us at 3000, 530 / 1100 us at
# 30000, 499 / 1600-1800 us at 300000; the bulk benchmark is the same at 3000 and 30000.
# A user's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "30000")

__version__ = "0.1.0"
