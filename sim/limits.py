"""How much work a scenario asks for, estimated before anything is allocated.

:func:`check_work` is called by ``ionsim check`` and ``ionsim run`` (and the engine's set-up)
after the scenario has been validated. It refuses, with the key to change:

- a scenario with no ions (a run's currents, membrane potential and every observable are
  the ions'), and with ``electrostatics: ewald`` one with fewer than two charged ions (the
  Ewald tuner needs a charge distribution);
- an estimated memory above :data:`MEMORY_FRACTION` of the memory this machine has
  available now (``MemAvailable`` in /proc/meminfo): the run would swap or be killed;
- more than :data:`MAX_IONS` ions unless ``allow_large`` (the command line's ``--yes``).

The ion count is first estimated from concentrations x accessible volumes plus counter-ions,
in plain floats, so that a scenario of 2e7 ions costs nothing to refuse; only within the
limits are the exact counts taken (:func:`sim.system.ion_counts`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .errors import ScenarioError
from .scenario import Scenario

# The largest system benchmarked (docs/performance.md): 1e5 ions at ~9e5 particle-steps/s,
# a tenth of a second per step. More is allowed, but only when asked for.
MAX_IONS = 100_000
MEMORY_FRACTION = 0.5  # of MemAvailable: leave the rest to the OS, the page cache, others

# Memory model, bytes. Per ion: the state (positions, forces, noise, mobilities, labels,
# about 160 B as sim/report.py counts it), the Verlet list's per-ion rows and at least 8 pair
# slots of 32 B (sim/forces/neighbours.py), and the SPME spline tables (2 x 3 x order float64).
BYTES_PER_ION = 1000
BYTES_PER_PAIR = 40  # 32 B per slot, allocated with 25% headroom
PAIR_SLOTS_PER_ION = 8  # allocated whatever the density
VERLET_RADIUS = {"ewald": 3.2, "off": 1.0}  # nm: tuned real-space cut-off + skin, or WCA + skin
# Ewald mesh: float32 grid, influence function and FFT output, with float64 temporaries
# while the influence function is built; the tuner's spacing is about 0.8-1 nm for dilute ions.
BYTES_PER_MESH_POINT = 40
AUTO_MESH_SPACING = 0.8  # nm
# Initial placement keeps a cell grid of one ion diameter over the whole box (sim/system.py).
BYTES_PER_PLACEMENT_CELL = 8


@dataclass(frozen=True)
class WorkEstimate:
    """What a scenario costs: ions per compartment and in all, estimated memory (bytes) by
    part, and the memory this machine has available (bytes; None where unknown)."""
    counts: tuple[int, ...]
    charged: int
    memory: dict
    available: int | None

    @property
    def ions(self) -> int:
        return sum(self.counts)

    @property
    def memory_bytes(self) -> float:
        return float(sum(self.memory.values()))


def check_work(scenario: Scenario, allow_large: bool = False, *,
               available: int | None = None) -> WorkEstimate:
    """Estimate the ions and memory of `scenario`; raise ScenarioError (naming the box or
    compartment keys to change) for no ions, too few charged ions for Ewald, memory above
    MEMORY_FRACTION of what is available, or more than MAX_IONS ions unless allow_large.

    `available` (bytes) replaces the machine's available memory (for tests); by default it
    is read from the machine, and the memory check is skipped where it cannot be."""
    if available is None:
        available = available_memory()
    estimate = estimate_ions(scenario)
    total = sum(estimate)
    memory = estimate_memory(scenario, total)
    if available is not None and sum(memory.values()) > MEMORY_FRACTION * available:
        _refuse_memory(scenario, estimate, memory, available)
    if total > MAX_IONS * 1.01 and not allow_large:  # rounding moves the count by a few
        _refuse_count(scenario, estimate, total)
    from .geometry import Geometry  # Numba helpers; only now that the sizes are known
    from .system import ion_counts
    counts = ion_counts(scenario, Geometry.from_scenario(scenario))
    per_comp = tuple(int(n) for n in counts.sum(axis=1))
    valence = [s.valence for s in scenario.species]
    charged = int(sum(n for row in counts for n, z in zip(row, valence) if z != 0))
    if sum(per_comp) == 0:
        volumes = ", ".join(f"{_volume(scenario, k):.3g}" for k in range(len(per_comp)))
        raise ScenarioError(scenario.source, "compartments",
                            f"no ions: the concentrations round to 0 ions in the "
                            f"compartments' volumes ({volumes} nm^3); a run needs ions (the "
                            f"currents, the membrane potential and every observable are "
                            f"theirs; with electrostatics: ewald at least two charged ones): "
                            f"raise the concentrations or enlarge box.lateral or the depths")
    if scenario.electrostatics.method == "ewald" and charged < 2:
        raise ScenarioError(scenario.source, "electrostatics",
                            f"ewald needs at least two charged ions, the scenario has "
                            f"{charged}; raise the concentrations or use 'electrostatics: off'")
    if sum(per_comp) > MAX_IONS and not allow_large:
        _refuse_count(scenario, [float(n) for n in per_comp], sum(per_comp))
    return WorkEstimate(per_comp, charged, estimate_memory(scenario, sum(per_comp)), available)


def estimate_ions(scenario: Scenario) -> list[float]:
    """Ions per compartment, unrounded: concentration x accessible volume (as
    sim.system.compartment_volume: less one mean ion radius at each membrane face) plus the
    counter-ions of the charged faces it touches (for `concentration_basis: bulk`, |face
    charge| in e bounds what the faces' surface excess adds: monovalent ions, co-ions
    depleted). Floats only, nothing allocated."""
    return [sum(c for _, c in comp.concentrations) * _volume(scenario, k)
            + sum(abs(n) for n in scenario.counterions(k).values())
            + (abs(scenario.face_charge(k)) if comp.concentration_basis == "bulk" else 0)
            for k, comp in enumerate(scenario.compartments)]


def _volume(scenario: Scenario, k: int) -> float:
    comp = scenario.compartments[k]
    radius = {s.name: s.radius for s in scenario.species}
    total = sum(c for _, c in comp.concentrations)
    mean_radius = sum(c * radius[n] for n, c in comp.concentrations) / total if total else 0.0
    depth = comp.depth - (2 * mean_radius if scenario.membranes else 0.0)
    return max(depth, 0.0) * scenario.area


def estimate_memory(scenario: Scenario, n_ions: float) -> dict:
    """Bytes by part ('ions', 'pairs', 'mesh', 'placement') for a run of n_ions."""
    box = scenario.box
    volume = box[0] * box[1] * box[2]
    method = scenario.electrostatics.method
    density = n_ions / volume if volume > 0 else 0.0
    neighbours = density * 4.0 / 3.0 * math.pi * VERLET_RADIUS[method] ** 3 / 2.0
    memory = {"ions": n_ions * BYTES_PER_ION,
              "pairs": n_ions * max(0.0, neighbours - PAIR_SLOTS_PER_ION) * BYTES_PER_PAIR,
              "mesh": 0.0}
    if method == "ewald":
        mesh = scenario.electrostatics.mesh or tuple(
            math.ceil(edge / AUTO_MESH_SPACING) for edge in box)
        memory["mesh"] = float(math.prod(mesh)) * BYTES_PER_MESH_POINT
    cell = max([s.diameter for s in scenario.species] + [1e-3])
    memory["placement"] = float(math.prod(max(1, math.floor(edge / cell)) for edge in box)) \
        * BYTES_PER_PLACEMENT_CELL
    return memory


def available_memory() -> int | None:
    """Bytes of memory available to a new process now: MemAvailable (Linux; else the free
    physical pages), or less where a container's memory limit (cgroup v2 or v1) leaves
    less; None where nothing can be read."""
    machine = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    machine = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if machine is None:
        try:
            machine = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            pass
    room = [m for m in (machine, _cgroup_room()) if m is not None]
    return min(room) if room else None


def _cgroup_room() -> int | None:
    """Limit minus usage of this process's memory cgroup, bytes; None without a limit."""
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit) as fh:
                text = fh.read().strip()
            if text == "max" or int(text) >= 2**60:  # no limit set
                return None
            with open(usage) as fh:
                return max(0, int(text) - int(fh.read().strip()))
        except (OSError, ValueError):
            continue
    return None


