"""Standard errors of correlated series, checked on AR(1) series with a known answer.

AR(1): x_{t+1} = phi x_t + eps_t, eps_t ~ N(0, 1), started from its stationary law. Then
Var(x) = sigma^2 = 1 / (1 - phi^2) and Corr(x_t, x_{t+k}) = phi^|k|, so the mean of N samples
has the exact variance

    Var(mean) = sigma^2 / N * [1 + 2 sum_{k=1}^{N-1} (1 - k/N) phi^k]
              = sigma^2 / N * [(1 + phi)/(1 - phi) - 2 phi (1 - phi^N) / (N (1 - phi)^2)],

-> sigma^2 / N * (1 + phi)/(1 - phi) for large N: the statistical inefficiency is
g = (1 + phi)/(1 - phi) (19 for phi = 0.9).

Each estimate is compared with the exact value within 4 of the estimator's own standard error,
which the estimator reports (Flyvbjerg-Petersen for blocking, Sokal for the autocorrelation
sum); the seeds are fixed, so the tests are deterministic.
"""

import math
import warnings

import numpy as np
import pytest
from scipy.signal import lfilter

from analysis.statistics import (
    analyze_series,
    block_average,
    detect_equilibration,
    statistical_inefficiency,
)

Z_MAX = 4.0  # tolerance in units of the estimator's own standard error


def ar1(n, phi, seed):
    """n samples of a stationary AR(1) series with unit innovations."""
    rng = np.random.default_rng(seed)
    x0 = rng.normal() / math.sqrt(1 - phi ** 2)
    noise = rng.normal(size=n)
    return lfilter([1.0], [1.0, -phi], noise, zi=[phi * x0])[0]


def exact_sem(n, phi):
    var = 1.0 / (1.0 - phi ** 2)
    g_n = (1 + phi) / (1 - phi) - 2 * phi * (1 - phi ** n) / (n * (1 - phi) ** 2)
    return math.sqrt(var * g_n / n)


def test_exact_sem_formula_against_direct_sum():
    n, phi = 50, 0.7
    k = np.arange(1, n)
    direct = (1 + 2 * np.sum((1 - k / n) * phi ** k)) / (1 - phi ** 2) / n
    assert exact_sem(n, phi) ** 2 == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize("phi, n", [(0.5, 2 ** 14), (0.9, 2 ** 15)])
@pytest.mark.parametrize("method", ["autocorr", "blocking"])
def test_ar1_standard_error(phi, n, method):
    true = exact_sem(n, phi)
    seeds = range(12)
    ratios, rel_errs = [], []
    for seed in seeds:
        st = analyze_series(ar1(n, phi, seed), equilibration=0, method=method)
        rel = st.sem_err / st.sem
        assert abs(st.sem / true - 1) <= Z_MAX * rel, (seed, st.sem / true, rel)
        ratios.append(st.sem / true)
        rel_errs.append(rel)
    # Averaged over seeds the estimator must be unbiased within the error of that average.
    mean_rel = float(np.sqrt(np.mean(np.square(rel_errs))))
    assert abs(np.mean(ratios) - 1) <= Z_MAX * mean_rel / math.sqrt(len(seeds))


def test_ar1_statistical_inefficiency():
    phi, n = 0.9, 2 ** 15
    g_true = (1 + phi) / (1 - phi)
    for seed in range(4):
        st = analyze_series(ar1(n, phi, seed), equilibration=0)
        g_rel = 2 * st.sem_autocorr_err / st.sem_autocorr  # Var(g)/g^2 = 4 Var(sem)/sem^2
        assert abs(st.statistical_inefficiency / g_true - 1) <= Z_MAX * g_rel
        assert st.n_effective == pytest.approx(n / st.statistical_inefficiency)


@pytest.mark.parametrize("seed", range(5))
def test_white_noise_is_uncorrelated(seed):
    n = 20000
    x = np.random.default_rng(100 + seed).normal(size=n)
    st = analyze_series(x, equilibration=0)
    g_rel = 2 * st.sem_autocorr_err / st.sem_autocorr
    assert st.statistical_inefficiency >= 1.0
    assert abs(st.statistical_inefficiency - 1) <= Z_MAX * g_rel
    assert g_rel < 0.05  # the tolerance above is tight: a few lags at most were summed
    # blocking: exact SEM is 1/sqrt(n)
    assert abs(st.sem_blocking * math.sqrt(n) - 1) <= Z_MAX * st.sem_blocking_err / st.sem_blocking
    assert st.estimates_agree


