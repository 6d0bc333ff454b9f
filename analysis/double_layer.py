"""The double layers at the membrane faces: contact densities, face potentials, the
contact-value theorem, and Gouy-Chapman.

Faces. Membrane j has a lower-z face (side 0, touching compartment j) and an upper-z face
(side 1, touching compartment (j + 1) mod M); face f = 2 j + side, each with its own sigma
(:meth:`sim.scenario.Scenario.face_surface_charges`, e/nm^2). Compartment k is bounded below
by membrane (k - 1) mod M's upper face and above by membrane k's lower face.

What a run records (:class:`sim.writers.ObservableWriter`), per frame, as means over the
samples since the previous frame:

- ``face_density`` (2M, S, bins) nm^-3: the density of species s against the distance x from
  its *contact plane* at face f (the plane one ion radius a_s in front of the face, where the
  centre can first be), in bins of 0.0125 nm or finer (below one r.m.s. step sqrt(2 D dt))
  over the first 0.25 nm, 0.05 nm beyond, over the *wall* area only: ions laterally over the
  mouth of a pore that admits them are in front of water, not wall, and are not counted
  (:class:`sim.observe.FaceBins`);
- ``face_field`` (2M,) e/nm^2 and ``face_field_squared``: D_n = eps0 eps_w E.n in the water
  just in front of each face (n the normal into the water) and its square, from the engine's
  own laterally averaged 1-D field with eps(z) and the face sheets (:func:`sim.observe.
  face_fields`); D_n = sigma where the membrane's interior is field-free.

Contact densities. n_s^c(f) is the density extrapolated to x = 0 by a least-squares quadratic
through the bin means of the first ``CONTACT_FIT_NM`` = 0.15 nm (12 bins of 0.0125 nm; the
basis is the bin mean of 1, x, x^2, so a quadratic profile is extrapolated exactly). The
bias for a Gouy-Chapman counter-ion profile n_c / (1 + x / l)^2 is the cubic term,
4 n_c X^3 / (20 l^3): 0.2% for l = 0.68 nm (sigma = -0.32 e/nm^2) and X = 0.15 nm. Each
frame gives one value; mean and SE come from the frame series after the run's equilibration
(the period of the bulk concentrations: :class:`analysis.runs.Measurements`),
:func:`analysis.statistics.analyze_series`.

Potentials. psi(face) and psi(contact plane of s), relative to the mean potential of the
face's compartment's bulk window, from the 1-D Poisson solution with eps(z) of each frame's
``density`` profile (each z-bin's charge a sheet at its centre, plus the face sheets:
:func:`sim.forces.membrane_field.potential_profile`). The bins are the scenario's
profile_bin_width from z = 0; a bin wider than the smallest ion diameter can put charge on
the wrong side of a contact plane (a note says so).

The contact-value theorem for this engine's model. The energy is
U = U_WCA + U_L + U_0: U_L = Ewald(eps_w) - U_1D(eps_w) is the laterally varying (kx, ky != 0)
part, a sum of pair terms u_L(r_i - r_j) that obey Newton's third law; U_0 = U_1D(eps(z);
ions + face sheets) the laterally averaged part (DESIGN section 4). A face is a hard plane
for the centre of each species at its contact plane. In equilibrium (Boltzmann), integrating
d/dz_i exp(-U/kT) over each ion's allowed range in compartment k gives (the wall theorem;
Henderson and Blum, J. Chem. Phys. 69 (1978) 5441; Henderson, Blum and Lebowitz,
J. Electroanal. Chem. 102 (1979) 315)

    <sum_{i in k} F_z,i> / (A kT) = sum_s n_s^c(upper face) - sum_s n_s^c(lower face).

The forces: WCA and U_L pairs inside the compartment cancel, WCA does not reach across a
membrane; U_0 acts on each ion (a sheet in water of eps_w) as q (E- + E+)/2
= A eps0 eps_w (E+^2 - E-^2) / 2, so the sum telescopes to the fields at the two faces. Hence,
per face f of the compartment,

    kT sum_s n_s^c(f) = P_zz + eps0 eps_w <E_f^2> / 2                                    (1)

with P_zz the same at both faces (the normal pressure of the compartment's ions), and E_f
the instantaneous field in the charge-free water in front of face f (so <E^2>, not <E>^2:
``face_field_squared``). With the face-field term written as a density,
t_f = <D_n^2> / (2 eps0 eps_w kT) (nm^-3), the check that needs no pressure is the
difference between the two faces of one compartment,

    sum_s n_s^c(lower) - sum_s n_s^c(upper) = t_lower - t_upper,                          (2)

and the absolute form is sum_s n_s^c(f) = phi n_bulk + t_f, P_zz = phi kT n_bulk in the bulk
of a deep compartment (n_bulk the total bulk number density, phi the osmotic coefficient:
1 for ideal ions, stated so, unless a measured or theoretical phi is passed in). A wrong sign
in (2) would put the counter-ion excess at the neutral face; a missing 1/2 would double the
right side: at sigma = -0.32 e/nm^2 and eps_w = 74 the term is 0.48 nm^-3 (800 mM), tens of
SE of a 4 ns run.

What the model leaves out, and what the checks leave out of the model:

- U_L forces from ions across a membrane (lateral correlations; U_L has no laterally averaged
  part, so only correlations act). Bounded by the force between two ideal-conducting sheets
  a distance d apart, with the box's lateral wavevectors k = 2 pi (n_x / L_x, n_y / L_y):
  P/kT = -(1/A) sum_{k != 0} k e^{-2kd} / (1 - e^{-2kd}) (the classical zero-frequency
  term, -zeta(3) / (8 pi d^3) in an infinite box); d = thickness + two radii.
  :func:`lateral_correlation_bound` gives it: for a 2 nm membrane and K+ (d = 2.27 nm)
  1.3 mM in a 5 nm box, 2.8 mM in 7 nm, 4.4 mM in 10 nm (6.8 mM for an infinite one),
  against field terms of 80 mM (sigma = -0.1 e/nm^2) to 800 mM (-0.33 e/nm^2); a real
  double layer screens less than a conductor, so this is an upper bound. It acts on both
  faces of a compartment alike where they face alike membranes.
- Image charges: the engine's k != 0 part has a uniform eps_w, so there are none; the
  theorem checks the engine within its model (a dielectric wall with images adds an image
  term to (1)).
- Pores: with open pores the compartments exchange ions through the mouths, whose
  momentum flux (1) does not contain; the wall-area density obeys (1) column by column in
  the laterally averaged (mean-field) picture only. The exact check (2) is for faces without
  pores that admit a species.
- The time step: (1) holds for the Boltzmann distribution; a finite dt biases the sampled
  one near a wall (sim/integrate.py; tests/test_walls.py checks it for an ideal gas).

Gouy-Chapman. For each compartment the diffuse-layer potential at a charged face is
psi(face) - <phi_bar>_window, compared with :func:`analysis.theory.gouy_chapman` for the
face's sigma and the compartment's measured bulk cation concentration (all monovalent),
with two corrections (mV): the Stern gap sigma a / (eps0 eps_w) of the charge-free water in
front of the sheet (a the mean cation radius; its uncertainty half the spread between the
smallest cation and the largest ion), and the Gouy-Chapman tail of both faces, superposed,
averaged over the bulk window. A compartment whose two faces carry one sigma is compared
as one (the mean of its two faces); otherwise each charged face on its own. The psi series
start where :func:`analysis.statistics.detect_equilibration` finds (as before faces could
differ).

Units: nm, nm^-3 (reported in mM), e/nm^2, mV.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from sim.electrostatics import membrane_slabs, surface_sheets
from sim.forces.membrane_field import potential_profile, window_mean_potentials, with_sheets
from sim.observe import bulk_windows
from sim.units import EPS0, MV_PER_KJ_MOL_E, PER_NM3_TO_MM

from analysis.runs import Measurements
from analysis.statistics import TimeSeriesStats, analyze_series
from analysis.tables import Table, fmt, fmt_pm
from analysis.theory import GouyChapman, gouy_chapman

__all__ = ["CONTACT_FIT_NM", "Face", "faces_of", "compartment_faces", "FaceProfiles",
           "contact_weights", "FaceContact", "ContactValueCheck", "face_contacts",
           "contact_value_checks", "lateral_correlation_bound", "FaceDoubleLayer",
           "face_double_layers", "describe", "describe_contact", "describe_check",
           "double_layer_tables"]

#: Distance (nm) from the contact plane over which the contact density is extrapolated.
CONTACT_FIT_NM = 0.15
#: Degree of the extrapolating polynomial.
CONTACT_FIT_DEGREE = 2
#: Step (nm) into the water over which psi's slope gives the field at a face (the water in
#: front of a face holds no ion within a radius, so psi is linear there).
FIELD_PROBE_NM = 1e-4
SIDES = ("lower", "upper")


# --- faces ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Face:
    """One membrane face: index f = 2 j + side, membrane j, side 0 (lower-z) or 1 (upper-z),
    the compartment it touches, its z (nm), its sigma (e/nm^2), and the normal into its
    water (-1 or +1 along z)."""

    index: int
    membrane: int
    side: int
    compartment: int
    z_nm: float
    sigma: float

    @property
    def normal(self) -> int:
        return 1 if self.side == 1 else -1

    def label(self, scenario) -> str:
        """e.g. 'inside, lower (membrane 1 upper-z face)': the compartment, which of its
        faces, and the membrane face."""
        where = "upper" if self.side == 0 else "lower"  # a membrane's lower face is above
        return (f"{scenario.compartments[self.compartment].name} {where} face "
                f"(membrane {self.membrane})")


def faces_of(sc) -> list[Face]:
    """Every membrane face, in the order f = 2 j + side."""
    out = []
    m = len(sc.membranes)
    for j, (lo, hi) in enumerate(sc.membrane_bounds()):
        sigmas = sc.face_surface_charges(j)
        for side, z in ((0, lo), (1, hi)):
            out.append(Face(2 * j + side, j, side, (j + side) % m, float(z),
                            float(sigmas[side])))
    return out


def compartment_faces(sc, k: int) -> tuple[int, int]:
    """(f_lower, f_upper): the faces that bound compartment k below (membrane k - 1's
    upper-z face) and above (membrane k's lower-z face)."""
    m = len(sc.membranes)
    return 2 * ((k - 1) % m) + 1, 2 * (k % m)


# --- the recorded profiles -------------------------------------------------------------------

@dataclass
class FaceProfiles:
    """A run's ``face_density`` (and ``face_field``) observables.

    step (F,), time (F,) ps; density (F, 2M, S, bins) nm^-3; edges (bins + 1,) nm from the
    contact plane; wall_area (2M, S) nm^2; field, field_sq (F, 2M) the mean D_n (e/nm^2) and
    D_n^2 in front of each face, or None (a run with electrostatics off, or older)."""

    step: np.ndarray
    time: np.ndarray
    density: np.ndarray
    edges: np.ndarray
    wall_area: np.ndarray
    field: np.ndarray | None
    field_sq: np.ndarray | None

    @classmethod
    def from_run(cls, run) -> "FaceProfiles | None":
        """None when the run has no ``face_density`` (no membranes, or written before it
        existed)."""
        if "face_density" not in run.observable_names:
            return None
        fd = run.observable("face_density")
        attrs = run.observable_attrs("face_density")
        step = np.asarray(fd.step)
        field_mean = field_sq = None
        if "face_field" in run.observable_names:
            ff, f2 = run.observable("face_field"), run.observable("face_field_squared")
            # (a run resumed from before the observables existed has fewer frames of them)
            common = np.intersect1d(step, np.asarray(ff.step))
            keep = np.isin(step, common)
            pick = np.isin(np.asarray(ff.step), common)
            step = step[keep]
            fd_time, fd_value = np.asarray(fd.time)[keep], np.asarray(fd.value)[keep]
            field_mean = np.asarray(ff.value)[pick]
            field_sq = np.asarray(f2.value)[pick]
        else:
            fd_time, fd_value = np.asarray(fd.time), np.asarray(fd.value)
        return cls(step, fd_time.astype(float), fd_value.astype(float),
                   np.asarray(attrs["bin_edges_nm"], dtype=float),
                   np.asarray(attrs["wall_area_nm2"], dtype=float), field_mean, field_sq)


def contact_weights(edges, fit_nm: float = CONTACT_FIT_NM,
                    degree: int = CONTACT_FIT_DEGREE) -> np.ndarray:
    """Weights w (len(edges) - 1,) with n(x = 0) = w @ bin means: the least-squares
    polynomial of ``degree`` through the bin means of the bins within ``fit_nm`` nm, each
    bin's basis the mean of x^p over the bin (so a polynomial of that degree is exact)."""
    edges = np.asarray(edges, dtype=float)
    use = int(np.searchsorted(edges, fit_nm * (1 + 1e-9), side="right")) - 1
    if use < degree + 1:
        raise ValueError(f"{use} bins within {fit_nm} nm of the contact plane; a degree-"
                         f"{degree} extrapolation needs {degree + 1}")
    lo, hi = edges[:use], edges[1:use + 1]
    basis = np.column_stack([(hi ** (p + 1) - lo ** (p + 1)) / ((p + 1) * (hi - lo))
                             for p in range(degree + 1)])
    w = np.zeros(len(edges) - 1)
    w[:use] = np.linalg.pinv(basis)[0]
    return w


# --- per-frame potentials from the density profile ------------------------------------------

@dataclass
class _Frames:
    """Per frame (from ``density``): psi(face) (F, 2M), psi(contact plane) (F, 2M, S) and
    the bulk-window mean of the face's compartment subtracted, mV; D_n from the profile
    (F, 2M) e/nm^2; step (F,), time (F,) ps; the mean over both faces of each compartment
    (F, K), as the comparison before faces could differ computed it."""

    step: np.ndarray
    time: np.ndarray
    psi_face: np.ndarray
    psi_contact: np.ndarray
    field: np.ndarray
    psi_mean_faces: np.ndarray
    bin_width: float


def _frames(m: Measurements) -> _Frames:
    cached = getattr(m, "_double_layer_frames", None)
    if cached is not None:
        return cached
    sc = m.scenario
    dens = m.run.observable("density")
    values = np.asarray(dens.value, dtype=float)  # (F, S, nbins) nm^-3
    nbins = values.shape[2]
    width = sc.box[2] / nbins
    z_bins = (np.arange(nbins) + 0.5) * width
    valences = np.array([s.valence for s in sc.species], dtype=float)
    radius = np.array([s.radius for s in sc.species])
    sheets = surface_sheets(sc)
    box, slabs, eps_w = np.array(sc.box), membrane_slabs(sc), sc.solvent_permittivity
    windows = bulk_windows(sc)
    faces = faces_of(sc)
    nf, ns, nk = len(faces), len(sc.species), len(sc.compartments)
    normal = np.array([f.normal for f in faces], dtype=float)
    z_face = np.array([f.z_nm for f in faces])
    grid = np.concatenate([z_face, z_face + normal * FIELD_PROBE_NM,
                           (z_face[:, None] + normal[:, None] * radius[None, :]).ravel()])
    comp_of_face = np.array([f.compartment for f in faces])
    out_face = np.empty((len(values), nf))
    out_contact = np.empty((len(values), nf, ns))
    out_field = np.empty((len(values), nf))
    out_mean = np.empty((len(values), nk))
    bounds = sc.compartment_bounds()
    for t, frame in enumerate(values):
        q = valences @ frame * sc.area * width
        q = q - (q.sum() + sheets[1].sum()) / q.size  # the frame's rounding: neutral
        z, qq = with_sheets(z_bins, q, sheets)
        phi = potential_profile(z, qq, box, slabs, eps_w, grid)
        window = window_mean_potentials(z, qq, box, slabs, eps_w, windows)
        ref = window[comp_of_face]
        out_face[t] = (phi[:nf] - ref) * MV_PER_KJ_MOL_E
        out_contact[t] = (phi[2 * nf:].reshape(nf, ns) - ref[:, None]) * MV_PER_KJ_MOL_E
        out_field[t] = -EPS0 * eps_w * (phi[nf:2 * nf] - phi[:nf]) / FIELD_PROBE_NM
        ends = potential_profile(z, qq, box, slabs, eps_w,
                                 np.array([b for lo_hi in bounds for b in lo_hi]))
        out_mean[t] = (ends.reshape(nk, 2).mean(axis=1) - window) * MV_PER_KJ_MOL_E
    frames = _Frames(np.asarray(dens.step), np.asarray(dens.time, dtype=float), out_face,
                     out_contact, out_field, out_mean, width)
    m._double_layer_frames = frames
    return frames


# --- contact densities and the contact-value theorem ----------------------------------------

def _series_stats(values, times) -> TimeSeriesStats | None:
    """Mean +- SE of a frame series (already cut at the equilibration); None if too short
    or not finite."""
    x = np.asarray(values, dtype=float)
    if x.size < 4 or not np.all(np.isfinite(x)):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return analyze_series(x, np.asarray(times, dtype=float), equilibration=0)


@dataclass
class FaceContact:
    """The double layer at one face, after equilibration (frame series; SE from
    :func:`analysis.statistics.analyze_series`).

    contact[s]: contact density of species s (nm^-3), None where the species has no wall
    there; total: sum over species (nm^-3); field: D_n = eps0 eps_w E.n in front of the face
    (e/nm^2); field_term: <D_n^2> / (2 eps0 eps_w kT) (nm^-3), the theorem's field term;
    pressure: total - field_term (nm^-3): P_zz / kT read at this face; psi_face, psi_contact[s]:
    potential at the face and at species s's contact plane relative to the compartment's
    bulk (mV); field_source: 'face_field' (the engine's field, sampled) or 'density profile'
    (the frames' binned charge: <D_n>^2 for <D_n^2>); bulk[s]: the compartment's bulk
    density of s over the same samples (nm^-3); excess[s]: contact - bulk frame by frame
    (nm^-3), whose SE holds the two's correlation (in a closed compartment a density mode
    that fills the middle empties the walls: adding the two SEs in quadrature would
    understate it)."""

    face: Face
    name: str
    contact: list[TimeSeriesStats | None]
    total: TimeSeriesStats | None
    field: TimeSeriesStats | None
    field_term: TimeSeriesStats | None
    pressure: TimeSeriesStats | None
    psi_face: TimeSeriesStats | None
    psi_contact: list[TimeSeriesStats | None]
    field_source: str
    n_frames: int
    bulk: list[TimeSeriesStats | None] = field(default_factory=list)
    excess: list[TimeSeriesStats | None] = field(default_factory=list)
    # per-frame series after equilibration, for the checks across faces
    _bulk_total: np.ndarray = field(repr=False, default=None)
    _total: np.ndarray = field(repr=False, default=None)
    _field_term: np.ndarray = field(repr=False, default=None)
    _time: np.ndarray = field(repr=False, default=None)


def _start_index(times, t_equil_ps) -> int:
    """The first frame at or after the run's equilibration time, leaving at least 4."""
    start = int(np.searchsorted(times, t_equil_ps - 1e-9, side="left"))
    return max(0, min(start, len(times) - 4))


def frame_means(step, values, frame_steps) -> np.ndarray:
    """The mean of a per-sample series over the samples of each frame: those after the
    previous frame's step up to and including the frame's (how ``density`` and
    ``face_density`` average), (F, ...) in the unit of ``values``."""
    step = np.asarray(step)
    values = np.asarray(values, dtype=float)
    frame_steps = np.asarray(frame_steps)
    hi = np.searchsorted(step, frame_steps, side="right")
    lo = np.concatenate([[np.searchsorted(step, frame_steps[0], side="left")], hi[:-1]])
    csum = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0)])
    n = np.maximum(hi - lo, 1).reshape((-1,) + (1,) * (values.ndim - 1))
    return (csum[hi] - csum[lo]) / n


