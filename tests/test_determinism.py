"""Same scenario and seed: bit-identical trajectories with 1 and 2 Numba threads; another
seed gives another trajectory."""

import os
import subprocess
import sys
import textwrap

import numpy as np

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from sim.run import Simulation
    from tests.scenario_factory import scenario
    sc = scenario(run={"dt": "0.05 ps", "steps": 1, "seed": int(sys.argv[2])})
    sim = Simulation(sc)
    sim.advance(300)
    np.save(sys.argv[1], sim.ions.pos)
""")


def _run(tmp_path, threads, seed):
    out = tmp_path / f"pos_{threads}_{seed}.npy"
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, "-c", SCRIPT, str(out), str(seed)], check=True, env=env,
                   cwd=root)
    return np.load(out)


def test_same_seed_is_bit_identical_across_thread_counts(tmp_path):
    one = _run(tmp_path, 1, seed=7)
    two = _run(tmp_path, 2, seed=7)
    assert np.array_equal(one, two)
    other = _run(tmp_path, 2, seed=8)
    assert not np.array_equal(one, other)
