"""Means of correlated time series, with standard errors and equilibration detection.

A simulated membrane voltage is strongly correlated in time, so the naive standard error
sigma / sqrt(N) is too small by the square root of the statistical inefficiency
g = 1 + 2 sum_{t>=1} (1 - t/N) C(t) (C the normalised autocorrelation function): the
variance of the mean is g sigma^2 / N, and N / g samples are effectively independent.
Two estimators of it are computed here and reported side by side:

- *Block averaging* (Flyvbjerg and Petersen, J. Chem. Phys. 91 (1989) 461): average pairs of
  neighbours repeatedly; once the blocks are longer than the correlation time, the naive
  error of the block means stops growing (the plateau). The plateau is chosen by the rule of
  Wolff (2004) and Lee et al. (2011), B^3 > 2 N g^2 (see :func:`block_average`).
  Implemented here in some 40 lines of numpy: the packaged version, pyblock, has had no
  release since 2020 (sdist only, 0.6).
- *Integrated autocorrelation*: g from ``pymbar.timeseries.statistical_inefficiency``
  (Chodera et al., J. Chem. Theory Comput. 3 (2007) 26): the autocorrelation function is
  summed until it first crosses zero.

:func:`analyze_series` reports the autocorrelation estimate as ``sem`` by default (on AR(1)
series of known answer both estimators are unbiased within their own stated errors, and it
is about twice as precise), with the blocking estimate beside it as a check
(``TimeSeriesStats.estimates_agree``). Each comes with its own standard error, so an error
bar is never given without saying how well it is known.

The equilibration period is detected with ``pymbar.timeseries.detect_equilibration``
(Chodera, J. Chem. Theory Comput. 12 (2016) 1799): discard the first t0 samples where t0
maximises the number of effectively independent samples left, (N - t0) / g(t0).

Why pymbar: it is the reference implementation of exactly these two estimators, maintained by
the Chodera lab, and it installs lightly (numpy, scipy, numexpr; JAX only as an optional
extra). Its import logs two warnings (a caution about the method and "JAX NOT FOUND"),
which are silenced here for that one import.
"""

from __future__ import annotations

import functools
import logging
import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BlockingResult",
    "TimeSeriesStats",
    "block_average",
    "statistical_inefficiency",
    "detect_equilibration",
    "analyze_series",
    "pool_independent",
    "spread_se",
]

#: Fewest blocks at the chosen blocking level for the error to be trusted (relative error of
#: the standard error 1/sqrt(2 (n - 1)) <= 18 %); fewer raise a warning.
MIN_BLOCKS = 16

#: The equilibration search tries at most this many start points (pymbar's ``nskip``) ...
MAX_EQUILIBRATION_ORIGINS = 200
#: ... on the series thinned to at most this many samples (see :func:`detect_equilibration`).
MAX_EQUILIBRATION_SAMPLES = 50_000


@functools.lru_cache(maxsize=None)
def _pymbar_timeseries():
    """Import ``pymbar.timeseries`` without the warnings pymbar logs on import."""
    logger = logging.getLogger("pymbar")
    old_level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        from pymbar import timeseries
    except ImportError as err:  # pymbar 4 renamed the functions used here (snake_case)
        raise ImportError("analysis.statistics needs pymbar >= 4.0: pip install "
                          "'pymbar>=4.0,<5'") from err
    finally:
        logger.setLevel(old_level)
    return timeseries


def _as_series(values) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D time series, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("the time series contains NaN or inf")
    return x


# --- block averaging ----------------------------------------------------------------------

@dataclass(frozen=True)
class BlockingResult:
    """Flyvbjerg-Petersen blocking levels and the plateau chosen among them.

    Arrays have one entry per blocking level k = 0, 1, ... (block size 2^k samples).

    Attributes:
        block_sizes: samples per block, B = 2^k.
        n_blocks: number of blocks n_k.
        sem: standard error of the mean estimated at that level, sqrt(c0_k / (n_k - 1)).
        sem_err: its own standard error, sem / sqrt(2 (n_k - 1)) (Flyvbjerg and Petersen 1989).
        level: index of the chosen level: the smallest B with B^3 > 2 N (sem_B / sem_1)^4.
        enough_data: False when no level met the criterion or the chosen one has fewer than
            ``MIN_BLOCKS`` blocks: the series is short for its correlation time.
    """

    block_sizes: np.ndarray
    n_blocks: np.ndarray
    sem: np.ndarray
    sem_err: np.ndarray
    level: int
    enough_data: bool

    @property
    def plateau_sem(self) -> float:
        """The standard error of the mean at the chosen level."""
        return float(self.sem[self.level])

    @property
    def plateau_sem_err(self) -> float:
        """The standard error of ``plateau_sem``."""
        return float(self.sem_err[self.level])