def face_contacts(m: Measurements) -> list[FaceContact]:
    """Every face's contact densities, field and potentials (see the module docstring);
    [] without ``face_density`` (no membranes, or a run written before it existed)."""
    prof = FaceProfiles.from_run(m.run)
    if prof is None or prof.density.shape[0] < 4:
        return []
    sc = m.scenario
    kT = sc.kT
    eps_w = sc.solvent_permittivity
    w = contact_weights(prof.edges)
    with np.errstate(invalid="ignore"):
        contact = np.einsum("fksb,b->fks", prof.density, w)  # (F, 2M, S) nm^-3
    has_field = sc.electrostatics.method != "off"
    frames = _frames(m) if has_field else None
    if has_field and prof.field is not None:
        d_n, d_sq, source = prof.field, prof.field_sq, "face_field"
    elif has_field:
        pick = np.isin(frames.step, prof.step)
        d_n = frames.field[pick]
        d_sq, source = d_n ** 2, "density profile"
    else:
        d_n = d_sq = None
        source = "none (electrostatics off)"
    start = _start_index(prof.time, m.t_equil_ps)
    t = prof.time[start:]
    bc = m.run.observable("bulk_concentration")
    bulk = frame_means(bc.step, bc.value, prof.step)[start:] / PER_NM3_TO_MM  # (F, K, S)
    out = []
    for face in faces_of(sc):
        f = face.index
        walls = np.isfinite(contact[start:, f, :]).all(axis=0)
        per_species = [(_series_stats(contact[start:, f, s], t) if walls[s] else None)
                       for s in range(len(sc.species))]
        total = np.nansum(contact[start:, f, :], axis=1)
        field_term = (np.zeros_like(total) if d_sq is None
                      else d_sq[start:, f] / (2.0 * EPS0 * eps_w * kT))
        psi_face = psi_contact = None
        if frames is not None:
            pick = np.isin(frames.step, prof.step[start:])
            psi_face = _series_stats(frames.psi_face[pick, f], t)
            psi_contact = [_series_stats(frames.psi_contact[pick, f, s], t)
                           for s in range(len(sc.species))]
        k = face.compartment
        excess = [(_series_stats(contact[start:, f, s] - bulk[:, k, s], t) if walls[s]
                   else None) for s in range(len(sc.species))]
        out.append(FaceContact(
            face=face, name=face.label(sc), contact=per_species,
            bulk=[_series_stats(bulk[:, k, s], t) for s in range(len(sc.species))],
            excess=excess, _bulk_total=bulk[:, k, :].sum(axis=1),
            total=_series_stats(total, t),
            field=None if d_n is None else _series_stats(d_n[start:, f], t),
            field_term=None if d_sq is None else _series_stats(field_term, t),
            pressure=_series_stats(total - field_term, t),
            psi_face=psi_face, psi_contact=psi_contact or [None] * len(sc.species),
            field_source=source, n_frames=len(t),
            _total=total, _field_term=field_term, _time=t))
    return out


