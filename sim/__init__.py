"""ionsim: Brownian dynamics of discrete ions and the membrane potential they make.

The engine: scenario files (`sim.scenario`), geometry and walls (`sim.geometry`), forces
(`sim.forces`), the Brownian step (`sim.integrate`), the loop and its reporters (`sim.run`),
and run directories in H5MD (`sim.io`). Analysis of finished runs lives in `analysis`.
"""

__version__ = "0.1.0"
