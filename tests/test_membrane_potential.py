"""The emergent membrane potential against theory (electrostatics on).

Controls: no channels, or equal concentrations, give V_m = 0. The capacitor's thermal noise
gives Var(V_m) = kT / C_total. Nernst: with K-selective channels and both compartments at
the same ionic strength (an impermeant cation fills up the dilute side, so activity
coefficients cancel), V_m = (kT/e) ln(c_out / c_in) from the measured bulk concentrations.

The standard error of V_m is set by how many ions cross each way after equilibration,
about (kT/e) sqrt(2/n): tolerances come from the measured error bars. The default run keeps
short versions; `pytest -m slow` runs the long ones with tight tolerances.

The membranes here are 2 nm thick: an ion needs about L^2 / (2 D) = 0.8 ns to diffuse through
a 2 nm pore against 3.3 ns through a 4 nm one, and the flux per channel goes as 1 / L, so
short runs see enough crossings. Neither the Nernst potential nor Var(V_m) = kT / C depends
on the thickness except through C = eps0 eps_m / d, which the theory side takes from the
scenario.
"""

import pytest

from analysis.capacitance import capacitance_theory, measured_capacitance
from analysis.runs import counting_se_mV, measure
from analysis.theory import nernst_mV
from sim.io import RunData
from sim.run import run_scenario
from tests.scenario_factory import scenario

K = 0  # species order follows the shipped table: K+ first


def _membranes(count, radius="1.0 nm", thickness="2 nm"):
    m = {"thickness": thickness, "permittivity": 2,
         "channels": [{"count": count, "radius": radius, "permeant": ["K+"]}] if count else []}
    return [m, m]


def _run(tmp_path, inside, outside, lateral="15 nm", depths=("3 nm", "3 nm"), channels=16,
         duration="2 ns", seed=1, species=None, equilibration=None, **kw):
    run = {"dt": "0.05 ps", "duration": duration, "seed": seed, "sample_interval": 20,
           "frame_interval": 2000}
    if equilibration is not None:  # else analysis.runs detects the start
        run["equilibration"] = equilibration
    sc = scenario(box={"lateral": lateral}, species=species,
                  compartments=[{"name": "inside", "depth": depths[0], "concentrations": inside},
                                {"name": "outside", "depth": depths[1], "concentrations": outside}],
                  membranes=_membranes(channels, **kw), electrostatics="ewald", run=run)
    result = run_scenario(sc, tmp_path / "run")
    return measure(RunData(result.run_dir))


def test_no_channels_gives_zero_potential(tmp_path):
    """500 mM against 50 mM, no channels: no charge crosses, V_m = 0.

    The anion is given the cation's diameter here. With unequal sizes the walls hold the
    smaller ion's centres closer than the larger's, which makes a dipole layer at every face
    whose potential grows with the concentration: between 150 and 5 mM of K+ and A- (0.266
    and 0.6 nm) we measured -5.3 +- 0.3 mV, a real surface-potential difference of the
    model, not a membrane potential (with channels, equilibrium fixes the bulk-to-bulk
    potential at the Nernst value whatever the surfaces do). The dilute side is 50 mM, not
    5 mM, so that its charge relaxes within the run (Debye time lambda^2/D ~ 0.1 ns)."""
    m = _run(tmp_path, {"K+": "500 mM", "A-": "500 mM"}, {"K+": "50 mM", "A-": "50 mM"},
             channels=0, duration="1 ns", species={"A-": {"diameter": "0.266 nm"}})
    assert sum(m.crossings_out.values()) + sum(m.crossings_in.values()) == 0
    assert m.vm.sem < 5.0  # the control resolves a few mV
    assert abs(m.vm.mean) < 3 * m.vm.sem + 0.5, m.vm


def _nernst_case(tmp_path, ratio, duration, seed=1):
    """K+ ratio:1 across the membrane, both sides at 500 mM ionic strength."""
    c_in = 500.0
    c_out = c_in / ratio
    m = _run(tmp_path, {"K+": f"{c_in} mM", "A-": f"{c_in} mM"},
             {"K+": f"{c_out} mM", "X+": f"{c_in - c_out} mM", "A-": f"{c_in} mM"},
             duration=duration, seed=seed)
    measured_in, measured_out = m.bulk_mM[0, K].mean, m.bulk_mM[1, K].mean
    expected = nernst_mV(measured_out, measured_in, 1, m.temperature)
    return m, expected