def block_average(values) -> tuple[float, BlockingResult]:
    """Standard error of the mean of a correlated series by block averaging.

    At each level the series (length n_k) gives its biased variance c0_k and the estimate
    sqrt(c0_k / (n_k - 1)) of the standard error of the mean; then neighbouring pairs are
    averaged (an odd last sample is dropped) for the next level (Flyvbjerg and Petersen,
    J. Chem. Phys. 91 (1989) 461). The estimate grows with the block size B until B exceeds
    the correlation time, with a bias of order -tau/B, while its own noise grows as
    sqrt(B/N). The plateau is taken at the smallest B with

        B^3 > 2 N (sem_B / sem_1)^4 ,

    the block size that balances the two (Wolff, Comput. Phys. Commun. 156 (2004) 143,
    eq. 47; Lee et al., Phys. Rev. E 83 (2011) 066706, eq. 14; the rule pyblock uses), since
    (sem_B / sem_1)^2 estimates the statistical inefficiency g.

    Jonsson's automatic test (Phys. Rev. E 98 (2018) 043304), which stops at the first level
    whose remaining lag-1 correlations are not significant, was tried and rejected: on AR(1)
    series it stopped too early and underestimated the error by 5-14 %, several times its
    own stated uncertainty; the rule above was unbiased within its uncertainty.

    Args:
        values: the time series (1-D, at least 4 samples), any unit.

    Returns:
        (sem, info): the standard error in the unit of ``values``, and the levels as a
        :class:`BlockingResult`. A RuntimeWarning is issued when ``info.enough_data`` is
        False.
    """
    x = _as_series(values)
    n = x.size
    if n < 4:
        raise ValueError(f"block averaging needs at least 4 samples, got {n}")
    sizes, counts, sems = [], [], []
    size = 1
    while x.size >= 2:
        n_k = x.size
        dev = x - x.mean()
        sizes.append(size)
        counts.append(n_k)
        sems.append(math.sqrt(float(dev @ dev) / n_k / (n_k - 1)))
        x = x[: n_k - n_k % 2]
        x = 0.5 * (x[0::2] + x[1::2])
        size *= 2
    sizes_a = np.asarray(sizes)
    counts_a = np.asarray(counts)
    sems_a = np.asarray(sems)
    if sems_a[0] > 0:
        ok = sizes_a.astype(float) ** 3 > 2.0 * n * (sems_a / sems_a[0]) ** 4
    else:  # a constant series: every level says 0
        ok = np.ones(sizes_a.size, dtype=bool)
    if ok.any():
        level = int(np.flatnonzero(ok)[0])
    else:
        # Not even the coarsest level satisfies the rule (N < ~4 g): report the largest
        # estimate among levels that still have some blocks, as the least biased.
        usable = np.flatnonzero(counts_a >= min(MIN_BLOCKS, counts_a.max()))
        level = int(usable[np.argmax(sems_a[usable])])
    enough = bool(ok.any() and counts_a[level] >= MIN_BLOCKS)
    info = BlockingResult(block_sizes=sizes_a, n_blocks=counts_a, sem=sems_a,
                          sem_err=sems_a / np.sqrt(2.0 * (counts_a - 1)),
                          level=level, enough_data=enough)
    if not enough:
        warnings.warn(f"block averaging: the plateau needs blocks of {sizes_a[level]} "
                      f"samples, leaving {counts_a[level]} blocks; the series is short for "
                      f"its correlation time and the error bar is itself uncertain",
                      RuntimeWarning, stacklevel=2)
    return info.plateau_sem, info


# --- autocorrelation (pymbar) -------------------------------------------------------------

def statistical_inefficiency(values) -> float:
    """Statistical inefficiency g = 1 + 2 sum_t (1 - t/N) C(t) (>= 1, dimensionless).

    ``pymbar.timeseries.statistical_inefficiency`` (Chodera et al. 2007), summing the
    normalised autocorrelation C(t) up to its first zero crossing. g = 1 for uncorrelated
    data; g = 2 tau_int in units of the sampling interval when tau_int >> 1. A constant series
    gives g = 1.

    Args:
        values: the time series (1-D), any unit.
    """
    x = _as_series(values)
    if x.size < 2 or np.ptp(x) == 0:
        return 1.0
    return float(_pymbar_timeseries().statistical_inefficiency(x, fast=False))


