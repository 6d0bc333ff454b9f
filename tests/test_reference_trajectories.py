"""The engine reproduces, bit for bit, short trajectories recorded from main before the loop
and the Brownian step were restructured (tests/reference_trajectories.py): positions at
every frame, the energies and every crossing event."""

import numpy as np
import pytest

from tests.reference_trajectories import CASES, FIXTURES, record


@pytest.mark.parametrize("case", sorted(CASES))
def test_trajectory_is_bit_identical_to_the_recorded_one(case):
    with np.load(FIXTURES / f"trajectory_{case}.npz") as ref:
        expected = {k: ref[k] for k in ref.files}
    got = record(case)
    assert list(got["energy_names"]) == list(expected["energy_names"])
    assert np.array_equal(got["positions"], expected["positions"])
    assert np.array_equal(got["energies"], expected["energies"])
    assert np.array_equal(got["crossings"], expected["crossings"])
    if case != "lm_ewald":
        assert len(expected["crossings"]) >= 10  # the test sees crossing detection work