def test_nernst_short(tmp_path):
    """10:1 at equal ionic strength, 6 ns: V_m within 3 SE of Nernst. About 25 K+ cross
    in all; the error bar is the larger of the series' SE and the counting limit
    (kT/e) sqrt(2/n) for n crossings each way (~10 mV here): V_m moves in steps of e/C
    (~60 mV on this patch), so a block-averaged SE of a few such steps is too small to trust
    (a 6 ns run read -91 +- 5.7 mV against -61 mV from 21 crossings, 11.7 mV). The tight
    3 mV check is in the slow version."""
    m, expected = _nernst_case(tmp_path, 10, "6 ns")
    counting, n = counting_se_mV(m.scenario, m.run.crossings, m.t_equil_ps)
    assert m.vm.sem >= counting  # analysis.runs reports the larger
    assert m.vm.sem < 15.0, (m.vm, counting, n)
    assert abs(m.vm.mean - expected) < 3 * m.vm.sem, (m.vm, expected, counting, n)
    assert m.vm.mean < -20  # the potential did emerge, with the right sign


@pytest.mark.slow
@pytest.mark.parametrize("ratio", [10, 30])
def test_nernst_long(tmp_path, ratio):
    m, expected = _nernst_case(tmp_path, ratio, "40 ns")
    assert abs(m.vm.mean - expected) < 3 * m.vm.sem, (m.vm, expected)
    assert abs(m.vm.mean - expected) < 3.0, (m.vm, expected)


def _equal_case(tmp_path, duration, equilibration=None):
    """500 mM K+ A- on both sides, K-selective channels: V_m = 0 by symmetry, and its
    thermal noise gives the capacitance."""
    m = _run(tmp_path, {"K+": "500 mM", "A-": "500 mM"}, {"K+": "500 mM", "A-": "500 mM"},
             lateral="20 nm", duration=duration, equilibration=equilibration)
    return m, measured_capacitance(m), capacitance_theory(m.scenario)


@pytest.fixture(scope="module")
def equal_short(tmp_path_factory):
    # Equal concentrations start at V_m = 0, the equilibrium: only the double layers at the
    # faces have to form, within a Debye time lambda_D^2 / D ~ 0.1 ns at 500 mM, so the
    # equilibration is fixed at 0.3 ns instead of detected (the detector may discard up to
    # half of a run: at 3 ns one realization kept 1.5 ns and 15 crossings, and its Var(V_m)
    # was a quarter of kT/C). 2.7 ns are kept, more than the 2.5 ns that a detected start
    # left at worst in the 5 ns this fixture ran before (2026-12-07, 163 s of the default
    # test run): seeds 1, 2, 3 gave 38, 34 and 38 crossings, above the 20 that make Var(V_m)
    # the capacitor's (analysis.capacitance.MIN_CROSSINGS), C 1.86 +- 0.57, 0.72 +- 0.19
    # and 0.60 +- 0.22 uF/cm^2 against 0.87 (1.7, 0.8 and 1.2 SE), V_m within 1.9 SE of 0.
    return _equal_case(tmp_path_factory.mktemp("equal"), "3 ns", equilibration="0.3 ns")


def test_equal_concentrations_give_zero_potential(equal_short):
    m, _, _ = equal_short
    assert m.crossings_out[K] + m.crossings_in[K] > 5  # the channels conduct
    assert abs(m.vm.mean) < 3 * m.vm.sem, m.vm


def test_voltage_noise_gives_capacitance_short(equal_short):
    """Var(V_m) = kT/C_total: the capacitance from the noise within 3 SE of eps0 eps_m/d in
    series with the double layers (same run as the equal-concentration control)."""
    _, measured, theory = equal_short
    assert measured.reliable
    diff = measured.c_uF_per_cm2 - theory.series_mean
    assert abs(diff) < 3 * measured.c_sem_uF_per_cm2, (measured, theory.series_mean)
    # Var(V_m) of 2.7 ns holds to 27-37% (block averaging, seeds 1-3; 17-32% at 3 and 5 ns
    # with a detected start), so this window catches a capacitance off by a factor 2.5; the
    # slow 30 ns version holds it to 10%
    assert measured.c_sem_uF_per_cm2 < 0.4 * measured.c_uF_per_cm2


@pytest.mark.slow
def test_voltage_noise_gives_capacitance_long(tmp_path):
    m, measured, theory = _equal_case(tmp_path, "30 ns")
    assert abs(m.vm.mean) < 3 * m.vm.sem, m.vm
    diff = measured.c_uF_per_cm2 - theory.series_mean
    assert abs(diff) < 3 * measured.c_sem_uF_per_cm2, (measured, theory.series_mean)
    assert measured.c_sem_uF_per_cm2 < 0.1 * theory.series_mean