def _as_phi(osmotic_coefficient, k: int) -> tuple[float, float, str]:
    """(phi, SE, where it came from) for compartment k."""
    value = osmotic_coefficient
    if isinstance(value, dict):
        value = value.get(k)
    if value is None:
        return 1.0, 0.0, "ideal (phi = 1)"
    if isinstance(value, (tuple, list)):
        return float(value[0]), float(value[1]), "given"
    return float(value), 0.0, "given"


@dataclass
class ContactValueCheck:
    """The contact-value theorem in one compartment (module docstring, eqs. 1-2), nm^-3.

    difference: sum_s n_s^c(lower) - sum_s n_s^c(upper) (measured); field_difference:
    t_lower - t_upper (the theorem's prediction); residual: their difference frame by
    frame (the check: 0 within its SE). lower, upper: the two :class:`FaceContact`.
    n_bulk, n_bulk_se: total bulk number density of the compartment (nm^-3); phi, phi_se,
    phi_source: the osmotic coefficient used for the absolute form; pressure: the mean of
    the two faces' sum n^c - t, frame by frame (P_zz/kT from the walls), against
    phi n_bulk; pressure_residual: pressure - phi n_bulk frame by frame (its SE holds the
    correlation of walls and bulk; phi's own SE is added by :attr:`pressure_residual_se`);
    correlation_bound: :func:`lateral_correlation_bound` for this compartment's membranes
    (nm^-3, the size of what the model's check leaves out)."""

    compartment: int
    name: str
    lower: FaceContact
    upper: FaceContact
    difference: TimeSeriesStats | None
    field_difference: TimeSeriesStats | None
    residual: TimeSeriesStats | None
    n_bulk: float
    n_bulk_se: float
    phi: float
    phi_se: float
    phi_source: str
    pressure: TimeSeriesStats | None
    pressure_residual: TimeSeriesStats | None
    correlation_bound: float
    pores: bool

    @property
    def equal_faces(self) -> bool:
        return self.lower.face.sigma == self.upper.face.sigma

    @property
    def pressure_reference(self) -> float:
        """phi n_bulk (nm^-3)."""
        return self.phi * self.n_bulk

    @property
    def pressure_reference_se(self) -> float:
        return math.hypot(self.phi_se * self.n_bulk, self.phi * self.n_bulk_se)

    @property
    def pressure_residual_se(self) -> float:
        """SE of pressure - phi n_bulk: the frame series' and phi's (nm^-3)."""
        r = self.pressure_residual
        return math.hypot(r.sem if r else math.nan, self.phi_se * self.n_bulk)


