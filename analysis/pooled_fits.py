"""The fits of a pooled sweep (:mod:`analysis.pooled`) that its axes call for (:func:`fits_for`).

All are weighted least squares with weights w_i = 1 / SE_i^2 of the points' pooled V_m
(mV) and SEs from the error bars, not rescaled by chi2 = sum w_i (y_i - fit_i)^2: a line
y = a + b x has, with S = sum w, Sx = sum w x, Sy = sum w y, Sxx = sum w x^2,
Sxy = sum w x y and D = S Sxx - Sx^2, b = (S Sxy - Sx Sy) / D, a = (Sxx Sy - Sx Sxy) / D,
SE(b) = sqrt(S / D), SE(a) = sqrt(Sxx / D), dof = points - 2 (:func:`weighted_line_fit`),
and a constant has mean = sum w y / sum w, SE = 1 / sqrt(sum w), dof = points - 1
(:func:`weighted_mean`). A concentration axis gives the Nernst slope (:func:`slope_fit`):
V_m against log10(c_out/c_in) of the Nernst species (mV/decade) beside the theory
(kT / z e) ln 10 (61.5 mV/decade for z = 1 at 310.15 K); an axis ``...channels[j].count``
V_m against the channel count (:func:`flatness_fit`: the weighted mean, its chi2 / dof and
the line, mV per channel); an axis ``compartments[k].depth`` the depth series of
``ionsim budget --series`` (:func:`pooled_depth_series`: replica means of the ions moved
and the fraction with SE max(sqrt(sum SE_i^2) / R, s / sqrt(R)), and the fit
fraction = a / depth, depth in nm). Units: mV, mV/decade, mV per channel, nm, K.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.errors import UserError
from sim.units import thermal_voltage_mV

from analysis.budget import DepthPoint, DepthSeries, depth_point, depth_species, series_of_points
from analysis.pooled import CHANNEL_COUNT, DEPTH_SERIES, NERNST_SLOPE, PooledPoint, PooledSweep
from analysis.runs import SeriesMean
from analysis.statistics import pool_independent

__all__ = ["LineFit", "weighted_line_fit", "weighted_mean", "SlopeFit", "slope_fit",
           "FlatnessFit", "flatness_fit", "channel_count_x", "pooled_depth_series",
           "fits_for"]


@dataclass(frozen=True)
class LineFit:
    """y = intercept + slope x by weighted least squares (weights 1 / SE^2), in the units
    of x and y: the SEs from the error bars (not rescaled by chi2), chi2 = sum of squared
    weighted residuals, dof = points - 2."""

    slope: float
    slope_se: float
    intercept: float
    intercept_se: float
    chi2: float
    dof: int

    @property
    def chi2_per_dof(self) -> float | None:
        return self.chi2 / self.dof if self.dof > 0 else None


def weighted_line_fit(x, y, se) -> LineFit:
    """Weighted least squares of y = a + b x with w_i = 1 / se_i^2.

    With S = sum w, Sx = sum w x, Sy = sum w y, Sxx = sum w x^2, Sxy = sum w x y and
    D = S Sxx - Sx^2: b = (S Sxy - Sx Sy) / D, a = (Sxx Sy - Sx Sxy) / D,
    SE(b) = sqrt(S / D), SE(a) = sqrt(Sxx / D) (e.g. Press et al., Numerical Recipes,
    3rd ed. 2007, section 15.2).

    Raises:
        ValueError: fewer than two distinct x, or an SE that is not finite and > 0.
    """
    x, y, se = (np.asarray(v, dtype=float) for v in (x, y, se))
    if not np.all(np.isfinite(se) & (se > 0)):
        raise ValueError("every point needs a finite SE > 0")
    if np.unique(x).size < 2:
        raise ValueError("a line needs at least two distinct x")
    w = 1.0 / se ** 2
    s, sx, sy = w.sum(), (w * x).sum(), (w * y).sum()
    sxx, sxy = (w * x * x).sum(), (w * x * y).sum()
    d = s * sxx - sx * sx
    b = (s * sxy - sx * sy) / d
    a = (sxx * sy - sx * sxy) / d
    chi2 = float(np.sum(w * (y - a - b * x) ** 2))
    return LineFit(float(b), math.sqrt(s / d), float(a), math.sqrt(sxx / d), chi2, x.size - 2)


def weighted_mean(y, se) -> tuple[float, float, float, int]:
    """(mean, SE, chi2, dof) of the constant that fits y +- se best: mean = sum w y / sum w,
    SE = 1 / sqrt(sum w), w = 1 / se^2, chi2 = sum w (y - mean)^2, dof = points - 1."""
    y, se = np.asarray(y, dtype=float), np.asarray(se, dtype=float)
    w = 1.0 / se ** 2
    mean = float(np.sum(w * y) / np.sum(w))
    return mean, float(1.0 / math.sqrt(np.sum(w))), float(np.sum(w * (y - mean) ** 2)), \
        y.size - 1


@dataclass(frozen=True)
class SlopeFit:
    """V_m against log10(c_out/c_in) of ``species`` (initial concentrations).

    Attributes:
        fit: the :class:`LineFit` (slope mV/decade, intercept mV at c_out = c_in).
        theory_mV_per_decade: (kT / z e) ln 10 at temperature_K (61.5 for z = 1 at
            310.15 K).
        points: the points fitted (their indices).
    """

    species: str
    valence: int
    temperature_K: float
    fit: LineFit
    theory_mV_per_decade: float
    points: tuple[int, ...]

    @property
    def deviation(self) -> float:
        """(fitted slope - theory) / SE(slope)."""
        return (self.fit.slope - self.theory_mV_per_decade) / self.fit.slope_se


def _has_vm(p: PooledPoint) -> bool:
    """Whether a point has a pooled V_m with a finite SE > 0 (a weight for a fit)."""
    return p.vm_mean is not None and p.vm_se is not None and math.isfinite(p.vm_se) \
        and p.vm_se > 0


def slope_fit(pooled: PooledSweep) -> SlopeFit | None:
    """The Nernst slope: weighted least squares (:func:`weighted_line_fit`, weights
    1 / SE(V_m)^2) of the points' V_m (mV) against log10(c_out / c_in) of the Nernst
    species, beside the theory slope (kT / z e) ln 10 (mV per decade) at the run
    temperature. None when fewer than two points with V_m differ in c_out / c_in."""
    chosen = []
    for p in pooled.points:
        n = p.nernst_of(pooled.nernst_species)
        if n is not None and _has_vm(p) and n.ratio > 0:
            chosen.append((p, n))
    if len({n.ratio for _, n in chosen}) < 2:
        return None
    z = chosen[0][1].valence
    fit = weighted_line_fit([math.log10(n.ratio) for _, n in chosen],
                            [p.vm_mean for p, _ in chosen], [p.vm_se for p, _ in chosen])
    temperature = pooled.temperature_K
    return SlopeFit(pooled.nernst_species, z, temperature, fit,
                    thermal_voltage_mV(temperature) / z * math.log(10.0),
                    tuple(p.index for p, _ in chosen))


@dataclass(frozen=True)
class FlatnessFit:
    """V_m against the channel count: the weighted mean V_m (mV) +- SE with chi2 / dof of
    that constant, the fitted line (slope in mV per channel; None for fewer than two
    counts) against ``channels_x`` (:func:`channel_count_x`), and the points' mean initial
    Nernst potential (mV)."""

    mean_mV: float
    mean_se_mV: float
    chi2: float
    dof: int
    slope: LineFit | None
    nernst_mV: float | None
    per_membrane: bool

    @property
    def x_label(self) -> str:
        return "channels per membrane" if self.per_membrane else "channels (all membranes)"


def channel_count_x(p: PooledPoint, per_membrane: bool) -> int:
    """The channel count a point is plotted and fitted at: the channels of one membrane
    (``per_membrane``: every membrane has as many), else of all membranes together."""
    return p.channels_per_membrane[0] if per_membrane and p.channels_per_membrane \
        else p.channels


def flatness_fit(pooled: PooledSweep) -> FlatnessFit | None:
    """Whether V_m depends on the number of channels: the constant and the line that fit
    the points with V_m (weights 1 / SE^2), and the mean initial Nernst potential. None
    without two points with V_m."""
    pts = [p for p in pooled.points if _has_vm(p)]
    if len(pts) < 2:
        return None
    y, se = [p.vm_mean for p in pts], [p.vm_se for p in pts]
    mean, mean_se, chi2, dof = weighted_mean(y, se)
    per_membrane = all(len(set(p.channels_per_membrane)) == 1 for p in pts)
    counts = [channel_count_x(p, per_membrane) for p in pts]
    line = weighted_line_fit(counts, y, se) if len(set(counts)) >= 2 else None
    es = [n.initial_mV for p in pts for n in [p.nernst_of(pooled.nernst_species)]
          if n is not None and n.initial_mV is not None]
    return FlatnessFit(mean, mean_se, chi2, dof, line, float(np.mean(es)) if es else None,
                       per_membrane)


def pooled_depth_series(pooled: PooledSweep) -> DepthSeries | None:
    """The depth series of ``ionsim budget --series`` with one point per sweep point: each
    replica's :func:`analysis.budget.depth_point`, then the replica means of the ions moved
    and the fraction with SE max(sqrt(sum SE_i^2) / R, s / sqrt(R)) (the second for
    R >= 2), and the fit fraction = a / depth. None (with a note) when it cannot be made."""
    try:
        species = depth_species(pooled.points[0].measurements[0], pooled.dir)
        points = []
        for p in pooled.points:
            reps = [depth_point(m, species, pooled.dir / r.dir)
                    for m, r in zip(p.measurements, p.replicas)]
            points.append(_pooled_depth_point(p, reps))
        return series_of_points(species, points)
    except UserError as err:
        _note(pooled, f"no depth series: {err}")
        return None


def _pooled_depth_point(p: PooledPoint, reps: list[DepthPoint]) -> DepthPoint:
    net, net_se = pool_independent([r.net.mean for r in reps], [r.net.sem for r in reps])
    frac, frac_se = pool_independent([r.fraction for r in reps], [r.fraction_sem for r in reps])
    counted = reps[0].counted if len({r.counted for r in reps}) == 1 else "whole crossings"
    return DepthPoint(
        run_dir=f"point {p.index} ({len(reps)} replica{'s' if len(reps) != 1 else ''})",
        depth_nm=reps[0].depth_nm, placed=reps[0].placed, net=SeriesMean(net, net_se),
        fraction=frac, fraction_sem=frac_se, expected_ions=reps[0].expected_ions,
        expected_fraction=reps[0].expected_fraction,
        vm=None if p.vm_mean is None else SeriesMean(p.vm_mean, p.vm_se), counted=counted)


def _note(pooled: PooledSweep, text: str) -> None:
    if text not in pooled.notes:
        pooled.notes.append(text)


def fits_for(pooled: PooledSweep):
    """(slope fit, flatness fit, depth series) as the axes call for them, None otherwise."""
    slope = slope_fit(pooled) if NERNST_SLOPE in pooled.analyses else None
    if NERNST_SLOPE in pooled.analyses and slope is None:
        _note(pooled, f"no Nernst slope: fewer than two points with V_m differ in c_out/c_in "
                      f"of {pooled.nernst_species}")
    flat = flatness_fit(pooled) if CHANNEL_COUNT in pooled.analyses else None
    depth = pooled_depth_series(pooled) if DEPTH_SERIES in pooled.analyses else None
    return slope, flat, depth