def _largest(estimate) -> int:
    return max(range(len(estimate)), key=lambda k: estimate[k])


def _refuse_count(scenario: Scenario, estimate, total: float):
    k = _largest(estimate)
    parts = ", ".join(f"{scenario.compartments[i].name!r} {n:.3g}"
                      for i, n in enumerate(estimate))
    raise ScenarioError(scenario.source, f"compartments[{k}]",
                        f"about {total:.3g} ions ({parts}) is more than the {MAX_IONS} a "
                        f"run takes without asking (at ~1e6 particle-steps/s, 1e5 ions take "
                        f"0.1 s a step); make box.lateral, the depths or the concentrations "
                        f"smaller, or pass --yes to go ahead")


def _refuse_memory(scenario: Scenario, estimate, memory: dict, available: int):
    total = sum(memory.values())
    part = max(memory, key=memory.get)
    lx, ly, lz = scenario.box
    where = {"ions": "the ions", "pairs": "the ions' neighbour lists",
             "mesh": "the Ewald mesh", "placement": "the placement grid"}
    if part in ("ions", "pairs"):
        key = f"compartments[{_largest(estimate)}]"
        change = "lower the concentrations or make box.lateral or the depths smaller"
    elif part == "mesh" and scenario.electrostatics.mesh:
        key, change = "electrostatics.mesh", "use a coarser mesh"
    else:
        key = "box.lateral"
        change = "make box.lateral or the compartments' depths smaller"
    raise ScenarioError(scenario.source, key,
                        f"the run would need about {total / 1e9:.3g} GB (mostly "
                        f"{where[part]}: {memory[part] / 1e9:.3g} GB for a {lx:g} x {ly:g} "
                        f"x {lz:g} nm box and {sum(estimate):.3g} ions), more than "
                        f"{MEMORY_FRACTION:.0%} of the {available / 1e9:.3g} GB available "
                        f"on this machine; {change}")