def lateral_correlation_bound(thickness_nm: float, lx_nm: float, ly_nm: float,
                              n_max: int = 64) -> float:
    """Upper bound (nm^-3, a pressure over kT) on the mean force per area between the ions
    on the two sides of a membrane through the laterally varying Coulomb part: two ideal
    conducting sheets thickness_nm apart, classical (zero-frequency) fluctuation force
    summed over the box's lateral wavevectors,
    P/kT = (1/A) sum_{k != 0} k e^{-2kd} / (1 - e^{-2kd}) (-> zeta(3) / (8 pi d^3) for an
    infinite box)."""
    n = np.arange(-n_max, n_max + 1)
    kx, ky = np.meshgrid(2 * np.pi * n / lx_nm, 2 * np.pi * n / ly_nm, indexing="ij")
    k = np.hypot(kx, ky).ravel()
    k = k[k > 0]
    e = np.exp(-2.0 * k * thickness_nm)
    return float(np.sum(k * e / (1.0 - e)) / (lx_nm * ly_nm))


def contact_value_checks(m: Measurements, osmotic_coefficient=None,
                         contacts: list[FaceContact] | None = None) -> list[ContactValueCheck]:
    """The contact-value theorem in every compartment (module docstring).

    osmotic_coefficient: phi for the absolute form's bulk pressure phi kT n_bulk; None for
    ideal ions (phi = 1, stated so), a float, a (phi, SE) pair, or a dict compartment index
    -> either (a missing compartment is ideal)."""
    contacts = face_contacts(m) if contacts is None else contacts
    if not contacts:
        return []
    sc = m.scenario
    by_index = {c.face.index: c for c in contacts}
    out = []
    for k, comp in enumerate(sc.compartments):
        f_lo, f_hi = compartment_faces(sc, k)
        lo, hi = by_index[f_lo], by_index[f_hi]
        t = lo._time
        diff = lo._total - hi._total
        fdiff = lo._field_term - hi._field_term
        pressure = 0.5 * ((lo._total - lo._field_term) + (hi._total - hi._field_term))
        n_b = _series_stats(lo._bulk_total, t)
        phi, phi_se, source = _as_phi(osmotic_coefficient, k)
        mems = sorted({lo.face.membrane, hi.face.membrane})
        bound = max(lateral_correlation_bound(
            sc.membranes[j].thickness + 2 * min(s.radius for s in sc.species),
            sc.box[0], sc.box[1]) for j in mems)
        names = {s.name for s in sc.species}
        pores = any(set(ch.permeant) & names for j in mems for ch in sc.membranes[j].channels)
        out.append(ContactValueCheck(
            k, comp.name, lo, hi, _series_stats(diff, t), _series_stats(fdiff, t),
            _series_stats(diff - fdiff, t),
            n_b.mean if n_b else math.nan, n_b.sem if n_b else math.nan,
            phi, phi_se, source, _series_stats(pressure, t),
            _series_stats(pressure - phi * lo._bulk_total, t), bound, pores))
    return out


