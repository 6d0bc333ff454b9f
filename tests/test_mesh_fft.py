"""SPME's FFT pair into buffers made once (sim.forces.mesh_fft): scipy.fft's bits, by either
path, and scipy.fft itself when pocketfft's entry points do not give them."""

import types

import numpy as np
import pytest
import scipy.fft

import sim.forces.mesh_fft as mesh_fft
from sim.forces.mesh_fft import RealFFT3D


def _scipy_pair(grid):
    spectrum = scipy.fft.rfftn(grid, workers=1)
    return spectrum, scipy.fft.irfftn(spectrum, s=grid.shape, workers=1)


@pytest.mark.parametrize("use_direct", [None, False])
@pytest.mark.parametrize("shape", [(18, 18, 27), (12, 10, 16), (9, 7, 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_as_scipy_fft(use_direct, shape, dtype):
    fft = RealFFT3D(shape, dtype, use_direct=use_direct)
    rng = np.random.default_rng(3)
    for _ in range(2):  # the buffers are reused: a second call must not see the first
        grid = (rng.random(shape) - 0.5).astype(dtype)
        want_spectrum, want = _scipy_pair(grid)
        spectrum = fft.forward(grid)
        assert spectrum.dtype == want_spectrum.dtype and spectrum.shape == want_spectrum.shape
        assert np.array_equal(spectrum, want_spectrum)
        back = fft.inverse(spectrum.copy())
        assert back.dtype == want.dtype and np.array_equal(back, want)
        np.testing.assert_allclose(back, grid, atol=1e-5 if dtype == np.float32 else 1e-12)


def test_this_scipy_takes_the_direct_path():
    if mesh_fft.pocketfft_entry_points() is None:
        pytest.skip("this scipy's pocketfft internals differ: SPME uses scipy.fft's public "
                    "functions (same bits, ~50 us more per step at small meshes)")
    assert RealFFT3D((8, 8, 8), np.float32).direct
    assert not RealFFT3D((8, 8, 8), np.float32, use_direct=False).direct


@pytest.mark.parametrize("breakage", ["wrong values", "wrong normalisation", "raises",
                                      "missing"])
def test_entry_points_that_differ_are_refused(breakage):
    from scipy.fft._pocketfft import pypocketfft

    def off_by_one(*args):
        out = pypocketfft.r2c(*args)
        out[0, 0, 0] += 1.0
        return out

    def unscaled(a, axes, lastsize, forward, inorm, out, nthreads):
        return pypocketfft.c2r(a, axes, lastsize, forward, 0, out, nthreads)

    def raises(*args):
        raise TypeError("incompatible function arguments")

    module = types.SimpleNamespace(r2c=pypocketfft.r2c, c2r=pypocketfft.c2r)
    assert mesh_fft.probed_entry_points(module) is not None  # the real ones pass
    if breakage == "wrong values":
        module.r2c = off_by_one
    elif breakage == "wrong normalisation":
        module.c2r = unscaled
    elif breakage == "raises":
        module.r2c = raises
    else:
        del module.c2r
    assert mesh_fft.probed_entry_points(module) is None


def test_without_entry_points_scipy_fft_serves(monkeypatch):
    monkeypatch.setattr(mesh_fft, "pocketfft_entry_points", lambda: None)
    fft = RealFFT3D((6, 6, 9), np.float32)
    assert not fft.direct
    grid = np.random.default_rng(0).random((6, 6, 9)).astype(np.float32)
    want_spectrum, want = _scipy_pair(grid)
    assert np.array_equal(fft.forward(grid), want_spectrum)
    assert np.array_equal(fft.inverse(want_spectrum.copy()), want)
