"""The counter-based generator: Philox4x32-10 known answers and Gaussian statistics."""

import numpy as np
import pytest

from sim.rng import fill_gaussians, philox4x32, stream_key

U = np.uint64


@pytest.mark.parametrize("counter, key, expected", [
    # Known-answer vectors of Random123 (kat_vectors, philox4x32 10 rounds).
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
])
def test_philox_known_answers(counter, key, expected):
    out = philox4x32(*(U(c) for c in counter), *(U(k) for k in key))
    assert tuple(int(v) for v in out) == expected


def test_gaussians_are_standard_normal_and_independent():
    n = 200_000
    out = np.empty((n, 3))
    k0, k1 = stream_key(7, 1)
    fill_gaussians(k0, k1, 3, out)
    # Mean within 4 standard errors (1/sqrt(n)); variance within 4 SE (sqrt(2/n)).
    assert np.all(np.abs(out.mean(axis=0)) < 4 / np.sqrt(n))
    assert np.all(np.abs(out.var(axis=0) - 1) < 4 * np.sqrt(2 / n))
    # Fourth moment of a normal is 3 (SE sqrt(96/n)).
    assert np.all(np.abs((out ** 4).mean(axis=0) - 3) < 4 * np.sqrt(96 / n))
    corr = np.corrcoef(out.T)
    assert np.all(np.abs(corr[np.triu_indices(3, 1)]) < 4 / np.sqrt(n))
    nxt = np.empty_like(out)
    fill_gaussians(k0, k1, 4, nxt)  # the next step is uncorrelated with this one
    assert abs(np.corrcoef(out[:, 0], nxt[:, 0])[0, 1]) < 4 / np.sqrt(n)


def test_streams_and_seeds_differ():
    assert stream_key(1, 1) != stream_key(2, 1)
    assert stream_key(1, 1) != stream_key(1, 2)
