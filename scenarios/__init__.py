"""The scenario library, shipped with ionsim as package data (the *.yaml files here and in
depth_series/). Nothing to import: :mod:`sim.library` finds the files by name, so
``ionsim run potassium`` works from any directory; ``ionsim run scenarios/potassium.yaml``
still works as a path."""
