"""Brownian-dynamics step (overdamped Langevin) with reflecting walls and crossing detection.

    x_{n+1} = x_n + (D / kT) F(x_n) dt + sqrt(2 D dt) * eta_n

Leimkuhler-Matthews (default): eta_n = (R_n + R_{n+1}) / 2, with R_n the Gaussian drawn for
step n. Same cost as Euler-Maruyama, but second order in dt for configurational averages
(Leimkuhler & Matthews, AMRX 2013(1) 34, doi:10.1093/amrx/abs010): in a harmonic well it
gives Var(x) = kT/k exactly at any stable dt. Euler-Maruyama: eta_n = R_{n+1}; weak order 1.

R_n comes from the counter-based generator keyed by (seed, n, particle) (see rng.py), so
R_n can be regenerated after a restart and the step is independent of the thread count.

Walls: a proposed position inside a membrane is reflected off the face it came through
(or, inside a pore, off the pore wall, radially); if the reflected point is still forbidden
(a corner), the move is rejected. For free diffusion, reflection off a plane is exact (method
of images) and keeps the equilibrium density uniform. Under Leimkuhler-Matthews it is exact
only if the noise R_{n+1} that the next step reuses is mirrored with the position
(:func:`mirror_noise_in_plane`, :func:`mirror_noise_off_pore_wall`): the reflected path is
then the image of a free LM path. Without that, consecutive steps share a noise that points
back into the wall, and an ideal gas piles up at the contact plane (1.6 times the bulk
density in the first 0.0125 nm at dt = 0.05 ps, growing as sqrt(dt)).

Pore energies: a channel may give a species an energy E inside the pore (a barrier, E > 0,
for partial selectivity; a binding well, E < 0, as in a K+ selectivity filter). A step
across the pore mouth is accepted with the Metropolis probability min(1, exp(-dE/kT)) and
otherwise reflected off the mouth's plane, so that the pore's equilibrium density is the
Boltzmann one, c exp(-E/kT), and the flux through the pore scales with it.

Crossings: each ion carries the compartment it was last in and the last pore it was in; when
it reaches water of another compartment, that is a crossing of that pore.

The kernel sees the geometry through one record (sim.geometry.GeometryArrays) and the noise
through another (:data:`Noise`); the step of one ion is its proposal (:func:`propose`),
confinement to the water and the pores (:func:`confine`: reflection off a face or a pore
wall, the Metropolis test at a pore mouth) and the bookkeeping of where it went
(:func:`detect_crossing`).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange

from .geometry import compartment_at, membrane_at, pore_at
from .periodic import minimum_image, wrap
from .rng import gaussian3, uniform1

# Per-particle status bits (raised as SimulationError on the host).
STATUS_NAN = 1
STATUS_BLOWUP = 2
STATUS_TELEPORT = 4

#: The noise of a run: prev (N, 3) holds R_step on entry of a step and R_{step+1} on return;
#: key0, key1 the Philox key of the run's noise stream (uint64); leimkuhler_matthews (bool).
Noise = namedtuple("Noise", ["prev", "key0", "key1", "leimkuhler_matthews"])
#: Per-ion mobility: drift (N,) = D dt / kT in nm^2/(kJ/mol), amplitude (N,) = sqrt(2 D dt) nm.
Mobility = namedtuple("Mobility", ["drift", "amplitude"])
#: The ions' arrays a step changes: pos (N, 3) nm; species (N,); comp (N,) compartment each
#: ion was last in; last_channel (N,) the last pore it was in (-1: none yet).
IonArrays = namedtuple("IonArrays", ["pos", "species", "comp", "last_channel"])


@njit(cache=True)
def reflect_off_pore_wall(x, y, c, a, g):
    """Mirror (x, y) in the wall of pore c (open radius r - a). Returns (x, y, ok)."""
    reach = g.ch_radius[c] - a
    dx = minimum_image(x - g.ch_x[c], g.box[0])
    dy = minimum_image(y - g.ch_y[c], g.box[1])
    rho = math.sqrt(dx * dx + dy * dy)
    new_rho = 2.0 * reach - rho
    if rho == 0.0 or new_rho < 0.0:
        return x, y, False
    scale = new_rho / rho
    return g.ch_x[c] + dx * scale, g.ch_y[c] + dy * scale, True


@njit(cache=True)
def mirror_noise_in_plane(noise, i):
    """A move reflected off a plane normal to z (a face, a pore mouth): mirror the stored
    R_{step+1} too. Leimkuhler-Matthews shares R_{step+1} with the next step; mirrored with
    the position, the reflected path stays the image of a free one (method of images for
    the scheme as a whole), so an ideal gas stays uniform up to the contact plane.
    Unmirrored, the next step pushes the ion back towards the wall it just left (a density
    excess of +60% in the first 0.0125 nm at dt = 0.05 ps). Euler-Maruyama never reads it."""
    noise.prev[i, 2] = -noise.prev[i, 2]


@njit(cache=True)
def mirror_noise_off_pore_wall(noise, i, x, y, c, g):
    """A move reflected off the wall of pore c, now at (x, y): mirror the stored R_{step+1}'s
    radial component, as :func:`mirror_noise_in_plane` does for a plane."""
    dx = minimum_image(x - g.ch_x[c], g.box[0])
    dy = minimum_image(y - g.ch_y[c], g.box[1])
    rho = math.sqrt(dx * dx + dy * dy)
    if rho == 0.0:
        return
    nx = dx / rho
    ny = dy / rho
    radial = noise.prev[i, 0] * nx + noise.prev[i, 1] * ny
    noise.prev[i, 0] -= 2.0 * radial * nx
    noise.prev[i, 1] -= 2.0 * radial * ny


@njit(cache=True)
def refuses_entry(boltzmann, key0, key1, step, i):
    """Metropolis at a pore mouth, going up an energy step: refuse with 1 - exp(-dE/kT)."""
    return uniform1(key0, key1, step + 1, i) > boltzmann


@njit(cache=True)
def refuses_exit(boltzmann, key0, key1, step, i):
    """Leaving a binding well (exp(-E/kT) > 1) for water: refuse with 1 - exp(E/kT)."""
    return uniform1(key0, key1, step + 1, i) * boltzmann > 1.0


@njit(cache=True)
def propose(i, pos, force, mob, noise, step, max_drift):
    """The free step of ion i: (x, y, z) proposed in nm, and 0 or a status bit (a NaN or
    a deterministic displacement above max_drift nm). Stores R_{step+1} in noise.prev."""
    r0, r1, r2 = gaussian3(noise.key0, noise.key1, step + 1, i)
    prev = noise.prev
    if noise.leimkuhler_matthews:
        e0 = 0.5 * (prev[i, 0] + r0)
        e1 = 0.5 * (prev[i, 1] + r1)
        e2 = 0.5 * (prev[i, 2] + r2)
    else:
        e0, e1, e2 = r0, r1, r2
    prev[i, 0] = r0
    prev[i, 1] = r1
    prev[i, 2] = r2
    dx = mob.drift[i] * force[i, 0]
    dy = mob.drift[i] * force[i, 1]
    dz = mob.drift[i] * force[i, 2]
    drift2 = dx * dx + dy * dy + dz * dz
    if not drift2 < max_drift * max_drift:  # also catches NaN
        return 0.0, 0.0, 0.0, (STATUS_NAN if drift2 != drift2 else STATUS_BLOWUP)
    amp = mob.amplitude[i]
    return (pos[i, 0] + dx + amp * e0, pos[i, 1] + dy + amp * e1, pos[i, 2] + dz + amp * e2,
            0)


@njit(cache=True)
def _into_membrane(xo, yo, zo, xn, yn, zn, m, m_old, s, a, i, last_channel, g, noise, step):
    """A proposed centre inside membrane m's widened slab: keep it if it is in a pore the
    ion may be in (entering up an energy step only by the Metropolis test), else reflect it
    off the face it came through or off the pore wall it hit. Returns (x, y, z, ok); not ok
    means no reflection lands in an allowed place (the move is then refused)."""
    c = pore_at(xn, yn, m, s, a, g)
    if c >= 0 and m_old < 0 and g.ch_boltzmann[c, s] < 1.0:
        if refuses_entry(g.ch_boltzmann[c, s], noise.key0, noise.key1, step, i):
            c = -1
    if c >= 0:
        return xn, yn, zn, True
    ok = True
    wall = -1  # the pore whose wall reflected the move; -2: the face did
    if m_old < 0:
        # came from water: find where the path met the widened face
        dzo = minimum_image(zo - g.mem_center[m], g.box[2])
        dzn = dzo + (zn - zo)
        face = g.mem_half[m] + a if dzo > 0.0 else -(g.mem_half[m] + a)
        t = (face - dzo) / (dzn - dzo)
        cross = pore_at(xo + t * (xn - xo), yo + t * (yn - yo), m, s, a, g)
        if cross >= 0 and g.ch_boltzmann[cross, s] >= 1.0:
            xn, yn, ok = reflect_off_pore_wall(xn, yn, cross, a, g)
            wall = cross
        else:
            zn = zn + 2.0 * (face - dzn)
            wall = -2
    else:
        c_old = pore_at(xo, yo, m_old, s, a, g)
        if c_old < 0:
            c_old = last_channel[i]
        if c_old >= 0:
            xn, yn, ok = reflect_off_pore_wall(xn, yn, c_old, a, g)
            wall = c_old
        else:
            ok = False
    if ok:
        m2 = membrane_at(zn, a, g)
        if m2 >= 0:
            c2 = pore_at(xn, yn, m2, s, a, g)
            ok = c2 >= 0 and (m_old >= 0 or g.ch_boltzmann[c2, s] >= 1.0)
    if ok:
        if wall == -2:
            mirror_noise_in_plane(noise, i)
        elif wall >= 0:
            mirror_noise_off_pore_wall(noise, i, xn, yn, wall, g)
    return xn, yn, zn, ok


@njit(cache=True)
def _out_of_pore(xn, yn, zn, m_old, s, a, i, last_channel, g, noise, step):
    """A proposed centre in water that left a pore of membrane m_old: down from a barrier
    always, up out of a well with probability exp(E/kT); a refused exit is reflected back
    off the mouth's plane. Returns (x, y, z, ok)."""
    c_old = last_channel[i]
    if c_old >= 0 and g.ch_boltzmann[c_old, s] > 1.0:
        if refuses_exit(g.ch_boltzmann[c_old, s], noise.key0, noise.key1, step, i):
            dzn = minimum_image(zn - g.mem_center[m_old], g.box[2])
            face = g.mem_half[m_old] + a if dzn > 0.0 else -(g.mem_half[m_old] + a)
            zn = zn + 2.0 * (face - dzn)
            if pore_at(xn, yn, m_old, s, a, g) != c_old:
                return xn, yn, zn, False
            mirror_noise_in_plane(noise, i)
    return xn, yn, zn, True