# --- Gouy-Chapman -----------------------------------------------------------------------------

@dataclass
class FaceDoubleLayer:
    """A charged double layer against Gouy-Chapman: measured psi_face (mV, mean +- SE).

    name: the compartment's name (both its faces, one sigma) or '<compartment>_<lower|
    upper>' (one face of a compartment whose faces differ); faces: which of the
    compartment's faces ('lower', 'upper'); sigma e/nm^2; c0_mM the measured bulk cation
    concentration; the reference and its uncertainty (Stern-gap ambiguity) in mV."""

    compartment: int
    name: str
    sigma_e_per_nm2: float
    c0_mM: float
    measured: TimeSeriesStats
    theory: GouyChapman
    reference_mV: float
    reference_se_mV: float
    stern_gap_mV: float
    window_tail_mV: float
    faces: tuple[str, ...] = ("lower", "upper")


def _stern_gap_mV(sigma, radius_nm, eps_w):
    return sigma * radius_nm / (EPS0 * eps_w) * MV_PER_KJ_MOL_E


def face_double_layers(m: Measurements) -> list[FaceDoubleLayer]:
    """The double layer of every compartment's charged faces against Gouy-Chapman (see the
    module docstring): one row for a compartment whose faces carry one sigma, one per
    charged face where they differ."""
    sc = m.scenario
    if sc.electrostatics.method == "off" or not sc.membranes:
        return []
    if any(abs(s.valence) != 1 for s in sc.species):
        raise ValueError("the Gouy-Chapman comparison here is for monovalent ions only")
    frames = _frames(m)
    faces = faces_of(sc)
    eps_w = sc.solvent_permittivity
    windows = bulk_windows(sc)
    results = []
    for k, (lo, hi) in enumerate(sc.compartment_bounds()):
        f_lo, f_hi = compartment_faces(sc, k)
        s_lo, s_hi = faces[f_lo].sigma, faces[f_hi].sigma
        if s_lo == 0.0 and s_hi == 0.0:
            continue
        cations = [s for s, sp in enumerate(sc.species) if sp.valence > 0]
        weights = [m.bulk_mM[k, s].mean for s in cations]
        c0 = float(sum(weights))
        a_mean = float(np.average([sc.species[s].radius for s in cations], weights=weights))
        a_lo = min(sc.species[s].radius for s in cations)
        a_hi = max(sp.radius for sp in sc.species)
        w_lo, w_hi = windows[k]
        x = np.linspace(w_lo, w_hi, 201)
        theories = {side: gouy_chapman(sigma, c0, sc.temperature, eps_w)
                    for side, sigma in (("lower", s_lo), ("upper", s_hi))}
        tail = float(np.mean(theories["lower"].potential_mV(np.clip(x - lo - a_mean, 0, None))
                             + theories["upper"].potential_mV(np.clip(hi - a_mean - x, 0,
                                                                      None))))
        if s_lo == s_hi:
            rows = [(sc.compartments[k].name, ("lower", "upper"), s_lo,
                     frames.psi_mean_faces[:, k])]
        else:
            rows = [(f"{sc.compartments[k].name}_{side}", (side,), sigma,
                     frames.psi_face[:, f])
                    for side, sigma, f in (("lower", s_lo, f_lo), ("upper", s_hi, f_hi))
                    if sigma != 0.0]
        for name, sides, sigma, series in rows:
            stats = analyze_series(series, frames.time, equilibration="auto")
            theory = theories[sides[0]]
            gap = _stern_gap_mV(sigma, a_mean, eps_w)
            gap_se = 0.5 * abs(_stern_gap_mV(sigma, a_hi - a_lo, eps_w))
            reference = theory.surface_potential_mV + gap - tail
            results.append(FaceDoubleLayer(k, name, sigma, c0, stats, theory, reference,
                                           gap_se, gap, tail, sides))
    return results


