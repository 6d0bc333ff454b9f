"""Reading a run's files whole, for tests that compare two runs dataset by dataset."""

from __future__ import annotations

import h5py
import numpy as np


def h5_contents(path):
    """Every dataset of an HDF5 file by name, and every object's attributes except the
    run id (which differs between any two runs)."""
    data, attrs = {}, {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            attrs[name] = {k: np.asarray(v).tolist() for k, v in obj.attrs.items()
                           if k != "run_id"}
            if isinstance(obj, h5py.Dataset):
                data[name] = obj[()]
        f.visititems(visit)
    return data, attrs
