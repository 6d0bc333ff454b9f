"""The protocol of a force term (sim.simulation.ForceField sums them)."""

from __future__ import annotations


class ForceTerm:
    """`compute(pos, forces)` adds kJ/(mol nm) into forces (N, 3) at positions pos (N, 3) nm
    and returns the energies (kJ/mol) by name; `energy_names` lists those names, so that the
    observables can be declared before the first evaluation."""
    name = "force"

    @property
    def energy_names(self) -> tuple[str, ...]:
        return (self.name,)

    def compute(self, pos, forces) -> dict:  # pragma: no cover - interface
        raise NotImplementedError
