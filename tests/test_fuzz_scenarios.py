"""Mutated shipped scenarios never crash `ionsim check`: exit 0 or 2, never a traceback.

Each try takes a shipped scenario (scenarios/*.yaml, scenarios/depth_series/*.yaml), applies
one to three random mutations (types swapped, signs flipped, units removed or changed, keys
removed or duplicated, numbers scaled by up to 1e30 or nudged by up to 10, values replaced
by huge or deep structures, nesting 3000 deep, an alias bomb), writes it and runs
`ionsim check` on it in-process. The generator is seeded, so a failure reproduces; its
message lists the mutations. Every try must exit 0 or 2 (2 with one line of stderr), with no
uncaught exception, within HANG_GUARD_S.

TRIES_PER_SCENARIO x 15 scenarios is 300 tries, about 25 s on one core (`pytest -s` prints
the counts).
"""

from __future__ import annotations

import contextlib
import copy
import glob
import io
import random
import re
import time
import traceback
from pathlib import Path

import yaml

from sim.cli import main
from sim.units import UNITS
from sim.yaml_input import load_yaml

SEED = 20261201
TRIES_PER_SCENARIO = 20
HANG_GUARD_S = 10.0  # per try; guards against hangs, not speed (a try takes ~10-50 ms)
ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(glob.glob(str(ROOT / "scenarios" / "*.yaml"))
                 + glob.glob(str(ROOT / "scenarios" / "depth_series" / "*.yaml")))

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
ALL_UNITS = sorted({u for table in UNITS.values() for u in table})
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*)$")
ODD_VALUES = [0, -1, 1, 2.5, -0.0, 1e308, -1e308, 10**30, 2**63, True, False, None, "",
              "abc", "K+", "off", "ewald", "auto", [], {}, [1, 2], ["K+"], {"a": 1},
              "nan", "inf nm", "-inf", ".nan", "1e999 nm", "0 nm", "1e-300 nm", "3",
              "310 K", "1 kT", "-3 kT", "150 mM", "2 nm", "1e30 nm", "0.05 ps", "1 ns",
              "-0.1 e/nm^2", "x" * 3000, "a\nb"]


def _paths(node, prefix=()):
    """Every (container, key) in the tree, depth first."""
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for k, v in items:
        yield prefix + (k,)
        yield from _paths(v, prefix + (k,))


def _get(tree, path):
    for k in path:
        tree = tree[k]
    return tree


def _set(tree, path, value):
    _get(tree, path[:-1])[path[-1]] = value


def _deep(depth):
    v = 1
    for _ in range(depth):
        v = [v]
    return v


def _mutate_value(rng: random.Random, value):
    """A replacement for `value` and the name of the mutation."""
    op = rng.choice(["type", "sign", "unit removed", "unit changed", "scaled", "nudged",
                     "nudged", "huge", "deep"])
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    if op == "sign" and match:
        num = match.group(1)
        return (num[1:] if num.startswith("-") else "-" + num) + " " + match.group(2), op
    if op == "sign" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return -value, op
    if op == "unit removed" and match:
        return rng.choice([match.group(1), float(match.group(1))]), op
    if op == "unit changed" and match:
        return f"{match.group(1)} {rng.choice(ALL_UNITS)}", op
    if op == "scaled" and match:
        return f"{float(match.group(1)) * 10.0 ** rng.randint(-30, 30):g} {match.group(2)}", op
    if op == "nudged" and match:  # often still valid: reaches the code after validation
        return f"{float(match.group(1)) * rng.uniform(0.1, 10):.4g} {match.group(2)}", op
    if op in ("scaled", "nudged") and isinstance(value, (int, float)) \
            and not isinstance(value, bool):
        return value * 10 ** rng.randint(-3, 12), op
    if op == "huge":
        return rng.choice([list(range(20_000)), {f"k{i}": i for i in range(5000)},
                           "9" * 20_000, "1" * 200 + " nm"]), op
    if op == "deep":
        return _deep(rng.choice([10, 40])), op  # deeper: _mutate_text (the dumper recurses)
    return copy.deepcopy(rng.choice(ODD_VALUES)), "type"