# --- words and tables -------------------------------------------------------------------------

def describe(layer: FaceDoubleLayer) -> str:
    """One line: measured against Gouy-Chapman, with the corrections."""
    st = layer.measured
    return (f"{layer.name}: psi_face {st.mean:+.2f} +/- {st.sem:.2f} mV against Gouy-Chapman "
            f"{layer.reference_mV:+.2f} +/- {layer.reference_se_mV:.2f} mV (psi_0 "
            f"{layer.theory.surface_potential_mV:+.2f}, Stern gap {layer.stern_gap_mV:+.2f}, "
            f"window tail {layer.window_tail_mV:+.2f}; c0 {layer.c0_mM:.1f} mM, lambda_D "
            f"{layer.theory.debye_length_nm:.2f} nm, sigma {layer.sigma_e_per_nm2:+.3g} "
            f"e/nm^2)")


def _mM(st: TimeSeriesStats | None, digits: int = 1, sign: bool = False) -> str:
    if st is None:
        return "n/a"
    return fmt_pm(st.mean * PER_NM3_TO_MM, st.sem * PER_NM3_TO_MM, digits, "mM", sign)


def describe_contact(c: FaceContact, species_names) -> str:
    """One line: a face's contact densities, field and potentials."""
    dens = ", ".join(f"{n} {_mM(st)}" for n, st in zip(species_names, c.contact)
                     if st is not None)
    field_txt = (fmt_pm(c.field.mean, c.field.sem, 4, "e/nm^2", True) if c.field else "n/a")
    psi = (fmt_pm(c.psi_face.mean, c.psi_face.sem, 2, "mV", True) if c.psi_face else "n/a")
    return (f"{c.name}: sigma {c.face.sigma:+.3g} e/nm^2, D_n {field_txt}; contact {dens}; "
            f"sum {_mM(c.total)}, field term {_mM(c.field_term)}; psi(face) {psi}")


