"""The default time step, from measurement (bench/timestep_study.py holds the full study).

For scale (issue 3): with WCA at 0.3 nm, OpenMM 8.6's Brownian integrator at dt = 1 ps gives a
diffusion coefficient about 7 times too high on a 150 mM electrolyte, because ions step through
each other's cores. Here such a step must not pass silently: the force guard stops the run.
At the default dt, D from the mean squared displacement of the interacting electrolyte
(WCA + Ewald) must agree with a run at half the step within the error bars; its measured
D / D0 sits just below 1, as the obstruction by other ions predicts (~1% at 150 mM).
"""

from bench.timestep_study import measure
from sim import library
from sim.scenario import load_scenario
from sim.sweep import load_sweep

N_IONS = 400
DT_PS = 0.05  # the step the shipped scenarios use


def test_shipped_scenarios_use_the_measured_step():
    for name in library.names():
        assert load_scenario(library.path(name)).run.dt <= DT_PS, name
    for name in library.sweep_names():
        assert all(sc.run.dt <= DT_PS for sc in load_sweep(name).scenarios), name


def test_a_step_that_lets_ions_pass_through_each_other_is_stopped():
    result = measure(N_IONS, 1.0, 200.0)  # dt = 1 ps
    assert "unstable" in result, result
    assert "blew up" in result["unstable"]


def _diffusion(dt, total_ps):
    r = measure(N_IONS, dt, total_ps)
    assert "unstable" not in r, r
    return r["D_over_D0"]["mean"], r["D_over_D0"]["sem"]


def test_default_step_gives_the_small_step_diffusion():
    d_ref, e_ref = _diffusion(DT_PS / 2, 300.0)
    d, e = _diffusion(DT_PS, 300.0)
    assert abs(d - d_ref) < 3 * (e ** 2 + e_ref ** 2) ** 0.5, (d, e, d_ref, e_ref)
    assert 0.9 < d < 1.02  # crowding slows diffusion a little; never faster than free


def test_held_smooth_forces_drift_from_the_first_step():
    """bench/mts_drift.py, the measurement behind keeping multiple time stepping out: the
    smooth forces are exactly themselves at lag 0, have moved after one step (the ions
    diffuse 0.02 nm a step) and move further after two."""
    from bench.mts_drift import measure as drift
    sc = load_scenario(library.path("potassium"))
    _, names, d2, largest = drift(sc, origins=2, lags=3, spacing=20, warmup=200)
    assert names == ["reciprocal", "membrane_dielectric"]
    assert (d2[:, 0, :] == 0).all()
    assert (d2[:, 1:, :] > 0).all()
    mean = d2.mean(axis=0)
    # |F(x_2) - F(x_0)| grows with the lag (diffusive: about sqrt(2) times the first step's)
    assert mean[2, 0] > mean[1, 0]
    assert (largest > 0).all()
