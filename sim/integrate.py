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
of images) and keeps the equilibrium density uniform.

Pore energies: a channel may give a species an energy E inside the pore (a barrier, E > 0,
for partial selectivity; a binding well, E < 0, as in a K+ selectivity filter). A step
across the pore mouth is accepted with the Metropolis probability min(1, exp(-dE/kT)) and
otherwise reflected off the mouth's plane, so that the pore's equilibrium density is the
Boltzmann one, c exp(-E/kT), and the flux through the pore scales with it.

Crossings: each ion carries the compartment it was last in and the last pore it was in; when
it reaches water of another compartment, that is a crossing of that pore.
"""

from __future__ import annotations

import math

from numba import njit, prange

from .geometry import compartment_at, membrane_at, min_image, pore_at, wrap
from .rng import gaussian3, uniform1

# Per-particle status bits (raised as SimulationError on the host).
STATUS_NAN = 1
STATUS_BLOWUP = 2
STATUS_TELEPORT = 4


@njit(cache=True)
def _reflect_radially(x, y, c, a, box, ch_x, ch_y, ch_radius):
    """Mirror (x, y) in the wall of pore c (open radius r - a). Returns (x, y, ok)."""
    reach = ch_radius[c] - a
    dx = min_image(x - ch_x[c], box[0])
    dy = min_image(y - ch_y[c], box[1])
    rho = math.sqrt(dx * dx + dy * dy)
    new_rho = 2.0 * reach - rho
    if rho == 0.0 or new_rho < 0.0:
        return x, y, False
    scale = new_rho / rho
    return ch_x[c] + dx * scale, ch_y[c] + dy * scale, True


@njit(cache=True, parallel=True)
def bd_step(pos, force, species, drift_coef, noise_amp, noise_prev, leimkuhler_matthews,
            key0, key1, step, max_drift,
            species_radius, box, mem_center, mem_half, comp_lo, comp_hi,
            ch_x, ch_y, ch_radius, ch_membrane, ch_admit, ch_boltzmann,
            comp, last_channel, event_from, status):
    """Advance every ion from step `step` to `step + 1` in place.

    pos (N,3) nm, wrapped into the box; force (N,3) kJ/(mol nm); drift_coef (N,) = D dt/kT
    in nm^2/(kJ/mol); noise_amp (N,) = sqrt(2 D dt) nm; noise_prev (N,3) holds R_step on
    entry and R_{step+1} on return. comp (N,) compartment labels, last_channel (N,) last pore
    visited, event_from (N,) set to the previous compartment when an ion crossed this step
    (else -1), status (N,) error bits. max_drift nm: a deterministic displacement larger than
    this flags a blown-up force. Returns (crossings, errors, rejected moves).
    """
    n_events = 0
    n_errors = 0
    n_rejected = 0
    for i in prange(pos.shape[0]):
        s = species[i]
        a = species_radius[s]
        r0, r1, r2 = gaussian3(key0, key1, step + 1, i)
        if leimkuhler_matthews:
            e0 = 0.5 * (noise_prev[i, 0] + r0)
            e1 = 0.5 * (noise_prev[i, 1] + r1)
            e2 = 0.5 * (noise_prev[i, 2] + r2)
        else:
            e0, e1, e2 = r0, r1, r2
        noise_prev[i, 0] = r0
        noise_prev[i, 1] = r1
        noise_prev[i, 2] = r2
        dx = drift_coef[i] * force[i, 0]
        dy = drift_coef[i] * force[i, 1]
        dz = drift_coef[i] * force[i, 2]
        event_from[i] = -1
        drift2 = dx * dx + dy * dy + dz * dz
        if not drift2 < max_drift * max_drift:  # also catches NaN
            status[i] |= STATUS_NAN if drift2 != drift2 else STATUS_BLOWUP
            n_errors += 1
            continue
        xo, yo, zo = pos[i, 0], pos[i, 1], pos[i, 2]
        xn = xo + dx + noise_amp[i] * e0
        yn = yo + dy + noise_amp[i] * e1
        zn = zo + dz + noise_amp[i] * e2

        m = membrane_at(zn, a, box, mem_center, mem_half)
        m_old = membrane_at(zo, a, box, mem_center, mem_half)
        if m >= 0:
            c = pore_at(xn, yn, m, s, a, box, ch_x, ch_y, ch_radius, ch_membrane, ch_admit)
            if c >= 0 and m_old < 0 and ch_boltzmann[c, s] < 1.0:
                # entering a pore up an energy step: Metropolis acceptance
                if uniform1(key0, key1, step + 1, i) > ch_boltzmann[c, s]:
                    c = -1
            if c < 0:
                ok = True
                if m_old < 0:
                    # came from water: find where the path met the widened face
                    dzo = min_image(zo - mem_center[m], box[2])
                    dzn = dzo + (zn - zo)
                    face = mem_half[m] + a if dzo > 0.0 else -(mem_half[m] + a)
                    t = (face - dzo) / (dzn - dzo)
                    cross = pore_at(xo + t * (xn - xo), yo + t * (yn - yo), m, s, a, box,
                                    ch_x, ch_y, ch_radius, ch_membrane, ch_admit)
                    if cross >= 0 and ch_boltzmann[cross, s] >= 1.0:
                        xn, yn, ok = _reflect_radially(xn, yn, cross, a, box, ch_x, ch_y,
                                                       ch_radius)
                    else:
                        zn = zn + 2.0 * (face - dzn)
                else:
                    c_old = pore_at(xo, yo, m_old, s, a, box, ch_x, ch_y, ch_radius,
                                    ch_membrane, ch_admit)
                    if c_old < 0:
                        c_old = last_channel[i]
                    if c_old >= 0:
                        xn, yn, ok = _reflect_radially(xn, yn, c_old, a, box, ch_x, ch_y,
                                                       ch_radius)
                    else:
                        ok = False
                if ok:
                    m2 = membrane_at(zn, a, box, mem_center, mem_half)
                    if m2 >= 0:
                        c2 = pore_at(xn, yn, m2, s, a, box, ch_x, ch_y, ch_radius,
                                     ch_membrane, ch_admit)
                        ok = c2 >= 0 and (m_old >= 0 or ch_boltzmann[c2, s] >= 1.0)
                if not ok:
                    xn, yn, zn = xo, yo, zo
                    n_rejected += 1
        elif m_old >= 0:
            # leaving a pore for water: down from a barrier always, up out of a well with
            # probability exp(E/kT); a refused exit is reflected back off the mouth's plane
            c_old = last_channel[i]
            if c_old >= 0 and ch_boltzmann[c_old, s] > 1.0:
                if uniform1(key0, key1, step + 1, i) * ch_boltzmann[c_old, s] > 1.0:
                    dzn = min_image(zn - mem_center[m_old], box[2])
                    face = mem_half[m_old] + a if dzn > 0.0 else -(mem_half[m_old] + a)
                    zn = zn + 2.0 * (face - dzn)
                    if pore_at(xn, yn, m_old, s, a, box, ch_x, ch_y, ch_radius, ch_membrane,
                               ch_admit) != c_old:
                        xn, yn, zn = xo, yo, zo
                        n_rejected += 1

        xn = wrap(xn, box[0])
        yn = wrap(yn, box[1])
        zn = wrap(zn, box[2])
        pos[i, 0] = xn
        pos[i, 1] = yn
        pos[i, 2] = zn

        m = membrane_at(zn, a, box, mem_center, mem_half)
        if m >= 0:
            c = pore_at(xn, yn, m, s, a, box, ch_x, ch_y, ch_radius, ch_membrane, ch_admit)
            if c >= 0:
                last_channel[i] = c
        else:
            k = compartment_at(zn, comp_lo, comp_hi)
            if k != comp[i]:
                event_from[i] = comp[i]
                comp[i] = k
                n_events += 1
                if last_channel[i] < 0:
                    status[i] |= STATUS_TELEPORT
                    n_errors += 1
    return n_events, n_errors, n_rejected