def describe_check(ch: ContactValueCheck) -> str:
    """One line: the face-difference form and the absolute form."""
    r = ch.residual
    dev = (r.mean / r.sem) if r is not None and r.sem > 0 else math.nan
    p, pr = ch.pressure, ch.pressure_residual
    ref, ref_se = ch.pressure_reference, ch.pressure_reference_se
    p_dev = (pr.mean / ch.pressure_residual_se) if pr is not None and \
        ch.pressure_residual_se > 0 else math.nan
    return (f"{ch.name}: sum n_c(lower) - sum n_c(upper) {_mM(ch.difference, 1, True)} "
            f"against eps0 eps_w (E_lower^2 - E_upper^2)/(2kT) "
            f"{_mM(ch.field_difference, 1, True)} (residual {_mM(r, 1, True)}, "
            f"{dev:+.1f} SE); P_zz/kT from the walls {_mM(p)} against phi n_bulk "
            f"{fmt_pm(ref * PER_NM3_TO_MM, ref_se * PER_NM3_TO_MM, 1, 'mM')} "
            f"({p_dev:+.1f} SE; phi {ch.phi_source}"
            + (f" {ch.phi:.3f}" if ch.phi_source != "ideal (phi = 1)" else "")
            + f"; lateral correlations across the membrane < "
              f"{ch.correlation_bound * PER_NM3_TO_MM:.1f} mM"
            + ("; pores open: the difference form is not exact" if ch.pores else "") + ")")


