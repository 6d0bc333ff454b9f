"""``ionsim validate``: the scenario library and the engine checks held against theory.

Modules:

- :mod:`analysis.validation.verdict`: a :class:`CaseResult` (simulated value +- SE,
  reference and its source) and :func:`judge`, the PASS / FAIL / INCONCLUSIVE rule.
- :mod:`analysis.validation.engine_checks`: free diffusion, the harmonic well, Ewald forces
  against a direct sum, the double-membrane capacitor (no scenario file needed).
- :mod:`analysis.validation.scenario_checks`: what each file in ``scenarios/`` is checked
  against (Nernst, Donnan, GHK, selectivity, the controls).
- :mod:`analysis.validation.cases`: the case list, with the --quick run lengths.
- :mod:`analysis.validation.replicas`: --full's replicas of a scenario case, added until it
  can decide (at most --max-replicas), and how their results are pooled.
- :mod:`analysis.validation.output`: the table, validation.md, validation.json, PNG plots.
- :mod:`analysis.validate`: the command (``ionsim validate``, ``python -m analysis.validate``).
"""
