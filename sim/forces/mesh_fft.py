"""The real 3-D FFT pair of SPME, into buffers allocated once.

SPME transforms its charge mesh forward and its potential back every step
(sim.forces.ewald.SPME.transform). scipy.fft.rfftn / irfftn check their arguments, work out
shapes and axes and allocate the result on every call: at the flagship's 18 x 18 x 27 mesh
that Python layer took 50 us of the pair's 180 us (2026-12-07, docs/performance.md), about
6% of the whole step. Both call the same C++ routines of pocketfft (scipy.fft._pocketfft.
pypocketfft.r2c / c2r), which take the axes, the normalisation and an output array; calling
them directly with the output arrays made once gives the same bits without that layer.

pypocketfft is scipy's private module, so it is used only after a probe in this process has
found it importable, callable with the arguments below and bit-identical to scipy.fft on
meshes of both kinds of length (even and odd last axis) in float32 and float64; otherwise
(a scipy whose internals differ) the public functions are used. The result is the same
either way: rfftn with the default "backward" norm (no scaling forward, 1/M back).
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft

_AXES = (0, 1, 2)
_NORM_NONE = 0  # pocketfft's inorm: 0 no scaling, 2 scaling by 1/M (scipy's "backward")
_NORM_BY_SIZE = 2


def _forward_into(r2c, grid, spectrum):
    r2c(grid, _AXES, True, _NORM_NONE, spectrum, 1)
    return spectrum


def _inverse_into(c2r, spectrum, out):
    c2r(spectrum, _AXES, out.shape[2], False, _NORM_BY_SIZE, out, 1)
    return out


@functools.lru_cache(maxsize=1)
def pocketfft_entry_points():
    """(r2c, c2r) of scipy's pocketfft if they give scipy.fft's bits here, else None."""
    try:
        from scipy.fft._pocketfft import pypocketfft
    except ImportError:
        return None
    return probed_entry_points(pypocketfft)


def probed_entry_points(module):
    """(module.r2c, module.c2r) if, called as RealFFT3D calls them, they give the bits of
    scipy.fft.rfftn / irfftn on small meshes (even and odd last axis, float32 and float64);
    else None."""
    try:
        r2c, c2r = module.r2c, module.c2r
        rng = np.random.default_rng(0)
        for shape in ((6, 5, 8), (5, 6, 7)):
            for dtype in (np.float32, np.float64):
                grid = rng.random(shape).astype(dtype)
                want_spectrum = scipy.fft.rfftn(grid, workers=1)
                want = scipy.fft.irfftn(want_spectrum, s=shape, workers=1)
                spectrum = _forward_into(r2c, grid, np.empty_like(want_spectrum))
                out = _inverse_into(c2r, spectrum.copy(), np.empty(shape, dtype=dtype))
                if not (np.array_equal(spectrum, want_spectrum) and np.array_equal(out, want)):
                    return None
        return r2c, c2r
    except Exception:  # any difference in scipy's internals: the public functions serve
        return None


class RealFFT3D:
    """Forward and inverse real FFT of one (K1, K2, K3) float32 or float64 mesh.

    forward(grid) -> the half spectrum (K1, K2, K3 // 2 + 1), complex, unscaled;
    inverse(spectrum) -> the real mesh, scaled by 1 / (K1 K2 K3) (numpy's convention). Both
    return arrays owned by this object and overwritten by the next call; inverse may
    overwrite its argument. One worker thread. use_direct: None picks pocketfft's entry
    points when the probe accepts them; False forces scipy.fft's public functions.
    """

    def __init__(self, shape, dtype, use_direct: bool | None = None):
        self.shape = tuple(int(k) for k in shape)
        real = np.dtype(dtype)
        complex_type = np.result_type(real, np.complex64)
        self._spectrum = np.empty(self.shape[:2] + (self.shape[2] // 2 + 1,), complex_type)
        self._out = np.empty(self.shape, real)
        entry = pocketfft_entry_points() if use_direct is not False else None
        self._r2c, self._c2r = entry if entry is not None else (None, None)

    @property
    def direct(self) -> bool:
        """Whether pocketfft's entry points are called directly."""
        return self._r2c is not None

    def forward(self, grid) -> np.ndarray:
        if self._r2c is None:
            return scipy.fft.rfftn(grid, workers=1)
        return _forward_into(self._r2c, grid, self._spectrum)

    def inverse(self, spectrum) -> np.ndarray:
        if self._c2r is None:
            return scipy.fft.irfftn(spectrum, s=self.shape, workers=1, overwrite_x=True)
        return _inverse_into(self._c2r, spectrum, self._out)
