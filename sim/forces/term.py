"""The protocol of a force term (sim.simulation.ForceField sums them)."""

from __future__ import annotations


class ForceTerm:
    """`compute(pos, forces)` adds kJ/(mol nm) into forces (N, 3) at positions pos (N, 3) nm
    and returns the energies (kJ/mol) by name; `energy_names` lists those names, so that the
    observables can be declared before the first evaluation."""
    name = "force"
    #: Whether sim.compile_ahead may compile this term's kernels in its second process: true
    #: only for a term whose compiled functions no other term and not the step use.
    compiles_apart = False
    #: The pair forces (sim.forces.short_range.ShortRangeForces) this term computes, whose
    #: overlap flags the step reads to undo moves into overlaps; None for other terms.
    pair_forces = None

    @property
    def energy_names(self) -> tuple[str, ...]:
        return (self.name,)

    def compute(self, pos, forces) -> dict:  # pragma: no cover - interface
        raise NotImplementedError
