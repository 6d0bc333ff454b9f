"""Hostile or absurd scenario files are refused quickly, in bounded memory, in one line.

Each case is a file the test writes, run through `ionsim check` in-process: exit code 2, one
line of stderr that starts with `ionsim: error: PATH: ` and names the key. The wall-time
bound (HANG_GUARD_S) guards against hangs, not speed: on main these inputs ran for minutes
or forever (alias bombs, 50 MB files, a million channels); each refusal takes milliseconds.
"""

from __future__ import annotations

import copy
import glob
import resource
import time
from pathlib import Path

import pytest
import yaml

from sim import limits
from sim.cli import main
from sim.errors import ScenarioError
from sim.io import read_scenario
from sim.scenario import (MAX_CHANNELS_PER_MEMBRANE, load_scenario, parse_scenario)
from sim.yaml_input import MAX_FILE_BYTES, brief, load_yaml
from tests.scenario_factory import BASE, tree

HANG_GUARD_S = 5.0  # a hang guard, not a speed test: every refusal here takes < 0.1 s
MEMORY_GUARD_MB = 300  # growth of the process's peak RSS allowed for one refusal
ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(glob.glob(str(ROOT / "scenarios" / "*.yaml"))
                 + glob.glob(str(ROOT / "scenarios" / "depth_series" / "*.yaml")))


def _dump(t: dict) -> str:
    return yaml.safe_dump(t, sort_keys=False)


def _base_text(**changes) -> str:
    return _dump(tree(**changes))