@njit(cache=True, inline="always")
def confine(xo, yo, zo, xn, yn, zn, s, a, i, last_channel, g, noise, step):
    """Where a proposed move from (xo, yo, zo) to (xn, yn, zn) ends, walls and pore
    energies applied: (x, y, z, rejected); a rejected move stays at the old place.

    Inlined, so that the common move, open water to open water, costs two slab tests and
    no call (a call of the wall code cost as much as the free step: the flagship's 306 ions
    took 117 us per step with it, 57 us without)."""
    m = membrane_at(zn, a, g)
    m_old = membrane_at(zo, a, g)
    if m < 0 and m_old < 0:
        return xn, yn, zn, False
    return _confine_near_membrane(xo, yo, zo, xn, yn, zn, m, m_old, s, a, i, last_channel, g,
                                  noise, step)


@njit(cache=True)
def _confine_near_membrane(xo, yo, zo, xn, yn, zn, m, m_old, s, a, i, last_channel, g, noise,
                           step):
    """confine for a move that starts or ends in membrane m_old or m (-1: none)."""
    ok = True
    if m >= 0:
        xn, yn, zn, ok = _into_membrane(xo, yo, zo, xn, yn, zn, m, m_old, s, a, i,
                                        last_channel, g, noise, step)
    else:
        xn, yn, zn, ok = _out_of_pore(xn, yn, zn, m_old, s, a, i, last_channel, g, noise,
                                      step)
    if not ok:
        return xo, yo, zo, True
    return xn, yn, zn, False


