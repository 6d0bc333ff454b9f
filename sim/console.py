"""What ionsim shows on a terminal: the one rule for progress bars."""

from __future__ import annotations

import os
import sys


def show_progress(quiet: bool) -> bool:
    """Progress bars on an interactive terminal only, never in CI (``CI`` set) or with
    --quiet."""
    return not quiet and sys.stderr.isatty() and not os.environ.get("CI")
