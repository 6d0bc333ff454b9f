"""Errors and exit codes, the bottom layer: every other module may import this one, and it
imports nothing of ionsim's.

- :class:`UserError` and :class:`ScenarioError`: something the user asked for cannot be
  done (a bad scenario, a missing or foreign run directory). The command line prints one
  line and exits with :data:`EXIT_USAGE`, without a traceback.
- :class:`RunStopped`: a run stopped on purpose to protect the user's data (the disk filled
  up, the directory became unwritable). One line, exit code :data:`EXIT_STOPPED`; the last
  checkpoint is intact and ``ionsim resume`` continues from it.
- A run that became unphysical (``sim.run.SimulationError``) also exits with
  :data:`EXIT_STOPPED`. Anything else is a bug in ionsim and keeps its traceback.
"""

from __future__ import annotations

EXIT_USAGE = 2
EXIT_STOPPED = 3
EXIT_UNPHYSICAL = EXIT_STOPPED  # the name the command line has always used
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A problem with what the user asked for; reported in one line, exit code 2."""


class ScenarioError(UserError, ValueError):
    """A scenario the user wrote cannot be run; the message says where and why.

    ``source`` is the file, ``key`` the key path (e.g. ``membranes[0].channels[1].radius``),
    ``detail`` what is wrong and what is accepted.
    """

    def __init__(self, source: str, key: str, message: str):
        self.source, self.key, self.detail = source, key, message
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + message)


class RunStopped(Exception):
    """A run stopped to keep what it wrote (e.g. the disk is full); exit code 3."""
