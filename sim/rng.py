"""Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11, "Parallel random
numbers: as easy as 1, 2, 3").

Each Gaussian is a pure function of (key, step, particle), so the noise does not depend on
which thread handles a particle, on the number of threads, or on where a run was resumed:
the same scenario and seed give the same trajectory bit for bit. Independent streams
(thermal noise, initial placement, ...) use different keys derived from the scenario seed.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2^-53

# Stream identifiers mixed into the key so that streams never share counters.
STREAM_NOISE = 1
STREAM_PLACEMENT = 2
STREAM_GATING = 3  # the gates of gated channels (sim.gating): counter (channel, step)
STREAM_PUMPS = 4  # the pumps (sim.pumps): counter (pump, step)


@njit(cache=True)
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32 with 10 rounds on a 128-bit counter (c0..c3) and 64-bit key (k0, k1).

    All arguments and results are np.uint64 holding 32-bit values.
    """
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        hi0, lo0 = p0 >> _SHIFT32, p0 & _MASK32
        hi1, lo1 = p1 >> _SHIFT32, p1 & _MASK32
        c0, c1, c2, c3 = (hi1 ^ c1 ^ k0) & _MASK32, lo1, (hi0 ^ c3 ^ k1) & _MASK32, lo0
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
    return c0, c1, c2, c3


@njit(cache=True)
def _uniform53(hi, lo):
    """A double in (0, 1) from two 32-bit words (53 random bits, never exactly 0)."""
    bits = ((hi << _SHIFT32) | lo) >> np.uint64(11)
    return (float(bits) + 0.5) * _TWO_M53


@njit(cache=True)
def gaussian3(key0, key1, step, particle):
    """Three independent standard normal numbers for (step, particle) under key (key0, key1).

    Two Philox blocks give four uniforms; Box-Muller turns them into four normals, of which
    three are used.
    """
    s = np.uint64(step)
    s_lo, s_hi = s & _MASK32, s >> _SHIFT32
    p = np.uint64(particle)
    a0, a1, a2, a3 = philox4x32(p, s_lo, s_hi, np.uint64(0), key0, key1)
    b0, b1, b2, b3 = philox4x32(p, s_lo, s_hi, np.uint64(1), key0, key1)
    u1, u2 = _uniform53(a0, a1), _uniform53(a2, a3)
    u3, u4 = _uniform53(b0, b1), _uniform53(b2, b3)
    r1 = math.sqrt(-2.0 * math.log(u1))
    r2 = math.sqrt(-2.0 * math.log(u3))
    t1, t2 = 2.0 * math.pi * u2, 2.0 * math.pi * u4
    return r1 * math.cos(t1), r1 * math.sin(t1), r2 * math.cos(t2)


@njit(cache=True, parallel=True)
def fill_gaussians(key0, key1, step, out):
    """out[i, :] = gaussian3(key, step, i) for every particle i."""
    for k in prange(out.shape[0]):
        # prange's index is unsigned: cast it, or gaussian3 compiles a second time for it
        i = np.int64(k)
        g0, g1, g2 = gaussian3(key0, key1, step, i)
        out[i, 0] = g0
        out[i, 1] = g1
        out[i, 2] = g2


def stream_key(seed: int, stream: int) -> tuple[np.uint64, np.uint64]:
    """A 64-bit Philox key for (seed, stream): SplitMix64 of the seed, with the stream mixed
    in, so that nearby seeds give unrelated keys."""
    mask = (1 << 64) - 1
    z = (seed * 0x9E3779B97F4A7C15 + stream * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return np.uint64(z & 0xFFFFFFFF), np.uint64(z >> 32)


@njit(cache=True)
def uniform1(key0, key1, step, particle):
    """One uniform number in (0, 1) for (step, particle), from a Philox block that
    gaussian3 never uses (fourth counter word = 2)."""
    s = np.uint64(step)
    a0, a1, _, _ = philox4x32(np.uint64(particle), s & _MASK32, s >> _SHIFT32, np.uint64(2),
                              key0, key1)
    return _uniform53(a0, a1)


@njit(cache=True)
def fill_agent_uniforms(key0, key1, step, out):
    """out[a, j] = uniform in (0, 1) number j of agent a at `step` (two per Philox block,
    from blocks 16, 17, ..., which no other function here uses): each agent's numbers
    depend only on (key, step, agent), not on how many agents there are."""
    s = np.uint64(step)
    s_lo, s_hi = s & _MASK32, s >> _SHIFT32
    for a in range(out.shape[0]):
        for j in range(0, out.shape[1], 2):
            c0, c1, c2, c3 = philox4x32(np.uint64(a), s_lo, s_hi, np.uint64(16 + j // 2),
                                        key0, key1)
            out[a, j] = _uniform53(c0, c1)
            if j + 1 < out.shape[1]:
                out[a, j + 1] = _uniform53(c2, c3)
