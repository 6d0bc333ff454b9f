"""What sets the crossings per ns of a run: the permeant ion's profile along its pores.

    python bench/pore_permeation.py RUN_DIR [--species K+] [--probes 40]

For a run of two membranes with one kind of pore (the flagship, `ionsim run
scenarios/potassium.yaml`; for `--replicas`, one replica's directory), from its frames
after the equilibration:

- the species' density c(zeta) along the pores (zeta: depth from the face that touches
  compartment 0, "inside"; area: the pores' cross-section open to the ion's centre,
  pi (r - a)^2 each), against non-interacting ions in a potential linear across the
  membrane, c_0 exp(-u zeta / L) with u = ln(c_0 / c_1) of the measured bulks;
- the one-way rate each profile gives, D A / int dzeta / c(zeta) (Smoluchowski: the
  equilibrium one-way flux through a 1-D free-energy profile, the pore resistance of
  analysis.selectivity's model; for the linear potential it is GHK's
  P c_1 u / (1 - exp(-u)) with P = D / L), against the crossings the run counted each way
  per ns;
- the energy terms (sim.simulation.ForceField) of one ion of the species moved from the
  middle of compartment 0 to points on a pore's axis, in kT, over `--probes` frames, and
  how the membrane term's bow at mid-pore (its value there minus the mean of its two ends)
  grows with the number of the species' ions already in that membrane, and what it is
  with those ions moved back into compartment 0 (the control; a lone ion's charging energy
  (e^2 / 2C)(f - f^2 / 2), C one membrane's capacitance, bows by e^2 / 16C).

Prints JSON. Units: nm, ns, mM, kT.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BINS = 12


def depth_in_membranes(z, sc):
    """Depth (nm) of each position below the membrane face touching compartment 0, NaN
    outside the membranes; one column per membrane."""
    out = []
    for j, (lo, hi) in enumerate(sc.membrane_bounds()):
        inside_below = sc.face_compartment(j, 0) == 0
        zeta = z - lo if inside_below else hi - z
        out.append(np.where((z > lo) & (z < hi), zeta, np.nan))
    return out


def one_way_rate(c_mM, dz, diffusion, area):
    """D A / int dz / c (per ns) for c (mM) on bins of width dz (nm), diffusion D in
    nm^2/ns and the pores' open area A in nm^2."""
    from sim.units import PER_NM3_TO_MM
    return float(diffusion * area / (dz * np.sum(PER_NM3_TO_MM / c_mM)))


def profile(sc, pos, species, s_index, bulk_mM):
    """The species' density along the pores against the non-interacting linear profile."""
    from analysis.selectivity import open_area
    area = float(sum(open_area(sc, j, sc.species[s_index].name)
                     for j in range(len(sc.membranes))))
    thickness = sc.membranes[0].thickness
    dz = thickness / BINS
    z = pos[:, :, 2][:, species == s_index]
    counts = np.zeros((z.shape[0], BINS))
    for zeta in depth_in_membranes(z, sc):
        for k in range(z.shape[0]):
            row = zeta[k][~np.isnan(zeta[k])]
            counts[k] += np.histogram(row, bins=BINS, range=(0.0, thickness))[0]
    from sim.units import PER_NM3_TO_MM
    to_mM = PER_NM3_TO_MM / (area * dz)
    c = counts.mean(axis=0) * to_mM
    blocks = np.array([b.mean(axis=0) for b in np.array_split(counts, 10)]) * to_mM
    c_se = blocks.std(axis=0, ddof=1) / np.sqrt(len(blocks))
    u = float(np.log(bulk_mM[0] / bulk_mM[1]))
    mid = (np.arange(BINS) + 0.5) * dz
    linear = bulk_mM[0] * np.exp(-u * mid / thickness)
    d = sc.species[s_index].diffusion * 1e3  # nm^2/ns
    return {
        "open_area_nm2": area, "u": u,
        "ions_in_pores": float(counts.sum(axis=1).mean()),
        "ions_in_pores_linear": float(linear.sum() / to_mM),
        "zeta_nm": mid.round(3).tolist(), "c_mM": c.round(2).tolist(),
        "c_se_mM": c_se.round(2).tolist(), "c_linear_mM": linear.round(2).tolist(),
        "excess_free_energy_kT": (-np.log(np.maximum(c, 1e-12) / linear)).round(2).tolist(),
        "one_way_per_ns_from_profile": one_way_rate(c, dz, d, area),
        "one_way_per_ns_linear": one_way_rate(linear, dz, d, area),
    }


def crossings_per_ns(crossings, s_index, t0_ps, t1_ps):
    """Crossings of the species each way per ns after t0 (out of compartment 0, into it);
    crossings: sim.io.RunData.crossings."""
    keep = (crossings["time"] >= t0_ps) & (crossings["species"] == s_index)
    span_ns = (t1_ps - t0_ps) / 1e3
    return {"out": float(np.sum(keep & (crossings["from"] == 0)) / span_ns),
            "in": float(np.sum(keep & (crossings["to"] == 0)) / span_ns)}


def membrane_bow(sim, p, i, at, kt):
    """The membrane term (kT) at mid-pore less the mean at the two faces for ion i at the
    three points `at` (face, middle, face) of a pore's axis."""
    e = []
    for point in at:
        q = p.copy()
        q[i] = point
        e.append(sim.force_field.evaluate(q)["membrane_dielectric"] / kt)
    return e[1] - 0.5 * (e[0] + e[2])


