import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("CI", "1")  # no progress bars in test output