def _bomb_list(indent: str = "  ") -> str:
    """A block list whose last item expands to 9^9 (387 million) strings: nine levels of
    nine aliases each (the "billion laughs")."""
    lines = [f"{indent}- &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        lines.append(f"{indent}- &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _replace_key(text: str, key: str, block: str) -> str:
    """The YAML `text` with the top-level `key:` line (and its indented block) replaced by
    `key:` followed by `block`."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith(f"{key}:"):
            out.append(f"{key}:\n{block}")
            skipping = True
            continue
        if skipping and line.startswith((" ", "-")):
            continue
        skipping = False
        out.append(line)
    return "".join(out)


def _run_bomb() -> str:
    run = dict(BASE["run"])
    del run["seed"]
    text = _dump({k: v for k, v in tree().items() if k != "run"})
    body = "".join(f"  {k}: {v}\n" for k, v in run.items())
    return text + "run:\n" + body + "  seed:\n" + _bomb_list("    ")


def _deep_flow(depth: int = 3000) -> str:
    return _base_text().replace("box:\n  lateral: 8 nm\n", "box: " + "[" * depth
                                + "]" * depth + "\n")


def _deep_block(depth: int = 3000) -> str:
    # '- - - ...' nests block sequences on one line (indentation grows by 2 per level)
    return _base_text().replace("box:\n  lateral: 8 nm\n", "box:\n  " + "- " * depth + "x\n")


def _deep_block_mapping(depth: int = 1300) -> str:
    # one-space indentation per level keeps 1300 levels inside the 1 MB cap
    body = "".join(" " * (i + 1) + "k:\n" for i in range(depth))
    return _base_text().replace("box:\n  lateral: 8 nm\n", "box:\n" + body)


def _with(path: str, value) -> dict:
    t = tree()
    node = t
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node[k]
    node[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value
    return t


def _concentrations(value: str) -> dict:
    t = tree()
    for comp in t["compartments"]:
        comp["concentrations"] = {"K+": value, "A-": value}
    return t


def _big_box(depth_nm: float, conc="150 mM") -> dict:
    """Bulk electrolyte in a 1 um box (the size limit): 150 mM K+ and A- 110 nm deep is 2e7
    ions."""
    t = tree(box={"lateral": "1000 nm"}, membranes=[])
    t["compartments"] = [{"name": "bulk", "depth": f"{depth_nm} nm",
                          "concentrations": {"K+": conc, "A-": conc}}]
    return t


CASES = {
    # name: (file text, text the one line must contain: the key, and what is wrong)
    "alias bomb under box": (_replace_key(_base_text(), "box", _bomb_list()),
                             "box[", "aliases expand"),
    "alias bomb under name": (_replace_key(_base_text(), "name", _bomb_list()),
                              "name[", "aliases expand"),
    "alias bomb under description": (_replace_key(_base_text(description="x"), "description",
                                                  _bomb_list()), "description[",
                                     "aliases expand"),
    "alias bomb under run.seed": (_run_bomb(), "run.seed[", "aliases expand"),
    "recursive alias": (_base_text().replace("box:\n  lateral: 8 nm\n", "box: &b [*b]\n"),
                        "box[0]", "recursive"),
    "2 MB comment": ("# " + "x" * 2_000_000 + "\n" + _base_text(), ": is 2 MB",
                     "refused unread"),
    "2 MB list under an unknown key": (_base_text() + "junk:\n" + "- 1\n" * 700_000,
                                       ": is 2.8 MB", "refused unread"),
    "0.9 MB list under an unknown key": (_base_text() + "junk: [" + "1," * 450_000 + "1]\n",
                                         "junk[", "more than 100000 values"),
    "a long list under an unknown key": (_base_text() + "junk: [" + "1," * 50_000 + "1]\n",
                                         "junk: unknown key", "accepted here"),
    "3000-deep flow nesting": (_deep_flow(), "box[0][0]", "nested more than 32 levels"),
    "3000-deep block nesting": (_deep_block(), "box[0][0]", "nested more than 32 levels"),
    "1300-deep block mappings": (_deep_block_mapping(), "box.k.k", "nested more than 32"),
    "duplicate key": (_base_text() + "temperature: 300 K\n", "temperature: duplicate key",
                      "given at line 2 and again at line"),
    "duplicate nested key": (_base_text().replace("  dt: 0.05 ps\n",
                                                  "  dt: 0.05 ps\n  dt: 0.1 ps\n"),
                             "run.dt: duplicate key", "again at line"),
    "huge integer": (_base_text().replace("seed: 1", "seed: " + "9" * 5000),
                     "run.seed", "5000 characters"),
    "channel count 1e6": (_dump(_with("membranes.0.channels.0.count", 1_000_000)),
                          "membranes[0].channels[0].count", f"at most {MAX_CHANNELS_PER_MEMBRANE}"),
    "thickness 1e6 nm": (_dump(_with("membranes.0.thickness", "1e6 nm")),
                         "membranes[0].thickness", "more than the 100 nm accepted"),
    "thickness 1 m": (_dump(_with("membranes.1.thickness", "1 m")),
                      "membranes[1].thickness", "more than the 100 nm accepted"),
    "box edge 1 mm": (_base_text(box={"lateral": "1 mm"}), "box.lateral",
                      "more than the 1000 nm accepted"),
    "compartment depth 10 um": (_dump(_with("compartments.0.depth", "10 um")),
                                "compartments[0].depth", "more than the 1000 nm"),
    "infinite depth": (_dump(_with("compartments.0.depth", "1e999 nm")),
                       "compartments[0].depth", "not a finite length"),
    "2e7 ions": (_dump(_big_box(110)), "compartments[0]", "ions"),
    "250 K": (_base_text(temperature="250 K"), "temperature", "between 273.15 K and 373.15 K"),
    "1 K": (_base_text(temperature="1 K"), "temperature", "between 273.15 K and 373.15 K"),
    "1000 K": (_base_text(temperature="1000 K"), "temperature",
               "between 273.15 K and 373.15 K"),
    "no ions": (_dump(_concentrations("0 mM")), "compartments", "a run needs ions"),
    "ions round to none": (_dump(_concentrations("1 nM")), "compartments",
                           "round to 0 ions"),
    "name is a path": (_base_text(name="/some/dir"), "name", "plain name"),
    "name climbs out": (_base_text(name="../../x"), "name", "plain name"),
    "name hidden": (_base_text(name=".hidden"), "name", "not starting with '.'"),
    "name too long": (_base_text(name="a" * 65), "name", "at most 64 characters"),
    "name with a space": (_base_text(name="my run"), "name", "plain name"),
    "name is a list": (_base_text(name=["a", "b"]), "name", "got list"),
    "description is a mapping": (_base_text(description={"a": 1}), "description",
                                 "must be text"),
    "description too long": (_base_text(description="x" * 5000), "description",
                             "5000 characters"),
    "long unit text": (_dump(_with("run.dt", "1" * 50_000 + " ps")), "run.dt",
                       "characters long"),
    "nan energy": (_base_text(interactions={"wca_epsilon": "nan kT"}),
                   "interactions.wca_epsilon", "cannot read"),
    "duration overflows steps": (_dump(_with("run.dt", "1e-300 ps")).replace(
        "steps: 100", "duration: 1e300 ns"), "run.duration", "more than"),
}


@pytest.fixture(scope="module", autouse=True)
def _warm_parser():
    """Build the command line once (it imports the analysis plugins), so that the timings
    below are those of reading the file."""
    from sim.cli import _parser
    _parser()


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_scenario_is_refused_in_one_line(name, tmp_path, capsys):
    text, key, detail = CASES[name]
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB (Linux: kB)
    start = time.perf_counter()
    code = main(["check", str(path)])
    elapsed = time.perf_counter() - start
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    err = capsys.readouterr().err
    print(f"{name}: refused in {elapsed * 1e3:.1f} ms")
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err[:2000]
    assert err.startswith(f"ionsim: error: {path}: "), err[:500]
    assert key in err and detail in err, err[:500]
    assert len(err) < 1000, f"{len(err)} characters: messages quote a short prefix only"
    assert "Traceback" not in err
    assert elapsed < HANG_GUARD_S, f"{name}: {elapsed:.1f} s"
    assert grown < MEMORY_GUARD_MB, f"{name}: peak memory grew by {grown:.0f} MB"


def test_hostile_messages_from_the_console_script(tmp_path):
    """The same refusal from a fresh interpreter: exit 2, no traceback (no test-runner
    state involved)."""
    import subprocess
    import sys
    path = tmp_path / "bomb.yaml"
    path.write_text(CASES["alias bomb under box"][0])
    proc = subprocess.run([sys.executable, "-m", "sim", "check", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# --- the work estimate, called directly -----------------------------------------------------

def test_2e7_ions_need_yes_then_fit_in_memory():
    sc = parse_scenario(_big_box(110), "big.yaml")
    start = time.perf_counter()
    with pytest.raises(ScenarioError) as err:  # a machine with plenty of memory
        limits.check_work(sc, allow_large=False, available=10**15)
    assert err.value.key == "compartments[0]"
    assert "pass --yes" in err.value.detail and "about 1.99e+07 ions" in err.value.detail
    with pytest.raises(ScenarioError) as err:  # --yes, but 8 GB available
        limits.check_work(sc, allow_large=True, available=8 * 10**9)
    assert "GB available" in err.value.detail and err.value.key.startswith("compartments")
    assert time.perf_counter() - start < HANG_GUARD_S  # estimated, nothing allocated


def test_a_box_too_big_for_memory_names_the_box():
    # dilute ions, but an Ewald mesh and a placement grid over 1000 x 1000 x 1000 nm
    t = _big_box(1000, conc="1 uM")
    sc = parse_scenario(t | {"electrostatics": "ewald"}, "big.yaml")
    with pytest.raises(ScenarioError) as err:
        limits.check_work(sc, available=16 * 10**9)
    assert err.value.key == "box.lateral" and "make box.lateral" in err.value.detail


def test_a_given_mesh_too_big_for_memory_names_the_mesh():
    sc = parse_scenario(tree(electrostatics={"method": "ewald", "mesh": 4000}), "m.yaml")
    with pytest.raises(ScenarioError) as err:
        limits.check_work(sc, available=16 * 10**9)
    assert err.value.key == "electrostatics.mesh"


def test_check_work_counts_the_ions_of_a_small_scenario():
    sc = parse_scenario(tree(), "small.yaml")
    est = limits.check_work(sc)
    from sim.geometry import Geometry
    from sim.system import ion_counts
    assert est.counts == tuple(ion_counts(sc, Geometry.from_scenario(sc)).sum(axis=1))
    assert est.ions == est.charged > 0
    assert 0 < est.memory_bytes < 1e8
    estimate = limits.estimate_ions(sc)
    assert all(abs(e - n) <= 2 for e, n in zip(estimate, est.counts))


def test_ions_rounding_to_none_are_refused_by_check_work():
    sc = parse_scenario(_concentrations("1 nM"), "few.yaml")
    with pytest.raises(ScenarioError) as err:
        limits.check_work(sc)
    assert err.value.key == "compartments" and "electrostatics: ewald" in err.value.detail


def test_available_memory_is_read():
    assert limits.available_memory() is None or limits.available_memory() > 0


# --- limits that must not get in the way ------------------------------------------------------

def test_a_membrane_with_channels_at_the_cap_is_checked_fast():
    t = _with("membranes.0.channels.0.count", MAX_CHANNELS_PER_MEMBRANE)
    t["box"] = {"lateral": "1000 nm"}
    t["membranes"][0]["channels"][0]["radius"] = "0.8 nm"
    start = time.perf_counter()
    sc = parse_scenario(t, "cap.yaml")
    elapsed = time.perf_counter() - start
    print(f"{MAX_CHANNELS_PER_MEMBRANE} channels parsed and checked in {elapsed * 1e3:.0f} ms")
    assert len(sc.membranes[0].channels) == MAX_CHANNELS_PER_MEMBRANE
    assert elapsed < HANG_GUARD_S  # a hang guard; about 0.1 s


def test_overlap_check_finds_pairs_across_the_periodic_edge():
    t = tree()
    t["membranes"][0]["channels"] = [
        {"position": ["0.1 nm", "4 nm"], "radius": "0.5 nm", "permeant": ["K+"]},
        {"position": ["3 nm", "1 nm"], "radius": "0.5 nm", "permeant": ["K+"]},
        {"position": ["7.8 nm", "4.2 nm"], "radius": "0.5 nm", "permeant": ["K+"]}]
    with pytest.raises(ScenarioError, match=r"channels 0 at \(0.1, 4\) nm and 2 at"):
        parse_scenario(t, "edge.yaml")


def test_overlap_check_with_mixed_radii_matches_all_pairs():
    """The hash grid reports an overlap exactly when some pair overlaps (brute force)."""
    import math
    import random
    rng = random.Random(7)
    for trial in range(60):
        chans = [{"position": [f"{rng.uniform(0, 8):.3f} nm", f"{rng.uniform(0, 8):.3f} nm"],
                  "radius": f"{rng.choice([0.05, 0.2, 0.5, 1.5, 3.5]):g} nm",
                  "permeant": ["K+"]} for _ in range(rng.randint(2, 6))]
        t = tree()
        t["membranes"][0]["channels"] = chans
        xy = [(float(c["position"][0].split()[0]), float(c["position"][1].split()[0]),
               float(c["radius"].split()[0])) for c in chans]

        def overlap(a, b):
            dx = (a[0] - b[0] + 4) % 8 - 4
            dy = (a[1] - b[1] + 4) % 8 - 4
            return math.hypot(dx, dy) < a[2] + b[2]
        expected = any(overlap(xy[i], xy[j]) for i in range(len(xy)) for j in range(i))
        try:
            parse_scenario(t, "mixed.yaml")
            found = False
        except ScenarioError as err:
            found = "overlap" in err.detail
        assert found == expected, (trial, chans)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: Path(p).name)
def test_every_shipped_scenario_still_loads(path, capsys):
    sc = load_scenario(path)
    assert sc.name and len(sc.membranes) in (0, 2)
    code = main(["check", path])
    out, err = capsys.readouterr()
    assert code == 0 and "valid" in out, err


def test_anchor_reuse_repeats_the_membrane():
    raw = load_yaml(ROOT / "scenarios" / "selectivity.yaml")
    assert raw["membranes"][0] == raw["membranes"][1]
    sc = load_scenario(ROOT / "scenarios" / "selectivity.yaml")
    assert sc.membranes[0] == sc.membranes[1] and len(sc.membranes[0].channels) == 16


def test_merge_keys_still_work(tmp_path):
    path = tmp_path / "merge.yaml"
    membranes = ("membranes:\n"
                 "- &m\n"
                 "  thickness: 3 nm\n"
                 "  channels: [{count: 4, radius: 0.8 nm, permeant: [K+]}]\n"
                 "- <<: *m\n"
                 "  thickness: 2 nm\n")
    path.write_text(_base_text(membranes=None) + membranes)
    sc = load_scenario(path)
    assert [m.thickness for m in sc.membranes] == [3.0, 2.0]
    assert sc.membranes[0].channels == sc.membranes[1].channels


def test_name_defaults_to_a_plain_file_stem(tmp_path):
    path = tmp_path / "my scenario (v2).yaml"
    path.write_text(_dump(tree(name=None)))
    assert load_scenario(path).name == "my_scenario__v2_"


def test_read_scenario_uses_the_same_limits(tmp_path):
    (tmp_path / "scenario.yaml").write_text(_base_text() + "temperature: 300 K\n")
    with pytest.raises(ScenarioError, match="duplicate key"):
        read_scenario(tmp_path)


def test_file_size_cap_is_one_megabyte(tmp_path):
    path = tmp_path / "big.yaml"
    text = _base_text()
    path.write_text(text + "#" * (MAX_FILE_BYTES - len(text) - 1) + "\n")
    assert load_scenario(path).name == "test"  # exactly at the cap: read
    path.write_text(text + "#" * (MAX_FILE_BYTES - len(text)) + "\n")
    with pytest.raises(ScenarioError, match="refused unread"):
        load_scenario(path)


def test_brief_is_bounded_for_huge_shared_structures():
    a = ["lol"] * 9
    for _ in range(9):
        a = [a] * 9  # 9^10 strings if rendered in full
    start = time.perf_counter()
    text = brief({"k": a, "s": "x" * 10**6})
    assert len(text) <= 80 and time.perf_counter() - start < 0.1
    assert brief("two\nlines").count("\n") == 0


def test_quantity_errors_quote_a_prefix():
    t = tree(temperature="310 " + "K" * 10_000)
    with pytest.raises(ScenarioError) as err:
        parse_scenario(t, "t.yaml")
    assert len(str(err.value)) < 300 and err.value.key == "temperature"
    with pytest.raises(ScenarioError) as err:
        parse_scenario(tree(temperature=copy.deepcopy(BASE["compartments"]) * 1000), "t.yaml")
    assert len(str(err.value)) < 300


def test_the_largest_resolved_scenario_reads_back(tmp_path):
    """run_dir/scenario.yaml lists every channel of a grid; at the channel caps it holds more
    values than a scenario file may, and read_scenario allows for that."""
    from sim.io import write_scenario
    from sim.scenario import MAX_CHANNELS
    t = _with("box", {"lateral": "1000 nm"})
    for m in t["membranes"]:
        m["channels"][0]["count"] = MAX_CHANNELS // 2
    sc = parse_scenario(t, "max.yaml")
    write_scenario(tmp_path, sc)
    with pytest.raises(ScenarioError, match="more than 100000 values"):
        load_yaml(tmp_path / "scenario.yaml")
    start = time.perf_counter()
    back = read_scenario(tmp_path)
    assert sum(len(m.channels) for m in back.membranes) == MAX_CHANNELS
    assert time.perf_counter() - start < 4 * HANG_GUARD_S  # a hang guard; about 2 s
    t["membranes"].append(t["membranes"][0])
    t["compartments"].append(dict(t["compartments"][0], name="third"))
    with pytest.raises(ScenarioError, match=f"more than {MAX_CHANNELS} channels in all"):
        parse_scenario(t, "over.yaml")
