"""A topology file for other programs: ``topology.pdb`` in the run directory.

``trajectory.h5`` (H5MD) holds positions but no atom names, so MDAnalysis, VMD and OVITO
need a topology beside it, e.g. ``mda.Universe("topology.pdb", "trajectory.h5",
format="H5MD")`` (MDAnalysis chooses a reader by extension and does not know ``.h5``). The
PDB names each ion after its species and holds the box and the initial positions; atom
``i`` of the PDB is ion ``i`` of the trajectory (the same order).

Format: wwPDB "Atomic Coordinate Entry Format Version 3.3" (fixed columns; CRYST1 and
HETATM records), https://www.wwpdb.org/documentation/file-format-content/format33/v3.3.html.
Units: lengths in Angstrom, as PDB requires (ionsim works in nm; 1 nm = 10 A), angles in
degrees (the box is orthorhombic: 90, 90, 90).

Per ion, one HETATM record, and each ion is its own residue (as ions are in PDB entries):

- atom name and residue name: the species name without its charge, upper case,
  alphanumeric, at most 3 characters, made unique per species (``K+`` -> ``K``, ``Na+`` ->
  ``NA``, ``Cl-`` -> ``CL``, ``Ca2+`` -> ``CA``, ``A-`` -> ``A``); the atom name starts in
  column 13 for a two-letter element and in column 14 otherwise, as PDB aligns element
  symbols (so calcium ``CA`` is not read as an alpha carbon);
- element (columns 77-78): the symbol where that label is a real element (K, Na, Cl, Ca),
  blank otherwise (``A-``, ``X+`` are generic ions, no element);
- formal charge (columns 79-80): the valence, e.g. ``1+``, ``2+``, ``1-``;
- serial numbers (columns 7-11): hybrid-36 (http://cci.lbl.gov/hybrid_36/, the cctbx
  convention): decimal up to 99999, then ``A0000``... and ``a0000``..., unique up to
  87,440,031 atoms (beyond, ValueError); MDAnalysis's PDB parser decodes it;
- residue numbers (columns 23-26): the ion's index + 1 modulo 10000 (wrapped, as
  MDAnalysis's own PDB writer does): MDAnalysis's PDB parser undoes a wrap of increasing
  numbers but does not decode hybrid-36 residue numbers;
- chain ``I`` and segment ``ION`` for every ion: species are selected by name or resname.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

TOPOLOGY = "topology.pdb"

NM_TO_ANGSTROM = 10.0

CHAIN = "I"
SEGMENT = "ION"

# Element symbols 1-118: a species label becomes an element only if it is one of these.
ELEMENTS = frozenset("""
H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se
Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb
Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm
Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og""".split())

_DIGITS_UPPER = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS_LOWER = "0123456789abcdefghijklmnopqrstuvwxyz"


def hybrid36(value: int, width: int) -> str:
    """`value` (>= 0) in hybrid-36 of `width` characters: decimal below 10**width, then
    upper-case base 36 from "A000..", then lower-case from "a000..". ValueError beyond."""
    if value < 0:
        raise ValueError(f"hybrid-36 numbers are >= 0, got {value}")
    if value < 10 ** width:
        return f"{value:{width}d}"
    value -= 10 ** width
    block = 26 * 36 ** (width - 1)  # numbers with a letter first, per case
    for digits in (_DIGITS_UPPER, _DIGITS_LOWER):
        if value < block:
            value += 10 * 36 ** (width - 1)  # skip the codes that start with a digit
            out = ""
            for _ in range(width):
                value, d = divmod(value, 36)
                out = digits[d] + out
            return out
        value -= block
    raise ValueError(f"{width}-character hybrid-36 numbers end at "
                     f"{10 ** width + 2 * block - 1}")


def _stem(name: str, valence: int) -> str:
    """The species name without its charge: "Ca2+" -> "Ca", "Ca+2" -> "Ca", "SO4 2-" ->
    "SO4", "K+" -> "K". A digit is taken as the charge only where it equals |valence|, so
    that "H2PO4-" (valence -1) keeps its 4."""
    z = str(abs(valence))
    s = name.strip()
    head = s.rstrip("0123456789")
    if head != s and head.endswith(("+", "-")) and s[len(head):] == z:
        s = head  # "Ca+2"
    unsigned = s.rstrip("+-")
    if unsigned != s:
        s = unsigned.rstrip()
        if s.endswith(z) and len(s) > len(z):
            s = s[:-len(z)].rstrip()  # "Ca2+", "SO4 2-"
    return s


def species_labels(species) -> list[tuple[str, str]]:
    """(label, element) per species (objects with .name and .valence): label the PDB atom
    and residue name (upper case, alphanumeric, <= 3 characters, unique in order: "K+"
    and "K2+" become "K" and "K1"), element the symbol in PDB's upper case ("K", "NA")
    where the label is an element, else ""."""
    out, used = [], set()
    for sp in species:
        stem = _stem(sp.name, sp.valence)
        base = re.sub(r"[^A-Za-z0-9]", "", stem).upper()[:3] or "ION"
        label, n = base, 1
        while label in used:
            tag = str(n)
            label, n = base[:3 - len(tag)] + tag, n + 1
        used.add(label)
        # only an unaltered stem is an element: "Cl" is chlorine, "H2P" (from H2PO4) is not
        element = label if label == stem.upper() and stem.capitalize() in ELEMENTS else ""
        out.append((label, element))
    return out


def _atom_name(label: str, element: str) -> str:
    """Columns 13-16: a two-letter element symbol starts in column 13, anything else in
    14 (PDB v3.3 section 9, "Atom names")."""
    if len(element) == 2:
        return f"{label:<4s}"
    return f" {label:<3s}"


def _charge(valence: int) -> str:
    return f"{abs(valence)}{'+' if valence > 0 else '-'}" if 0 < abs(valence) <= 9 else "  "


def pdb_text(scenario, species, positions) -> str:
    """The PDB of N ions: species (N,) indices into scenario.species, positions (N, 3) nm,
    box from scenario.box (nm). Coordinates are written in Angstrom, 3 decimals."""
    species = np.asarray(species, dtype=np.int64)
    pos = np.asarray(positions, dtype=np.float64) * NM_TO_ANGSTROM
    box = np.asarray(scenario.box, dtype=np.float64) * NM_TO_ANGSTROM
    if pos.shape != (len(species), 3):
        raise ValueError(f"positions must be ({len(species)}, 3), got {pos.shape}")
    # %8.3f and %9.3f fields: beyond these a PDB column overflows (a box of ~1000 nm)
    if (pos.size and (pos.min() <= -1000.0 or pos.max() >= 10000.0)) or box.max() >= 1e5:
        raise ValueError("PDB coordinates are limited to -999.999..9999.999 A; "
                         f"box {scenario.box} nm")
    labels = species_labels(scenario.species)
    per_species = [(_atom_name(lab, el), lab, el, _charge(s.valence))
                   for (lab, el), s in zip(labels, scenario.species)]
    # PDB lines are at most 80 columns: the scenario's name is cut, one species a line
    lines = [f"REMARK   1 ionsim topology, lengths in A: {scenario.name}"[:80],
             *(f"REMARK   1 {lab:<3s} = {s.name}"[:80]
               for (lab, _), s in zip(labels, scenario.species)),
             f"CRYST1{box[0]:9.3f}{box[1]:9.3f}{box[2]:9.3f}{90.0:7.2f}{90.0:7.2f}{90.0:7.2f}"
             f" {'P 1':<11s}{1:4d}"]
    for i, (s, (x, y, z)) in enumerate(zip(species, pos)):
        name, resname, element, charge = per_species[s]
        lines.append(
            f"HETATM{hybrid36(i + 1, 5)} {name} {resname:>3s} {CHAIN}{(i + 1) % 10000:4d}"
            f"    {x:8.3f}{y:8.3f}{z:8.3f}{1.0:6.2f}{0.0:6.2f}      {SEGMENT:<4s}"
            f"{element:>2s}{charge}")
    lines.append("END")
    return "\n".join(lines) + "\n"


def write_topology(path, scenario, species, positions) -> None:
    """Write the PDB topology of the run's ions (species (N,), positions (N, 3) nm) to
    `path` atomically (a temp file in the same directory, then os.replace), so that a
    reader never sees half a file."""
    from .io import atomic_write_bytes
    # PDB is ASCII: a non-ASCII scenario or species name (REMARK only) becomes "?"
    text = pdb_text(scenario, species, positions)
    atomic_write_bytes(Path(path), text.encode("ascii", errors="replace"))