def emptied_slabs(sc, p, species, s_index, rng):
    """The frame with the species' ions in any membrane moved to compartment 0's middle
    plane (at random x, y): the control without the ions that sit in the pores."""
    lo0, hi0 = sc.compartment_bounds()[0]
    q = p.copy()
    for lo, hi in sc.membrane_bounds():
        for j in np.nonzero((species == s_index) & (q[:, 2] > lo) & (q[:, 2] < hi))[0]:
            q[j] = (rng.uniform(0, sc.box[0]), rng.uniform(0, sc.box[1]), 0.5 * (lo0 + hi0))
    return q


def probe_energies(sc, pos, species, s_index, probes, seed=0):
    """Energy terms (kT) of one ion moved from compartment 0's middle onto a pore's axis."""
    from sim.simulation import Simulation
    from sim.units import kT
    sim = Simulation(sc)
    kt = kT(sc.temperature)
    lo0, hi0 = sc.compartment_bounds()[0]
    (lo, hi), = sc.membrane_bounds()[:1]
    inside_below = sc.face_compartment(0, 0) == 0
    thickness = hi - lo
    zetas = np.linspace(0.0, thickness, 13)
    zetas[0], zetas[-1] = 0.05, thickness - 0.05  # just inside the faces
    channels = sc.membranes[0].channels
    rng = np.random.default_rng(seed)
    picks = np.linspace(0, len(pos) - 1, min(probes, len(pos))).astype(int)
    names, rows, in_slab, bow_emptied = None, [], [], []
    for k in picks:
        p = pos[k].copy()
        third = (hi0 - lo0) / 3
        cand = np.nonzero((species == s_index) & (p[:, 2] > lo0 + third)
                          & (p[:, 2] < hi0 - third))[0]
        if len(cand) == 0:
            continue
        i = rng.choice(cand)
        e0 = sim.force_field.evaluate(p)
        names = list(e0)
        ch = channels[rng.integers(len(channels))]
        row = []
        for zt in zetas:
            q = p.copy()
            q[i] = (ch.x, ch.y, lo + zt if inside_below else hi - zt)
            e = sim.force_field.evaluate(q)
            row.append([(e[n] - e0[n]) / kt for n in names])
        rows.append(row)
        in_slab.append(int(np.sum((species == s_index) & (p[:, 2] > lo) & (p[:, 2] < hi))))
        ends = [(ch.x, ch.y, lo + zt if inside_below else hi - zt)
                for zt in (zetas[0], thickness / 2, zetas[-1])]
        bow_emptied.append(membrane_bow(sim, emptied_slabs(sc, p, species, s_index, rng), i,
                                        ends, kt))
    du = np.array(rows)  # probes, zetas, terms
    membrane = du[:, :, names.index("membrane_dielectric")]
    mid = len(zetas) // 2
    bow = membrane[:, mid] - 0.5 * (membrane[:, 0] + membrane[:, -1])
    bow_emptied = np.array(bow_emptied)
    in_slab = np.array(in_slab)
    by_count = {str(n): {"probes": int(np.sum(in_slab == n)),
                         "bow_kT": float(bow[in_slab == n].mean())}
                for n in sorted(set(in_slab.tolist()))}
    return {
        "probes": len(rows), "zeta_nm": zetas.round(3).tolist(),
        "mean_delta_U_kT": {n: du[:, :, j].mean(axis=0).round(2).tolist()
                            for j, n in enumerate(names)},
        "membrane_bow_at_mid_kT": {
            "as_is": [float(bow.mean()), float(bow.std(ddof=1) / np.sqrt(len(bow)))],
            "slabs_emptied": [float(bow_emptied.mean()),
                              float(bow_emptied.std(ddof=1) / np.sqrt(len(bow_emptied)))]},
        "membrane_bow_at_mid_kT_by_ions_in_membrane": by_count,
        "bow_correlation_with_ions_in_membrane": float(np.corrcoef(in_slab, bow)[0, 1])
        if len(set(in_slab.tolist())) > 1 else None,
    }


def _refuse(message):
    print(f"pore_permeation: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--species", default="K+")
    p.add_argument("--probes", type=int, default=40)
    args = p.parse_args()
    from analysis.runs import measure, open_run
    from sim.errors import UserError
    try:
        run = open_run(args.run_dir)
    except UserError as err:
        _refuse(f"{err} (for --replicas, give one replica's directory, e.g. "
                f"runs/potassium/p000-r000)")
    sc = run.scenario
    if (len(sc.membranes) != 2 or not all(m.channels for m in sc.membranes)
            or sc.membranes[0].thickness != sc.membranes[1].thickness):
        _refuse(f"{run.dir / 'scenario.yaml'}: membranes: two of one thickness, each with "
                f"channels, are needed")
    if args.species not in run.species_names:
        _refuse(f"--species {args.species}: not simulated in this run (accepted: "
                f"{', '.join(run.species_names)})")
    s_index = sc.species_index(args.species)
    m = measure(run)
    t_eq = m.t_equil_ps
    frames = np.nonzero(run.frame_times >= t_eq)[0]
    pos, t = run.positions(frames), run.frame_times[frames]
    species = run.species
    rates = crossings_per_ns(run.crossings, s_index, t_eq, float(t[-1]))
    bulk_mM = np.array([m.bulk_mM[k, s_index].mean for k in range(2)])
    print(json.dumps({
        "run": str(run.dir), "species": args.species, "frames": int(len(t)),
        "equilibration_ps": t_eq, "bulk_mM": bulk_mM.round(2).tolist(),
        "crossings_per_ns_each_way": rates,
        "profile": profile(sc, pos, species, s_index, bulk_mM),
        "probe": probe_energies(sc, pos, species, s_index, args.probes),
    }, indent=1))


if __name__ == "__main__":
    main()