def double_layer_tables(m: Measurements, osmotic_coefficient=None) -> list[Table]:
    """The double layers as tables for ``ionsim analyze`` and the report: contact densities
    per face, the contact-value theorem per compartment, Gouy-Chapman per charged face (a
    run written before ``face_density`` existed gets the Gouy-Chapman table only)."""
    contacts = face_contacts(m)
    sc = m.scenario
    tables = []
    if contacts:
        tables += _contact_tables(m, contacts, osmotic_coefficient)
    if sc.electrostatics.method != "off" and all(abs(s.valence) == 1 for s in sc.species):
        layers = face_double_layers(m)
        if layers:
            g = Table("Gouy-Chapman (psi(face) - psi(bulk))",
                      ["double layer", "measured", "Gouy-Chapman + Stern gap - tail",
                       "sigma (e/nm^2)", "c0 (mM)"])
            for layer in layers:
                g.add(layer.name, fmt_pm(layer.measured.mean, layer.measured.sem, 2, "mV",
                                         True),
                      fmt_pm(layer.reference_mV, layer.reference_se_mV, 2, "mV", True),
                      f"{layer.sigma_e_per_nm2:+.3g}", fmt(layer.c0_mM, 1))
            tables.append(g)
    return tables


def _contact_tables(m: Measurements, contacts, osmotic_coefficient) -> list[Table]:
    sc = m.scenario
    names = m.species_names
    t = Table("Double layers: contact densities (extrapolated to each species' contact "
              "plane, wall area only)",
              ["face", "sigma (e/nm^2)", "D_n (e/nm^2)"] + [f"{n} (mM)" for n in names]
              + ["psi(face) (mV)"])
    for c in contacts:
        t.add(c.name, f"{c.face.sigma:+.3g}",
              fmt_pm(c.field.mean, c.field.sem, 4, sign=True) if c.field else "n/a",
              *[_mM(st).replace(" mM", "") for st in c.contact],
              fmt_pm(c.psi_face.mean, c.psi_face.sem, 2, sign=True) if c.psi_face else "n/a")
    t.notes.append(f"contact density: quadratic through the first {CONTACT_FIT_NM:g} nm of "
                   f"bins, extrapolated to the contact plane; frames after "
                   f"{m.t_equil_ps / 1000:.3g} ns ({m.equilibration_source}); "
                   f"{contacts[0].n_frames} frames")
    t.notes.append("D_n = eps0 eps_w E.n in the water in front of the face (n into the "
                   f"water), from {contacts[0].field_source}; psi relative to the "
                   "compartment's bulk window")
    tables = [t]
    checks = contact_value_checks(m, osmotic_coefficient, contacts)
    if checks:
        c = Table("Contact-value theorem: kT sum n_c = P_zz + eps0 eps_w E_face^2 / 2 "
                  "(Henderson and Blum 1978)",
                  ["compartment", "n_c(lower) - n_c(upper)", "field term difference",
                   "residual (in SE)", "P_zz/kT walls", "phi n_bulk", "walls - phi n_bulk"])
        for ch in checks:
            r = ch.residual
            c.add(ch.name, _mM(ch.difference, 1, True), _mM(ch.field_difference, 1, True),
                  (_mM(r, 1, True) + (f" ({r.mean / r.sem:+.1f})" if r and r.sem > 0
                                      else "")),
                  _mM(ch.pressure),
                  fmt_pm(ch.pressure_reference * PER_NM3_TO_MM,
                         ch.pressure_reference_se * PER_NM3_TO_MM, 1, "mM"),
                  (fmt_pm(ch.pressure_residual.mean * PER_NM3_TO_MM,
                          ch.pressure_residual_se * PER_NM3_TO_MM, 1, "mM", True)
                   + f" ({ch.pressure_residual.mean / ch.pressure_residual_se:+.1f})"
                   if ch.pressure_residual and ch.pressure_residual_se > 0 else "n/a"))
        c.notes.append(f"phi: {checks[0].phi_source}; lateral correlations across a "
                       f"membrane, left out of the check, are below "
                       f"{max(ch.correlation_bound for ch in checks) * PER_NM3_TO_MM:.1f} mM")
        if any(ch.pores for ch in checks):
            c.notes.append("open pores: the face-difference form is exact only for faces "
                           "without pores (module analysis.double_layer)")
        tables.append(c)
    width = getattr(_frames(m), "bin_width", 0.0) if sc.electrostatics.method != "off" else 0
    if width > 2 * min(s.radius for s in sc.species):
        tables[0].notes.append(f"psi from density bins of {width:.3g} nm, wider than the "
                               f"smallest ion diameter: set observables.profile_bin_width "
                               f"to 0.05 nm for potentials at the contact plane")
    return tables


if __name__ == "__main__":  # pragma: no cover - a quick look at one run
    import sys

    from sim.io import RunData

    from analysis.runs import measure
    meas = measure(RunData(sys.argv[1]))
    for table in double_layer_tables(meas):
        print("\n".join(table.text()))
