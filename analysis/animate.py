"""Animations of a finished run: ions leaking through channels while the membrane charges.

Run as ``ionsim animate RUN_DIR [options]`` or ``python -m analysis.animate RUN_DIR``.

This module is the command; the movie, what it shows and how it is rendered fast, is
:mod:`analysis.movie` (its names are also importable from here; ``ionsim run --animate``
calls :func:`analysis.movie.animate_run`).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from sim.errors import UserError

from analysis.animation_writers import FORMATS
from analysis.commands import run_standalone
from analysis.movie import (HIGHLIGHT_COLOR, MEMBRANE_COLOR, VIEWS, RunAnimation,  # noqa: F401
                            animate_run, default_output, parse_window, render_movie,
                            render_pngs, render_still, select_frames, species_color)

__all__ = ["animate_run", "render_movie", "render_pngs", "RunAnimation", "select_frames",
           "parse_window", "species_color", "MEMBRANE_COLOR", "VIEWS"]


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return v


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="run directory written by `ionsim run`")
    p.add_argument("--out", metavar="FILE",
                   help="FILE.mp4 or FILE.gif (movie), or FILE.png (one still); default "
                        "RUN_DIR/animation.mp4 (.gif without imageio-ffmpeg)")
    p.add_argument("--fps", type=_positive_float, default=20.0, metavar="N",
                   help="movie frames per second (default 20)")
    p.add_argument("--dpi", type=_positive_float, default=100.0, metavar="N",
                   help="resolution of the 12.8 x 7.2 in figure (default 100: 1280x720 px)")
    p.add_argument("--every", type=_positive_int, default=1, metavar="K",
                   help="show every K-th frame of the run (default 1)")
    p.add_argument("--view", choices=VIEWS, default="side",
                   help="side: x-z cut through the membranes (default); top: the plane of "
                        "membrane 0 with channel mouths and the ions near it; both")
    p.add_argument("--window", metavar="NS",
                   help="simulated time to show, ns: 'T' (the first T ns), 'T0:T1' or 'T0:'")
    p.add_argument("--at", type=float, metavar="NS",
                   help="with --out FILE.png: the time of the still, ns (default: last frame)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_animate(args) -> int:
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in FORMATS + (".png",):
        raise UserError(f"--out: unknown format {out.suffix or '(no suffix)'!r} for {out}; "
                        f"accepted: .mp4, .gif (a movie) or .png (one still)")
    say = (lambda *a: None) if args.quiet else print
    t0 = time.perf_counter()
    if out is not None and out.suffix.lower() == ".png":
        path = render_still(args.run_dir, out, at_ns=args.at, dpi=args.dpi, view=args.view,
                            window=args.window)
    else:
        if args.at is not None:
            raise UserError("--at: only with --out FILE.png (a still); a movie shows every "
                            "frame in --window")
        path = animate_run(args.run_dir, out=out, quiet=args.quiet, fps=args.fps, dpi=args.dpi,
                           every=args.every, view=args.view, window=args.window)
    say(f"wrote {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


def main(argv=None) -> int:
    """``python -m analysis.animate RUN_DIR [options]``: same as ``ionsim animate``."""
    return run_standalone(__name__, argv)


if __name__ == "__main__":
    sys.exit(main())
