"""Interoperability: a run directory opens in MDAnalysis 2.x as topology.pdb + trajectory.h5
(H5MD), and what MDAnalysis reads equals what ionsim's own reader reads.

MDAnalysis works in Angstrom and ps; ionsim writes nm and ps. Positions are float32 nm in
the file; MDAnalysis multiplies them by 10 in float32, one rounding of at most half a
float32 ulp (2**-24 relative), so positions and box edges are compared with rtol 2**-23
(atol 0). Times (float64 ps, converted by a factor 1) are compared exactly.
"""

import h5py
import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysis.topology.PDBParser import hy36decode

from sim.io import RunData, write_scenario
from sim.run import run_scenario
from sim.topology import TOPOLOGY, hybrid36, pdb_text
from tests.scenario_factory import bulk, scenario

NM = 10.0  # Angstrom per nm
FLOAT32_RTOL = 2.0 ** -23
PDB_ATOL = 0.0005 + 1e-4  # A: 3 decimals in the PDB, plus the float32 frame it is held to
STEPS, FRAME = 200, 50

# Five species, one of each naming case: element with one letter, two letters, a
# divalent ion whose atom name must not read as an alpha carbon, and a generic ion.
COMPARTMENTS = [
    {"name": "inside", "depth": "4 nm", "concentrations": {"K+": "150 mM", "A-": "150 mM"}},
    {"name": "outside", "depth": "4 nm",
     "concentrations": {"Na+": "100 mM", "K+": "20 mM", "Ca2+": "20 mM", "Cl-": "160 mM"}},
]
# (atom and residue name, element as MDAnalysis reports it) per species: the naming rule of
# sim/topology.py, written out
EXPECTED = {"K+": ("K", "K"), "Na+": ("NA", "Na"), "Cl-": ("CL", "Cl"),
            "Ca2+": ("CA", "Ca"), "A-": ("A", "")}

# A- is no element: MDAnalysis warns of its empty element and of its unknown mass
pytestmark = [pytest.mark.filterwarnings("ignore:Unknown element:UserWarning"),
              pytest.mark.filterwarnings("ignore:Unknown masses:PendingDeprecationWarning")]