@njit(cache=True, inline="always")
def detect_crossing(i, x, y, z, s, a, ions, g, event_from):
    """Record where ion i at (x, y, z) now is: the pore it is in, or the compartment of
    its water. Returns 1 for a crossing (a new compartment; event_from[i] is set to the
    old one), 0 otherwise, and a status bit when it got there without passing a pore.
    Inlined like confine: an ion in the water it was in costs two tests and no call."""
    m = membrane_at(z, a, g)
    if m >= 0:
        _note_pore(i, x, y, m, s, a, ions, g)
        return 0, 0
    k = compartment_at(z, g)
    if k == ions.comp[i]:
        return 0, 0
    return 1, _record_crossing(i, k, ions, event_from)


@njit(cache=True)
def _note_pore(i, x, y, m, s, a, ions, g):
    c = pore_at(x, y, m, s, a, g)
    if c >= 0:
        ions.last_channel[i] = c


@njit(cache=True)
def _record_crossing(i, k, ions, event_from):
    """Ion i reached the water of compartment k: record the crossing; its status bit."""
    event_from[i] = ions.comp[i]
    ions.comp[i] = k
    return STATUS_TELEPORT if ions.last_channel[i] < 0 else 0


@njit(cache=True, parallel=True)
def bd_step(ions, force, mob, noise, g, step, max_drift, event_from, status):
    """Advance every ion from step `step` to `step + 1` in place.

    ions: IonArrays (pos (N,3) nm, wrapped into the box; comp and last_channel updated);
    force (N,3) kJ/(mol nm); mob: Mobility; noise: Noise; g: GeometryArrays; max_drift nm:
    a deterministic displacement larger than this flags a blown-up force; event_from (N,)
    set to the previous compartment of an ion that crossed this step (else -1); status (N,)
    error bits. Returns (crossings, errors, rejected moves).
    """
    n_events = 0
    n_errors = 0
    n_rejected = 0
    pos = ions.pos
    for k in prange(pos.shape[0]):
        # prange hands the loop body an unsigned index; the helpers would be compiled for it
        # and again for the signed one of the typing pass (about 5 s more of a cold start)
        i = np.int64(k)
        s = ions.species[i]
        a = g.species_radius[s]
        event_from[i] = -1
        xn, yn, zn, bad = propose(i, pos, force, mob, noise, step, max_drift)
        if bad:
            status[i] |= bad
            n_errors += 1
            continue
        xn, yn, zn, rejected = confine(pos[i, 0], pos[i, 1], pos[i, 2], xn, yn, zn, s, a, i,
                                       ions.last_channel, g, noise, step)
        if rejected:
            n_rejected += 1
        xn = wrap(xn, g.box[0])
        yn = wrap(yn, g.box[1])
        zn = wrap(zn, g.box[2])
        pos[i, 0] = xn
        pos[i, 1] = yn
        pos[i, 2] = zn
        crossed, flag = detect_crossing(i, xn, yn, zn, s, a, ions, g, event_from)
        n_events += crossed
        if flag:
            status[i] |= flag
            n_errors += 1
    return n_events, n_errors, n_rejected
