"""bench/pore_permeation.py: its Smoluchowski rate against GHK, and the pores' orientation."""

import math
from pathlib import Path

import numpy as np
import pytest

from bench.pore_permeation import BINS, depth_in_membranes, one_way_rate
from sim.scenario import load_scenario
from sim.units import PER_NM3_TO_MM

ROOT = Path(__file__).resolve().parents[1]


def test_linear_profile_gives_the_ghk_rate():
    """For c(zeta) = c_in exp(-u zeta / L), D A / int dzeta / c is GHK's one-way flux
    P c_out u / (1 - exp(-u)) with P = D / L (c_out = c_in exp(-u)). The midpoint rule on
    BINS bins errs by about (u / BINS)^2 / 24 = 0.3% at u = 3.4; 1% is allowed."""
    length, d, area, c_in, u = 3.0, 2.44, 422.7, 150.0, 3.4
    dz = length / BINS
    zeta = (np.arange(BINS) + 0.5) * dz
    rate = one_way_rate(c_in * np.exp(-u * zeta / length), dz, d, area)
    c_out_per_nm3 = c_in * math.exp(-u) / PER_NM3_TO_MM
    ghk = d / length * c_out_per_nm3 * area * u / (1.0 - math.exp(-u))
    assert rate == pytest.approx(ghk, rel=0.01)


def test_depth_is_measured_from_the_face_the_inside_touches():
    """The flagship's inside lies below membrane 0 (3-6 nm) and, across the periodic
    boundary, above membrane 1 (26-29 nm): 0.2 nm into either from the inside is depth 0.2."""
    sc = load_scenario(ROOT / "scenarios" / "potassium.yaml")
    (lo0, hi0), (lo1, hi1) = sc.membrane_bounds()
    z = np.array([lo0 + 0.2, hi1 - 0.2, 10.0])
    first, second = depth_in_membranes(z, sc)
    assert first[0] == pytest.approx(0.2) and np.isnan(first[1]) and np.isnan(first[2])
    assert second[1] == pytest.approx(0.2) and np.isnan(second[0]) and np.isnan(second[2])