def _scenario(steps=STEPS, **run):
    return scenario(compartments=COMPARTMENTS,
                    run={"dt": "0.05 ps", "steps": steps, "seed": 3, "sample_interval": 10,
                         "frame_interval": FRAME, **run})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A default run (electrostatics off, 8 x 8 x 14 nm) with 5 frames."""
    out = tmp_path_factory.mktemp("mda") / "run"
    run_scenario(_scenario(), out)
    return out


def _universe(run_dir):
    # MDAnalysis picks readers by extension and does not know ".h5": name the format.
    return mda.Universe(str(run_dir / TOPOLOGY), str(run_dir / "trajectory.h5"),
                        format="H5MD")


def _assert_same_trajectory(run_dir):
    # ionsim's reader first: HDF5 refuses to open a file a second time in one process with
    # other locking flags, and MDAnalysis holds it open (with locking) until closed.
    run = RunData(run_dir)
    positions = run.positions()
    u = _universe(run_dir)
    try:
        assert u.atoms.n_atoms == run.species.size
        assert u.trajectory.n_frames == run.n_frames == len(positions)
        box = np.array([*(run.box * NM), 90.0, 90.0, 90.0])
        for ts in u.trajectory:
            np.testing.assert_allclose(ts.positions, positions[ts.frame] * NM,
                                       rtol=FLOAT32_RTOL, atol=0)
            assert ts.time == run.frame_times[ts.frame]
            assert ts.data["step"] == run.frame_steps[ts.frame]
            np.testing.assert_allclose(ts.dimensions, box, rtol=FLOAT32_RTOL, atol=0)
    finally:
        u.trajectory.close()
    return run, u


def test_mdanalysis_reads_positions_times_and_box(run_dir):
    run, u = _assert_same_trajectory(run_dir)
    assert run.n_frames == STEPS // FRAME + 1
    np.testing.assert_array_equal(run.box, run.scenario.box)
    for s, name in enumerate(run.species_names):
        atoms = u.atoms[run.species == s]
        assert len(atoms) > 0, name  # every species is in the run
        label, element = EXPECTED[name]
        assert set(atoms.names) == {label} and set(atoms.resnames) == {label}, name
        assert set(atoms.elements) == {element}, name
        assert set(atoms.formalcharges) == {run.scenario.species[s].valence}, name


def test_the_pdb_alone_has_the_atoms_and_the_box(run_dir):
    run = RunData(run_dir)
    u = mda.Universe(str(run_dir / TOPOLOGY))
    assert u.atoms.n_atoms == run.species.size
    assert [EXPECTED[run.species_names[s]][0] for s in run.species] == list(u.atoms.names)
    np.testing.assert_allclose(u.dimensions, [*(np.array(run.scenario.box) * NM), 90, 90, 90],
                               rtol=FLOAT32_RTOL, atol=0)
    # the PDB holds the initial positions, which frame 0 holds in float32
    np.testing.assert_allclose(u.atoms.positions, run.positions(0) * NM, rtol=0,
                               atol=PDB_ATOL)
    assert len(u.residues) == u.atoms.n_atoms  # each ion its own residue
    assert list(u.segments.segids) == ["ION"]
    lines = (run_dir / TOPOLOGY).read_text().splitlines()
    assert any(line.startswith("CRYST1") for line in lines)
    calcium = next(line for line in lines if line.startswith("HETATM") and " CA " in line)
    # a two-letter element starts in column 13 (PDB's alignment): calcium, not C-alpha
    assert calcium[12:16] == "CA  " and calcium[76:78] == "CA" and calcium[78:80] == "2+"


def test_serial_numbers_beyond_99999_atoms(tmp_path):
    """Hybrid-36 serials: MDAnalysis decodes them, and its wrap of residue numbers at 10000
    gives every ion its own residue, numbered 1..N."""
    for v in (1, 99999, 100000, 100001, 10**5 + 26 * 36**4 - 1, 10**5 + 26 * 36**4,
              10**5 + 52 * 36**4 - 1):
        assert len(hybrid36(v, 5)) == 5 and hy36decode(5, hybrid36(v, 5)) == v
    with pytest.raises(ValueError):
        hybrid36(10**5 + 52 * 36**4, 5)
    sc = bulk(species=("K+", "Cl-"))  # elements only: MDAnalysis guesses every mass
    n = 100_003
    rng = np.random.default_rng(0)
    species = rng.integers(0, len(sc.species), n)
    pos = rng.random((n, 3)) * sc.box
    path = tmp_path / "big.pdb"
    path.write_text(pdb_text(sc, species, pos))
    u = mda.Universe(str(path))
    assert u.atoms.n_atoms == n
    np.testing.assert_array_equal(u.atoms.ids, np.arange(1, n + 1))
    np.testing.assert_array_equal(u.residues.resids, np.arange(1, n + 1))
    np.testing.assert_allclose(u.atoms.positions[-3:], pos[-3:] * NM, rtol=0, atol=PDB_ATOL)


def test_resume_trims_the_box_series_with_the_frames(tmp_path):
    """A run killed after its checkpoint at step 200 and resumed: the box series has one
    value per frame, at the frames' steps and times, and MDAnalysis reads it."""
    full = _scenario(steps=400, checkpoint_interval=100)
    b = tmp_path / "b"
    run_scenario(full.with_run(steps=200), b)
    write_scenario(b, full)
    run_scenario(full, b, resume=True)
    with h5py.File(b / "trajectory.h5", "r") as f:
        pos, edges = f["particles/ions/position"], f["particles/ions/box/edges"]
        np.testing.assert_array_equal(edges["step"][:], pos["step"][:])
        np.testing.assert_array_equal(edges["time"][:], pos["time"][:])
        assert edges["value"].shape == (pos["step"].shape[0], 3)
        assert edges["value"].attrs["unit"] == "nm"
        np.testing.assert_array_equal(edges["value"][:],
                                      np.broadcast_to(full.box, edges["value"].shape))
    assert list(RunData(b).frame_steps) == list(range(0, 401, FRAME))
    _assert_same_trajectory(b)


def test_a_fixed_box_dataset_is_still_read_and_converted_on_resume(tmp_path):
    """Files written before the box was a time series hold box/edges as one (3,) dataset:
    RunData reads it, and a resume converts it to the series (so MDAnalysis reads it)."""
    full = _scenario(steps=300, checkpoint_interval=100)
    b = tmp_path / "old"
    run_scenario(full.with_run(steps=200), b)
    with h5py.File(b / "trajectory.h5", "r+") as f:  # the old layout
        box = f["particles/ions/box"]
        del box["edges"]
        box.create_dataset("edges", data=np.array(full.box)).attrs["unit"] = "nm"
    np.testing.assert_array_equal(RunData(b).box, full.box)
    write_scenario(b, full)
    run_scenario(full, b, resume=True)
    with h5py.File(b / "trajectory.h5", "r") as f:
        edges = f["particles/ions/box/edges"]
        assert isinstance(edges, h5py.Group)
        np.testing.assert_array_equal(edges["step"][:], f["particles/ions/position/step"][:])
    _assert_same_trajectory(b)
