"""Density profiles along z and the mean potential profile phi_bar(z): the double layers.

The engine writes the ``density`` observable: for each frame, the number density of each
species in z-bins (width ``bin_width_nm`` from z = 0), averaged over the samples taken since
the previous frame. :class:`Profiles` averages those frames over the equilibrated part of the
run (each frame weighted by the number of samples it holds, so the result is the average over
every sample after equilibration) and turns the mean charge density into the laterally
averaged potential by the 1-D Poisson equation with the membranes' low permittivity,

    d/dz ( eps0 eps(z) dphi_bar/dz ) = -rho_bar(z),   periodic in z,

the same problem the engine solves for V_m. Each bin's mean charge, q_b = A w sum_s z_s
rho_s,b, is a charge sheet at the bin centre and the equation is solved exactly for those
sheets by :func:`sim.forces.membrane_field.potential_profile` (piecewise linear between
sheets). Placing each bin's charge at its centre displaces it by at most w/2, so the potential
is accurate to about (w/2) |E|; V_m from the profile agrees with the time average of the
V_m observable to that accuracy. The gauge puts the outside bulk window at 0 mV, so the
inside bulk window reads V_m directly.

Usage (freud style)::

    prof = Profiles().compute(measurements)
    prof.z_nm, prof.density_mM, prof.phi_mV, prof.vm_from_profile_mV
    analysis.plots.plot_profiles(prof)  # the plot: presentation, a layer above
"""

from __future__ import annotations

import math

import numpy as np

from sim.electrostatics import membrane_slabs, surface_sheets
from sim.forces.membrane_field import potential_profile, window_mean_potentials, with_sheets
from sim.observe import bulk_windows
from sim.units import MV_PER_KJ_MOL_E, PER_NM3_TO_MM

from analysis.runs import INSIDE, OUTSIDE, Measurements

__all__ = ["Profiles"]


class Profiles:
    """Time-averaged density and potential profiles of a run.

    Args:
        start_ps: average frames from this time on (ps); default: the equilibration time of
            the measurements.
        grid_per_bin: points of the potential grid per density bin.
    """

    def __init__(self, start_ps: float | None = None, grid_per_bin: int = 4):
        self.start_ps = start_ps
        self.grid_per_bin = int(grid_per_bin)
        self._done = False

    def _need(self):
        if not self._done:
            raise RuntimeError("Profiles: call compute() first")

    def compute(self, m: Measurements) -> "Profiles":
        """Average the density frames and solve for phi_bar. Returns self."""
        run, sc = m.run, m.scenario
        dens = run.observable("density")
        values = np.asarray(dens.value, dtype=float)  # (F, S, nbins) nm^-3
        steps = np.asarray(dens.step)
        if values.shape[0] == 0:
            raise ValueError(f"{run.dir}: no density frames")
        nbins = values.shape[2]
        width = sc.box[2] / nbins
        start = m.t_equil_ps if self.start_ps is None else self.start_ps
        # samples averaged in each frame: 1 for the first, the steps since the previous
        # frame over the sample interval for the others
        weights = np.empty(steps.size)
        weights[0] = 1.0
        weights[1:] = np.diff(steps) / sc.run.sample_interval
        use = np.asarray(dens.time) >= start - 1e-9
        if not use.any():
            use[-1] = True
        w = weights[use]
        mean = np.tensordot(w, values[use], axes=(0, 0)) / w.sum()  # (S, nbins) nm^-3
        self.n_samples = int(round(w.sum()))
        self.start_ps_used = float(np.asarray(dens.time)[use][0])
        self.bin_width_nm = width
        self.z_nm = (np.arange(nbins) + 0.5) * width
        self.density_nm3 = mean
        self.density_mM = mean * PER_NM3_TO_MM
        self.species_names = list(m.species_names)
        self.membrane_bounds = list(sc.membrane_bounds())
        self.windows_nm = bulk_windows(sc)
        self.phi_mV = self.z_grid_nm = self.vm_from_profile_mV = None
        self.window_potentials_mV = None
        valences = np.array(m.valences, dtype=float)
        if sc.membranes and sc.electrostatics.method != "off":
            sheets = surface_sheets(sc)
            q = valences @ mean * sc.area * width  # e per bin
            # the residue of float averaging, spread evenly (the ions balance the sheets)
            q = q - (q.sum() + sheets[1].sum()) / q.size
            z, q = with_sheets(self.z_nm, q, sheets)
            slabs = membrane_slabs(sc)
            box = np.array(sc.box)
            eps_w = sc.solvent_permittivity
            self.z_grid_nm = np.linspace(0.0, sc.box[2], nbins * self.grid_per_bin + 1)
            phi = potential_profile(z, q, box, slabs, eps_w, self.z_grid_nm)
            win = window_mean_potentials(z, q, box, slabs, eps_w, self.windows_nm)
            ref = win[OUTSIDE] if len(win) > 1 else 0.0
            self.phi_mV = (phi - ref) * MV_PER_KJ_MOL_E
            self.window_potentials_mV = (win - ref) * MV_PER_KJ_MOL_E
            if len(win) > 1:
                self.vm_from_profile_mV = float((win[INSIDE] - win[OUTSIDE])
                                                * MV_PER_KJ_MOL_E)
        self._done = True
        return self

    @property
    def has_potential(self) -> bool:
        self._need()
        return self.phi_mV is not None

    def __repr__(self) -> str:
        if not self._done:
            return "Profiles(not computed)"
        vm = self.vm_from_profile_mV
        return (f"Profiles({len(self.z_nm)} bins of {self.bin_width_nm:.3g} nm, "
                f"{self.n_samples} samples, V_m from profile "
                f"{'n/a' if vm is None or not math.isfinite(vm) else f'{vm:+.2f} mV'})")
