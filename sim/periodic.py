"""Periodic boundaries: the minimum image and wrapping along one axis (Numba helpers).

One definition for every kernel (walls and pores, the pair list, the initial placement).
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True, inline="always")
def minimum_image(d, length):
    """Minimum image of a coordinate difference d along an axis of `length` (nm), valid for
    |d| < 1.5 length: every caller subtracts two coordinates in [0, length), or one a
    single step (far less than a box edge) outside it."""
    if d > 0.5 * length:
        return d - length
    if d < -0.5 * length:
        return d + length
    return d


@njit(cache=True)
def wrap(x, length):
    """Fold a coordinate into [0, length)."""
    x = x - length * math.floor(x / length)
    if x >= length:  # floating point: -1e-17 wraps to exactly length
        x -= length
    return x
