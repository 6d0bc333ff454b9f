"""The verdict of one validation case: PASS, FAIL or INCONCLUSIVE.

A case compares a simulated value (with its standard error, SE) to a reference value (with
its own SE where the reference is itself measured or carries a stated model uncertainty).
The deviation is dev = (value - reference) / sqrt(SE_value^2 + SE_reference^2).

Rule (:func:`judge`), in order:

1. INCONCLUSIVE when the value or its SE is missing or not finite (no error bar: not a
   result), when a stated minimum count (e.g. crossings) is not reached, when the time
   series behind the value holds fewer than ``min_n_eff`` independent samples (n / g, g the
   statistical inefficiency: with fewer than about 20 the block-averaged SE is itself
   uncertain by more than ~15%, and a step-like series of a few crossings can put a wrong
   mean many "SE" from the truth), or when the combined SE is wider than the stated
   resolution (e.g. 10 mV for a potential): the run cannot decide, so it never PASSes.
2. Deterministic checks (combined SE = 0, e.g. a capacitor of fixed sheets) PASS when
   |value - reference| <= the stated absolute tolerance, else FAIL.
3. Bounds (``mode="upper"``, e.g. the Ewald force error must stay below the requested
   1e-3): PASS when value + 3 SE <= reference (with SE 0: value <= reference).
4. Otherwise PASS when |dev| <= 3 and |value - reference| <= the absolute tolerance (when
   one is stated); FAIL otherwise.

Units are those of the case (``unit``): mV for potentials, uF/cm^2, nm^2/ps, nm^2, 1 ...
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

__all__ = ["PASS", "FAIL", "INCONCLUSIVE", "CaseResult", "judge", "Z_PASS", "finite"]

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
Z_PASS = 3.0  # |dev| <= 3 combined SE passes


def finite(x) -> bool:
    """A real number that is not NaN or infinite (None is not)."""
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def judge(value, se, reference, reference_se=0.0, *, resolution=None, abs_tol=None,
          count=None, min_count=None, n_eff=None, min_n_eff=None,
          mode="equal") -> tuple[str, float | None, str]:
    """Apply the module's rule.

    Args:
        value, se: simulated value and its standard error (unit of the case).
        reference, reference_se: reference value and its uncertainty (0 for exact theory).
        resolution: the widest combined SE that can decide (None: any).
        abs_tol: |value - reference| must not exceed it (None: no absolute tolerance);
            required when the combined SE is 0.
        count, min_count: e.g. crossings seen and crossings needed.
        n_eff, min_n_eff: independent samples behind the value's SE, and those needed.
        mode: "equal" (two-sided) or "upper" (value must not exceed reference).

    Returns:
        (verdict, deviation in combined SE or None, reason in words).
    """
    if not finite(value) or not finite(reference):
        return INCONCLUSIVE, None, "no value"
    ref_se = reference_se if finite(reference_se) else 0.0
    diff = value - reference
    combined = math.hypot(se, ref_se) if finite(se) and se >= 0 else math.nan
    dev = diff / combined if combined > 0 else None  # shown even when it cannot decide
    if count is not None and min_count is not None and count < min_count:
        return INCONCLUSIVE, dev, f"only {count} events, {min_count} needed"
    if not finite(se) or se < 0:
        return INCONCLUSIVE, None, "no error bar"
    if n_eff is not None and min_n_eff is not None and not n_eff >= min_n_eff:
        return INCONCLUSIVE, dev, (f"only {n_eff:.3g} independent samples, {min_n_eff} "
                                   f"needed for a reliable SE")
    if resolution is not None and combined > resolution:
        return (INCONCLUSIVE, dev,
                f"SE {combined:.3g} wider than the resolution {resolution:g}")
    if mode == "upper":
        ok = value + Z_PASS * combined <= reference
        return (PASS if ok else FAIL), dev, ("below the bound" if ok else "above the bound")
    if combined == 0:
        if abs_tol is None:
            return INCONCLUSIVE, None, "no error bar and no tolerance"
        ok = abs(diff) <= abs_tol
        return (PASS if ok else FAIL), None, (f"|diff| {abs(diff):.3g} "
                                              f"{'<=' if ok else '>'} tolerance {abs_tol:g}")
    if abs(dev) > Z_PASS:
        return FAIL, dev, f"|dev| = {abs(dev):.2f} SE > {Z_PASS:g}"
    if abs_tol is not None and abs(diff) > abs_tol:
        return FAIL, dev, f"|diff| {abs(diff):.3g} > tolerance {abs_tol:g}"
    return PASS, dev, f"|dev| = {abs(dev):.2f} SE <= {Z_PASS:g}"


@dataclass
class CaseResult:
    """One checked number.

    Attributes:
        case: case name (a row of the table); scenario: the scenario file, or "" for an
            engine check.
        question: what the case asks; quantity: what was measured (words); unit: its unit.
        value, se: simulated value +- SE; reference, reference_se: theory and its stated
            uncertainty; source: where the reference comes from (formula, reference file).
        resolution, abs_tol, count, min_count, n_eff, min_n_eff, mode: the inputs of
            :func:`judge`.
        verdict, deviation, reason: filled in by :meth:`decide`.
        reference_systematic: reference_se is a stated model uncertainty, the same in every
            run (e.g. the Stern gap's ion radius), not a statistical error: pooling over
            replicas (:mod:`analysis.validation.replicas`) keeps it instead of dividing it
            by sqrt(R).
        notes: caveats in words; seconds: wall time of the case; run_dir: its run (or its
            replica directory), if any; replicas: the runs behind the value (1 for an
            engine check and for --quick);
        series: optional (times_ns, values, t_equil_ns) for plots (not written to JSON).
    """

    case: str
    question: str
    quantity: str
    unit: str
    value: float | None
    se: float | None
    reference: float | None
    source: str
    reference_se: float = 0.0
    reference_systematic: bool = False
    scenario: str = ""
    resolution: float | None = None
    abs_tol: float | None = None
    count: int | None = None
    min_count: int | None = None
    n_eff: float | None = None
    min_n_eff: float | None = None
    mode: str = "equal"
    verdict: str = ""
    deviation: float | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    run_dir: str = ""
    replicas: int = 1
    series: tuple | None = None

    def decide(self) -> "CaseResult":
        self.verdict, self.deviation, self.reason = judge(
            self.value, self.se, self.reference, self.reference_se,
            resolution=self.resolution, abs_tol=self.abs_tol, count=self.count,
            min_count=self.min_count, n_eff=self.n_eff, min_n_eff=self.min_n_eff,
            mode=self.mode)
        return self

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("series")
        for k, v in d.items():
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = None
        return d

    @classmethod
    def error(cls, case: str, question: str, err: BaseException, scenario: str = "") -> "CaseResult":
        """A case whose run or analysis raised: a FAIL with the error in the reason."""
        r = cls(case=case, question=question, quantity="(error)", unit="", value=None,
                se=None, reference=None, source="", scenario=scenario)
        r.verdict, r.reason = FAIL, f"{type(err).__name__}: {err}"
        return r