def _mutate_tree(rng: random.Random, tree) -> list[str]:
    paths = list(_paths(tree))
    path = rng.choice(paths)
    if rng.random() < 0.15:
        parent = _get(tree, path[:-1])
        del parent[path[-1]]
        return [f"removed {path}"]
    value, op = _mutate_value(rng, _get(tree, path))
    _set(tree, path, value)
    return [f"{op} {path} -> {str(value)[:60]!r}"]


def _mutate_text(rng: random.Random, text: str) -> tuple[str, str]:
    """Mutations YAML trees cannot express or the dumper cannot write: a duplicated key
    line, a value nested 3000 deep, an alias bomb."""
    lines = text.splitlines(keepends=True)
    keyed = [i for i, line in enumerate(lines) if re.match(r"^\s*[\w+-]+: \S", line)]
    choice = rng.random()
    if keyed and choice < 0.4:
        i = rng.choice(keyed)
        return "".join(lines[:i + 1] + [lines[i]] + lines[i + 1:]), f"duplicated {lines[i]!r}"
    if keyed and choice < 0.7:
        i = rng.choice(keyed)
        key = lines[i].split(":")[0]
        lines[i] = f"{key}: {'[' * 3000}{']' * 3000}\n"
        return "".join(lines), f"{key.strip()} nested 3000 deep"
    bomb = ["b0: &b0 [x, x, x, x, x, x, x, x, x]\n"] + [
        f"b{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * 9) + "]\n" for i in range(1, 9)]
    return "".join(bomb) + text, "alias bomb prepended"


def _check(path: Path) -> tuple[int | None, str, float]:
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["check", str(path)])
    except BaseException:  # a traceback is exactly what this test looks for
        return None, traceback.format_exc(), time.perf_counter() - start
    return code, err.getvalue(), time.perf_counter() - start


def test_mutated_scenarios_exit_0_or_2(tmp_path):
    rng = random.Random(SEED)
    failures, codes, slowest = [], {0: 0, 2: 0}, 0.0
    tries = 0
    for source in SHIPPED:
        original = load_yaml(source)
        for _ in range(TRIES_PER_SCENARIO):
            tries += 1
            tree = copy.deepcopy(original)
            done = []
            for _ in range(rng.randint(1, 3)):
                done += _mutate_tree(rng, tree)
            text = yaml.dump(tree, Dumper=_DUMPER, sort_keys=False)
            if rng.random() < 0.2:
                text, what = _mutate_text(rng, text)
                done.append(what)
            path = tmp_path / f"fuzz{tries}.yaml"
            path.write_text(text)
            code, err, elapsed = _check(path)
            slowest = max(slowest, elapsed)
            label = f"{Path(source).name} try {tries}: {'; '.join(done)}"
            if code is None:
                failures.append(f"{label}\n{err[-1500:]}")
            elif code not in codes:
                failures.append(f"{label}: exit {code}\n{err[-500:]}")
            elif code == 2 and (len(err.strip().splitlines()) != 1
                                or not err.startswith(f"ionsim: error: {path}: ")):
                failures.append(f"{label}: not one line: {err[:500]!r}")
            elif elapsed > HANG_GUARD_S:
                failures.append(f"{label}: {elapsed:.1f} s")
            else:
                codes[code] += 1
            path.unlink()
    summary = (f"{tries} tries: {codes[0]} accepted, {codes[2]} refused, {len(failures)} "
               f"failed; slowest {slowest * 1e3:.0f} ms")
    print(summary)
    assert not failures, summary + "\n\n" + "\n\n".join(failures[:5])
    assert tries >= 300 and codes[2] > 0 and codes[0] > 0, summary
