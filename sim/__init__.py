"""ionsim: Brownian dynamics of discrete ions and the membrane potential they make.

The engine: scenario files (`sim.scenario`), geometry and walls (`sim.geometry`), forces
(`sim.forces`), the Brownian step (`sim.integrate`), the loop and its reporters (`sim.run`),
and run directories in H5MD (`sim.io`). Analysis of finished runs lives in `analysis`.
"""

import os

# Numba's OpenMP threads wait between parallel kernels. Spinning forever (ACTIVE) starves a
# second process on 2 cores (measured 190 us instead of 4 us per kernel call with two runs at
# once); sleeping at once (PASSIVE) costs a wake-up per kernel, which doubled the step of the
# 306-ion flagship (1307 us against 609 us). A short spin (libgomp's GOMP_SPINCOUNT, in
# iterations) keeps threads awake between the kernels of one step and lets them sleep when the
# interpreter works between steps: 647 us per flagship step alone, 980 us with two runs at once.
# A user's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "3000")

__version__ = "0.1.0"