@pytest.mark.parametrize("seed", range(5))
def test_transient_is_detected(seed):
    """AR(1) (phi = 0.9) plus a decaying offset 10 sigma exp(-t / 300).

    The transient counts as over once what is left of it biases the mean by less than the
    mean's standard error: 10 sigma * 300 * exp(-t0/300) / (N - t0) < exact SEM, i.e.
    t0 > ~480 samples here. The detected start must be later than that, and must not throw
    away the bulk of the run (t0 < N / 4).
    """
    phi, n, tau = 0.9, 20000, 300.0
    sigma = 1 / math.sqrt(1 - phi ** 2)
    t = np.arange(n)
    x = ar1(n, phi, seed) + 10 * sigma * np.exp(-t / tau)
    st = analyze_series(x, times=0.5 * t)
    t0 = st.t_equil_index

    def leftover_bias(start):
        return 10 * sigma * tau * math.exp(-start / tau) / (n - start)

    assert leftover_bias(t0) < exact_sem(n - t0, phi)
    assert t0 < n / 4
    assert st.t_equil == pytest.approx(0.5 * t0)
    # The true mean is 0; without discarding anything it would be off by ~5 SEM.
    assert abs(st.mean) <= Z_MAX * exact_sem(n - t0, phi) + leftover_bias(t0)
    assert leftover_bias(0) > 4 * exact_sem(n, phi)
    assert detect_equilibration(x)[0] == t0


def test_equilibration_options():
    x = ar1(4000, 0.5, 7)
    times = 0.1 * np.arange(x.size)
    assert analyze_series(x, equilibration=0).t_equil_index == 0
    assert analyze_series(x, equilibration=None).n_samples == x.size
    st = analyze_series(x, times=times, equilibration=250)
    assert (st.t_equil_index, st.n_samples) == (250, x.size - 250)
    assert st.t_equil == pytest.approx(25.0)
    st = analyze_series(x, times=times, equilibration=25.05)  # first sample at/after 25.05
    assert st.t_equil_index == 251
    assert st.mean == pytest.approx(x[251:].mean())
    with pytest.raises(ValueError, match="times"):
        analyze_series(x, equilibration=12.5)
    with pytest.raises(ValueError):
        analyze_series(x, equilibration="later")
    with pytest.raises(ValueError):
        analyze_series(x, equilibration=True)
    with pytest.raises(ValueError, match="samples"):
        analyze_series(x, equilibration=x.size - 2)
    with pytest.raises(ValueError):
        analyze_series(x, method="bootstrap")
    with pytest.raises(ValueError):
        analyze_series(x, times=times[::-1])


def test_block_average_levels():
    n = 1000
    x = np.random.default_rng(3).normal(size=n)
    sem, info = block_average(x)
    assert list(info.block_sizes[:4]) == [1, 2, 4, 8]
    assert list(info.n_blocks[:4]) == [1000, 500, 250, 125]
    # level 0 is the naive standard error
    assert info.sem[0] == pytest.approx(np.std(x, ddof=1) / math.sqrt(n), rel=1e-12)
    # the chosen level is the smallest B with B^3 > 2 N (sem_B / sem_1)^4
    k = info.level
    assert info.block_sizes[k] ** 3 > 2 * n * (info.sem[k] / info.sem[0]) ** 4
    assert all(info.block_sizes[j] ** 3 <= 2 * n * (info.sem[j] / info.sem[0]) ** 4
               for j in range(k))
    assert sem == info.plateau_sem


def test_constant_and_too_short_series():
    st = analyze_series(np.full(100, 3.0))
    assert (st.mean, st.sem, st.statistical_inefficiency) == (3.0, 0.0, 1.0)
    assert statistical_inefficiency(np.full(10, 1.0)) == 1.0
    with pytest.raises(ValueError):
        analyze_series([1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        analyze_series([1.0, np.nan, 2.0, 3.0, 4.0])
    # a series only a few correlation times long: the error bar comes with a warning
    with pytest.warns(RuntimeWarning, match="short"):
        block_average(ar1(400, 0.99, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        block_average(np.random.default_rng(0).normal(size=5000))