def detect_equilibration(values) -> tuple[int, float, float]:
    """Start of the equilibrated part of a series (Chodera 2016).

    The start index t0 maximises the effective number of samples (N - t0 + 1) / g(t0)
    (``pymbar.timeseries.detect_equilibration``). To bound the cost (pymbar's g is a Python
    loop of O(N) passes), at most ``MAX_EQUILIBRATION_ORIGINS`` evenly spaced candidates are
    tried (pymbar's ``nskip``), on the series thinned to at most
    ``MAX_EQUILIBRATION_SAMPLES``: thinning by s divides both N - t0 and g by about s while
    s < g, so it leaves the maximiser in place, and where s > g the series is uncorrelated
    at that spacing anyway. The start is then known to within N / ``MAX_EQUILIBRATION_ORIGINS``
    samples.

    Args:
        values: the time series (1-D), any unit.

    Returns:
        (t0, g, n_effective): index of the first equilibrated sample (in the full series),
        and the statistical inefficiency and effective number of samples from that start,
        both in units of the full series' sampling interval.
    """
    x = _as_series(values)
    t0 = _equilibration_start(x)
    g = statistical_inefficiency(x[t0:])
    return t0, g, (x.size - t0) / g


def _equilibration_start(x: np.ndarray) -> int:
    if x.size < 4 or np.ptp(x) == 0:
        return 0
    stride = max(1, -(-x.size // MAX_EQUILIBRATION_SAMPLES))  # ceil(N / max)
    thin = x[::stride]
    nskip = max(1, thin.size // MAX_EQUILIBRATION_ORIGINS)
    t0, _, _ = _pymbar_timeseries().detect_equilibration(thin, fast=True, nskip=nskip)
    # Keep at least 4 samples so that the analysis of the rest stays defined.
    return min(int(t0) * stride, x.size - 4)


def _summation_window(x: np.ndarray, mintime: int = 3) -> int:
    """Last lag pymbar's statistical inefficiency sums: the lag before C(t) first drops to
    <= 0 beyond ``mintime`` (its default). C(t) from one FFT, normalised as pymbar does."""
    n = x.size
    dev = x - x.mean()
    spectrum = np.fft.rfft(dev, 2 * n)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), 2 * n)[:n] / (n - np.arange(n))
    if not acov[0] > 0:  # a constant series: nothing to sum
        return 0
    c = acov / acov[0]
    lags = np.arange(n)
    stop = np.flatnonzero((c <= 0) & (lags > mintime))
    return int(stop[0] - 1) if stop.size else n - 1


# --- the whole analysis -------------------------------------------------------------------

@dataclass(frozen=True)
class TimeSeriesStats:
    """Mean of an equilibrated time series with its standard error.

    Attributes:
        mean: mean of the samples after equilibration (unit of the series).
        sem: the reported standard error of the mean (``method`` says which estimate).
        sem_err: the standard error of ``sem`` itself: how far the error bar may be off.
        method: "autocorr", "blocking" or "max" (the larger of the two).
        sem_autocorr: sqrt(g s^2 / n), s^2 the sample variance, g from pymbar.
        sem_autocorr_err: its standard error, sem_autocorr sqrt((2M + 1) / (2n)) with M the
            last lag summed (Sokal's variance of the integrated autocorrelation time,
            Var(g)/g^2 = 2 (2M + 1) / n; Madras and Sokal, J. Stat. Phys. 50 (1988) 109;
            Sokal, in *Functional Integration*, Plenum 1997).
        sem_blocking: standard error from block averaging.
        sem_blocking_err: its standard error (Flyvbjerg-Petersen).
        statistical_inefficiency: g (>= 1).
        n_samples: samples after equilibration.
        n_effective: n_samples / g.
        t_equil_index: index of the first sample used.
        t_equil: its time (unit of ``times``), or None when no times were given.
        blocking: the :class:`BlockingResult` of the blocking analysis.
    """

    mean: float
    sem: float
    sem_err: float
    method: str
    sem_autocorr: float
    sem_autocorr_err: float
    sem_blocking: float
    sem_blocking_err: float
    statistical_inefficiency: float
    n_samples: int
    n_effective: float
    t_equil_index: int
    t_equil: float | None
    blocking: BlockingResult

    @property
    def estimates_agree(self) -> bool:
        """Whether the two standard errors agree within 3 of their combined uncertainties.

        A disagreement usually means the series is too short for its slowest correlation
        (the autocorrelation sum stopped early, or the blocks are too few).
        """
        tol = 3.0 * math.hypot(self.sem_autocorr_err, self.sem_blocking_err)
        return abs(self.sem_autocorr - self.sem_blocking) <= tol

    def __str__(self) -> str:
        return (f"{self.mean:.6g} +/- {self.sem:.2g} (n = {self.n_samples}, "
                f"g = {self.statistical_inefficiency:.3g}, from index {self.t_equil_index})")


def _equilibration_index(equilibration, n: int, times: np.ndarray | None) -> int | None:
    """Index of the first sample to use; None means "detect it"."""
    if isinstance(equilibration, str):
        if equilibration != "auto":
            raise ValueError(f"equilibration must be 'auto', an index (int) or a time "
                             f"(float), got {equilibration!r}")
        return None
    if equilibration is None:
        return 0
    if isinstance(equilibration, bool):
        raise ValueError("equilibration must be 'auto', an index (int) or a time (float), "
                         "not a bool")
    if isinstance(equilibration, numbers.Integral):
        index = int(equilibration)
    elif isinstance(equilibration, numbers.Real):
        if times is None:
            raise ValueError(f"equilibration={equilibration!r} is a time, which needs "
                             f"`times`; pass an int to give a sample index")
        index = int(np.searchsorted(times, float(equilibration), side="left"))
    else:
        raise ValueError(f"equilibration must be 'auto', an index (int) or a time (float), "
                         f"got {equilibration!r}")
    if not 0 <= index <= n - 4:
        raise ValueError(f"equilibration leaves {n - index} of {n} samples; at least 4 "
                         f"are needed")
    return index


def analyze_series(values, times=None, equilibration="auto",
                   method: str = "autocorr") -> TimeSeriesStats:
    """Mean and standard error of a time series after its equilibration period.

    Args:
        values: the series (1-D, at least 4 samples), any unit.
        times: sample times (1-D, strictly increasing, same length), any unit; optional.
        equilibration: "auto" to detect the start (:func:`detect_equilibration`), an int
            sample index, a float time (needs ``times``; the first sample at or after it),
            or None / 0 to use every sample.
        method: which standard error is reported as ``sem``: "autocorr" (default: on AR(1)
            test series both estimators are unbiased, and this one is about twice as
            precise), "blocking", or "max" (the larger, for a conservative error bar). Both
            are always computed; ``estimates_agree`` compares them.

    Returns:
        A :class:`TimeSeriesStats`.
    """
    x = _as_series(values)
    if x.size < 4:
        raise ValueError(f"a time series needs at least 4 samples, got {x.size}")
    t = None
    if times is not None:
        t = np.asarray(times, dtype=float)
        if t.shape != x.shape:
            raise ValueError(f"times has shape {t.shape}, values {x.shape}")
        if np.any(np.diff(t) <= 0):
            raise ValueError("times must increase strictly")
    if method not in ("autocorr", "blocking", "max"):
        raise ValueError(f"method must be 'autocorr', 'blocking' or 'max', got {method!r}")

    start = _equilibration_index(equilibration, x.size, t)
    if start is None:
        start = _equilibration_start(x)
    prod = x[start:]
    n = prod.size
    g = statistical_inefficiency(prod)
    sem_ac = math.sqrt(g * float(np.var(prod, ddof=1)) / n)
    sem_ac_err = sem_ac * math.sqrt((2 * _summation_window(prod) + 1) / (2.0 * n))
    sem_bl, info = block_average(prod)
    sem_bl_err = info.plateau_sem_err
    if method == "autocorr" or (method == "max" and sem_ac >= sem_bl):
        sem, sem_err = sem_ac, sem_ac_err
    else:
        sem, sem_err = sem_bl, sem_bl_err
    return TimeSeriesStats(
        mean=float(prod.mean()), sem=sem, sem_err=sem_err, method=method,
        sem_autocorr=sem_ac, sem_autocorr_err=sem_ac_err,
        sem_blocking=sem_bl, sem_blocking_err=sem_bl_err,
        statistical_inefficiency=g, n_samples=n, n_effective=n / g,
        t_equil_index=int(start), t_equil=None if t is None else float(t[start]),
        blocking=info)


def spread_se(values) -> float:
    """The SE of the mean read from the values' own spread: s / sqrt(R), s the sample SD
    (R - 1 in the denominator); 0 for fewer than two values."""
    x = np.asarray(values, dtype=float)
    return float(np.std(x, ddof=1)) / np.sqrt(x.size) if x.size >= 2 else 0.0


def pool_independent(values, ses) -> tuple[float, float]:
    """Mean and SE of R independent estimates x_i +- se_i (replicas of a run).

    mean = (1/R) sum x_i; SE = max( sqrt(sum se_i^2) / R, s / sqrt(R) ), the first the SE of
    a mean of independent estimates, the second the same SE read from their spread
    (:func:`spread_se`), which catches estimates whose own SEs are too small (a step-like
    series of a few crossings, a slowly exchanging bulk concentration). Used for every
    quantity pooled over replicas (sweeps: analysis.pooled; validation:
    analysis.validation.replicas), so that the two report the same SE. An SE given as None
    or NaN leaves the spread alone (NaN for a single value without an SE)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("pool_independent: no values")
    se = np.asarray([np.nan if v is None else v for v in ses], dtype=float)
    own = float(np.sqrt(np.sum(np.square(se)))) / x.size  # NaN when an SE is unknown
    spread = spread_se(x) if x.size >= 2 else np.nan
    known = [v for v in (own, spread) if np.isfinite(v)]
    return float(x.mean()), max(known) if known else float("nan")

